"""Topic: publish validation, envelopes, raw delivery, FIFO, subscriptions, failures."""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import pydoc
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from mqlite import Attribute, Broker, ManualClock, Notification, PublishEntry, Queue, Subscription
from mqlite.errors import InvalidParameter, MqliteError, NotFound, ParameterValueInvalid
from mqlite.topic import RetryPolicy, Topic

ARN = "arn:aws:sns:us-east-1:000000000000:"


def body_of(q: Queue) -> str:
    [m] = q.receive()
    q.delete(m)
    return m.body


# --- names and publish validation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fifo"),
    [
        ("", None),
        ("a" * 257, None),
        ("test.fifo", False),
        ("test", True),
        ("a:b", None),
        ("a b", None),
        ("a%b", None),
    ],
)
def test_bad_topic_names(name: str, fifo: bool | None) -> None:
    with pytest.raises(InvalidParameter, match=r"^Invalid parameter: Topic Name$"):
        Topic(name, fifo=fifo)


def test_names_and_arn() -> None:
    assert Topic("a" * 256).arn == ARN + "a" * 256
    t = Topic("t.fifo")
    assert t.fifo
    assert t.arn == ARN + "t.fifo"


LONG = "x" * 262_144


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"message": "m", "subject": ""}, InvalidParameter, "Invalid parameter: Subject"),
        (
            {"message": "m", "subject": "s" * 100},
            InvalidParameter,
            "Invalid parameter: Subject Reason: Subject must be less than 100 characters of"
            " UTF-8 text without line breaks or control characters",
        ),
        ({"message": ""}, InvalidParameter, "Invalid parameter: Empty message"),
        ({"message": LONG + "x"}, InvalidParameter, "Invalid parameter: Message too long"),
        (
            {"message": LONG[:-4], "attributes": {"ab": "cd"}},
            InvalidParameter,
            "Invalid parameter: Message too long",
        ),
        (
            {"message": "m", "attributes": {"a" * 257: "v"}},
            ParameterValueInvalid,
            "Length of message attribute name must be less than 256 bytes.",
        ),
        (
            {"message": "m", "attributes": {"a^*?": "v"}},
            ParameterValueInvalid,
            "Invalid non-alphanumeric character '#x5E' was found in the message attribute name."
            " Can only include alphanumeric characters, hyphens, underscores, or dots.",
        ),
        (
            {"message": "m", "attributes": {".abc": "v"}},
            ParameterValueInvalid,
            "Invalid message attribute name starting with character '.' was found.",
        ),
        (
            {"message": "m", "attributes": {"abc.": "v"}},
            ParameterValueInvalid,
            "Invalid message attribute name ending with character '.' was found.",
        ),
        (
            {"message": "m", "attributes": {"a..bc": "v"}},
            ParameterValueInvalid,
            "Message attribute name can not have successive '.' character.",
        ),
        (
            {"message": "m", "attributes": {"attr1": Attribute("Stringprefixed", "v")}},
            ParameterValueInvalid,
            "The message attribute 'attr1' has an invalid message attribute type, the set of"
            " supported type prefixes is Binary, Number, and String.",
        ),
        (
            {"message": "m", "attributes": {"attr1": Attribute("String.", "v")}},
            ParameterValueInvalid,
            "The message attribute 'attr1' has an invalid message attribute type, the set of"
            " supported type prefixes is Binary, Number, and String.",
        ),
        (
            {"message": "m", "attributes": {"attr1": ""}},
            ParameterValueInvalid,
            "The message attribute 'attr1' must contain non-empty message attribute value for"
            " message attribute type 'String'.",
        ),
        (
            {"message": "m", "attributes": {"attr1": Attribute("Binary", "x")}},
            ParameterValueInvalid,
            "The message attribute 'attr1' with type 'Binary' must use field 'Binary'.",
        ),
        (
            {"message": "m", "attributes": {"attr1": Attribute("Number", b"1")}},
            ParameterValueInvalid,
            "The message attribute 'attr1' with type 'Number' must use field 'String'.",
        ),
        (
            {"message": "m", "attributes": {"attr1": Attribute("Number", "abc")}},
            ParameterValueInvalid,
            "Could not cast message attribute 'attr1' value to number.",
        ),
        (
            {"message": "m", "deduplication_id": "d"},
            InvalidParameter,
            "Invalid parameter: MessageDeduplicationId Reason: The request includes"
            " MessageDeduplicationId parameter that is not valid for this topic type",
        ),
        (
            {"message": "m", "message_structure": "json"},
            InvalidParameter,
            "Invalid parameter: Message Structure - JSON message body failed to parse",
        ),
        (
            {"message": '"str"', "message_structure": "json"},
            InvalidParameter,
            "Invalid parameter: Message Structure - JSON message body failed to parse",
        ),
        (
            {"message": '{"sqs": "x"}', "message_structure": "json"},
            InvalidParameter,
            "Invalid parameter: Message Structure - No default entry in JSON message body",
        ),
    ],
)
def test_publish_validation(kwargs: dict[str, object], error: type[Exception], text: str) -> None:
    t = Topic("t")
    q = Queue("q")
    t.subscribe(q)
    with pytest.raises(error) as info:
        t.publish(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == text
    assert q.stats().total == 0


def test_subject_of_99_characters_accepted(broker: Broker) -> None:
    t = broker.create_topic("t")
    q = broker.create_queue("q")
    t.subscribe(q)
    t.publish("m", subject="s" * 99)
    assert json.loads(q.receive()[0].body)["Subject"] == "s" * 99


def test_size_boundary_counts_attributes() -> None:
    t = Topic("t")
    t.publish(LONG)
    # name (1) + type "String" (6) + value (1) = 8 bytes
    t.publish(LONG[:-8], attributes={"a": "b"})
    with pytest.raises(InvalidParameter):
        t.publish(LONG[:-7], attributes={"a": "b"})


@pytest.mark.moto_differs("moto accepts a String.Array value that is not a JSON array")
def test_custom_types_and_string_array_accepted(broker: Broker) -> None:
    t = broker.create_topic("t")
    t.publish(
        "m",
        attributes={
            "a": Attribute("String.prefixed", "v"),
            "b": Attribute("String.Array", '["x", 1, true, null]'),
            "c": ["y", 2],
        },
    )
    with pytest.raises(ParameterValueInvalid):
        t.publish("m", attributes={"b": Attribute("String.Array", "not json")})


def test_fifo_validation() -> None:
    t = Topic("t.fifo")
    with pytest.raises(InvalidParameter) as info:
        t.publish("m", deduplication_id="d")
    assert str(info.value) == (
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    )
    with pytest.raises(InvalidParameter) as info:
        t.publish("m", group_id="g")
    assert str(info.value) == (
        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or"
        " MessageDeduplicationId provided explicitly"
    )


# --- envelope -----------------------------------------------------------------------------------


def test_envelope_keys_in_aws_order() -> None:
    clock = ManualClock(1_704_067_200.123)
    t = Topic("t", clock=clock)
    q = Queue("q", clock=clock)
    sub = t.subscribe(q)
    result = t.publish(
        "hello",
        subject="subj",
        attributes={
            "s": "v",
            "n": 100.5,
            "b": b"\x02\x03\x04",
            "arr": Attribute("String.Array", '["a","b"]'),
        },
    )
    env = json.loads(body_of(q))
    assert list(env) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
        "MessageAttributes",
    ]
    assert env["Type"] == "Notification"
    assert env["MessageId"] == result.message_id
    assert env["TopicArn"] == t.arn
    assert env["Message"] == "hello"
    assert env["Timestamp"] == "2024-01-01T00:00:00.123Z"
    assert env["SignatureVersion"] == "1"
    canonical = (
        f"Message\nhello\nMessageId\n{result.message_id}\nSubject\nsubj\n"
        f"Timestamp\n2024-01-01T00:00:00.123Z\nTopicArn\n{t.arn}\nType\nNotification\n"
    )
    assert env["Signature"] == base64.b64encode(hashlib.sha1(canonical.encode()).digest()).decode()
    assert env["SigningCertURL"].startswith("https://sns.us-east-1.amazonaws.com/")
    assert env["UnsubscribeURL"] == (
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + sub.arn
    )
    assert env["MessageAttributes"] == {
        "s": {"Type": "String", "Value": "v"},
        "n": {"Type": "Number", "Value": "100.5"},
        "b": {"Type": "Binary", "Value": "AgME"},
        "arr": {"Type": "String.Array", "Value": '["a","b"]'},
    }
    assert sub.arn.startswith(t.arn + ":")


def test_envelope_without_subject_or_attributes() -> None:
    t = Topic("t")
    q = Queue("q")
    t.subscribe(q)
    t.publish("x")
    env = json.loads(body_of(q))
    assert "Subject" not in env
    assert "MessageAttributes" not in env


def test_fifo_envelope_has_sequence_and_no_signature() -> None:
    t = Topic("t.fifo", content_based_deduplication=True)
    q = Queue("q.fifo")
    t.subscribe(q)
    r = t.publish("Test", group_id="g")
    [m] = q.receive()
    env = json.loads(m.body)
    assert list(env) == [
        "Type",
        "MessageId",
        "SequenceNumber",
        "TopicArn",
        "Message",
        "Timestamp",
        "UnsubscribeURL",
    ]
    assert env["SequenceNumber"] == r.sequence_number
    assert m.group_id == "g"
    assert m.deduplication_id == (
        "532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25"
    )


def test_message_structure_per_protocol() -> None:
    t = Topic("t")
    q = Queue("q")
    got: list[Notification] = []
    t.subscribe(q)
    t.subscribe(got.append)
    t.publish(
        json.dumps({"default": "d", "sqs": '{"field": "value"}', "lambda": "L"}),
        message_structure="json",
    )
    assert json.loads(body_of(q))["Message"] == '{"field": "value"}'
    assert got[0].message == "L"
    t.publish(json.dumps({"default": "d"}), message_structure="json")
    assert json.loads(body_of(q))["Message"] == "d"
    assert got[1].message == "d"


# --- raw delivery ---------------------------------------------------------------------------------


def test_raw_delivery() -> None:
    t = Topic("t")
    q = Queue("q")
    t.subscribe(q, raw_message_delivery=True)
    t.publish(
        "Test msg", attributes={"s": "v", "b": b"\x01", "arr": Attribute("String.Array", "[1]")}
    )
    [m] = q.receive()
    assert m.body == "Test msg"
    assert m.attributes == {
        "s": Attribute("String", "v"),
        "b": Attribute("Binary", b"\x01"),
        "arr": Attribute("String.Array", "[1]"),
    }


# --- FIFO ----------------------------------------------------------------------------------


@pytest.mark.moto_differs("moto answers a FIFO topic's Publish without a SequenceNumber")
def test_fifo_passes_ids_and_keeps_order(broker: Broker) -> None:
    t = broker.create_topic("t.fifo")
    q = broker.create_queue("q.fifo")
    t.subscribe(q, raw_message_delivery=True)
    seqs = [
        t.publish(f"m{i}", group_id="g", deduplication_id=f"d{i}").sequence_number or ""
        for i in range(5)
    ]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 5
    got: list[tuple[str, str | None, str | None]] = []
    while len(got) < 5:
        for m in q.receive(10):
            got.append((m.body, m.group_id, m.deduplication_id))
            q.delete(m)
    assert got == [(f"m{i}", "g", f"d{i}") for i in range(5)]


def test_dedup_window_with_manual_clock() -> None:
    clock = ManualClock()
    t = Topic("t.fifo", clock=clock, content_based_deduplication=True)
    got: list[Notification] = []
    t.subscribe(got.append)
    first = t.publish("same", group_id="g")
    again = t.publish("same", group_id="g")
    assert again.message_id == first.message_id
    assert len(got) == 1
    clock.advance(299)
    t.publish("same", group_id="g")
    assert len(got) == 1
    clock.advance(1)
    third = t.publish("same", group_id="g")
    assert third.message_id != first.message_id
    assert len(got) == 2
    assert got[1].deduplication_id == hashlib.sha256(b"same").hexdigest()


# --- subscriptions ------------------------------------------------------------------------------


def test_subscribe_idempotent_and_conflicts() -> None:
    t = Topic("t")
    q = Queue("q")
    s = t.subscribe(q, filter_policy={"a": ["b"]})
    assert t.subscribe(q) is s
    assert t.subscribe(q, filter_policy='{"a": ["b"]}') is s
    assert t.subscribe(q, filter_policy_scope="MessageAttributes") is s
    assert t.subscribe(q, raw_message_delivery="False") is s
    with pytest.raises(InvalidParameter) as info:
        t.subscribe(q, raw_message_delivery=True)
    assert str(info.value) == (
        "Invalid parameter: Attributes Reason: Subscription already exists with different"
        " attributes"
    )
    assert t.subscriptions == [s]


def test_subscribe_errors() -> None:
    t = Topic("t")
    with pytest.raises(InvalidParameter) as info:
        t.subscribe(Queue("q.fifo"))
    assert str(info.value) == (
        "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be"
        " subscribed to standard SNS topics"
    )
    with pytest.raises(InvalidParameter) as info:
        t.subscribe(Queue("q"), filter_policy={"a": "b"})
    assert str(info.value).startswith("Invalid parameter: Attributes Reason: FilterPolicy: ")
    with pytest.raises(InvalidParameter) as info:
        t.subscribe(Queue("q"), filter_policy_scope="RandomValue")
    assert str(info.value) == (
        "Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid value [RandomValue]."
        " Please use either MessageBody or MessageAttributes"
    )
    with pytest.raises(InvalidParameter) as info:
        t.subscribe(Queue("q"), raw_message_delivery="yes")
    assert str(info.value) == (
        "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [yes]. Must be"
        " true or false."
    )
    ft = Topic("f.fifo")
    with pytest.raises(InvalidParameter, match="must use a FIFO queue as DLQ"):
        ft.subscribe(Queue("q.fifo"), dead_letter_queue=Queue("dlq"))
    assert t.subscriptions == []
    assert ft.subscriptions == []


def test_configure_validates_first_and_applies() -> None:
    t = Topic("t")
    q = Queue("q")
    s = t.subscribe(q, filter_policy={"a": ["b"]})
    with pytest.raises(InvalidParameter) as info:
        s.configure(raw_message_delivery=True, filter_policy={"x": "bad"})
    assert str(info.value).startswith("Invalid parameter: FilterPolicy: ")
    assert s.raw_message_delivery is False
    assert s.filter_policy is not None
    with pytest.raises(InvalidParameter, match=r"^Invalid parameter: AttributeName$"):
        s.configure(colour="red")
    nested = {"a": {"b": ["c"]}}
    with pytest.raises(InvalidParameter):
        s.configure(filter_policy=nested)
    s.configure(filter_policy=nested, filter_policy_scope="MessageBody")
    assert s.filter_policy_scope == "MessageBody"
    t.publish(json.dumps({"a": {"b": "c"}}))
    t.publish(json.dumps({"a": {"b": "x"}}))
    assert json.loads(body_of(q))["Message"] == '{"a": {"b": "c"}}'
    assert q.stats().total == 0
    s.configure(filter_policy="")
    assert s.filter_policy is None
    t.publish("anything")
    assert json.loads(body_of(q))["Message"] == "anything"


def test_unsubscribe_idempotent() -> None:
    t = Topic("t")
    q = Queue("q")
    s = t.subscribe(q)
    s.unsubscribe()
    t.unsubscribe(s)
    assert t.subscriptions == []
    assert not s.active
    t.publish("x")
    assert q.stats().total == 0
    with pytest.raises(NotFound):
        s.configure(raw_message_delivery=True)
    assert t.subscribe(q) is not s


# --- failures -------------------------------------------------------------------------------------


def test_failing_subscribers_are_isolated() -> None:
    t = Topic("t")
    got: list[str] = []
    dead = Queue("gone")
    dead._mark_deleted()

    def boom(n: Notification) -> None:
        raise RuntimeError("boom")

    t.subscribe(boom)
    t.subscribe(dead)
    t.subscribe(lambda n: got.append(n.message))
    t.publish("hi")
    assert got == ["hi"]
    boom_sub, dead_sub, ok_sub = t.subscriptions
    assert boom_sub.failed == 1
    assert isinstance(boom_sub.last_error, RuntimeError)
    assert boom_sub.failures[0].attempts == 3
    assert dead_sub.failed == 1
    assert dead_sub.failures[0].attempts == 1
    assert ok_sub.delivered == 1
    assert ok_sub.failed == 0


def test_retries_then_success() -> None:
    t = Topic("t", retry_policy=RetryPolicy(attempts=3))
    calls: list[int] = []

    def flaky(n: Notification) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("not yet")

    s = t.subscribe(flaky)
    t.publish("x")
    assert len(calls) == 3
    assert s.delivered == 1
    assert s.failed == 0


@pytest.mark.parametrize("raw", [False, True])
def test_retries_then_dlq_with_exact_payload(raw: bool) -> None:
    t = Topic("t", retry_policy=RetryPolicy(attempts=2))
    dlq = Queue("dlq")
    calls: list[Notification] = []

    def bad(n: Notification) -> None:
        calls.append(n)
        raise ValueError("nope")

    s = t.subscribe(bad, dead_letter_queue=dlq, raw_message_delivery=raw)
    r = t.publish("payload", subject="S", attributes={"k": "v"})
    assert len(calls) == 2
    assert calls[0] == calls[1]
    [m] = dlq.receive()
    if raw:
        assert m.body == "payload"
        assert m.attributes == {"k": Attribute("String", "v")}
    else:
        env = json.loads(m.body)
        assert env["MessageId"] == r.message_id
        assert env["Message"] == "payload"
        assert env["Subject"] == "S"
        assert env["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
        assert env["UnsubscribeURL"].endswith(s.arn)
    assert s.failed == 1
    assert s.dead_lettered == 1
    assert s.failures[0].dead_lettered


def test_rejecting_queue_goes_to_dlq_without_retry() -> None:
    t = Topic("t")
    small = Queue("small", max_message_size=1024)
    dlq = Queue("dlq")
    s = t.subscribe(small, dead_letter_queue=dlq, raw_message_delivery=True)
    t.publish("y" * 2000)
    assert small.stats().total == 0
    assert body_of(dlq) == "y" * 2000
    assert s.failures[0].attempts == 1
    assert s.dead_lettered == 1


@pytest.mark.parametrize(
    "attributes",
    [
        {"big": Attribute("Number", "1e200")},  # SNS takes it; SQS allows up to 10^126
        {f"a{i}": "v" for i in range(11)},  # SNS takes 11; an SQS message holds 10
    ],
)
def test_raw_message_the_dlq_refuses_goes_in_as_the_envelope(
    attributes: dict[str, object],
) -> None:
    t = Topic("t")
    q = Queue("q")
    dlq = Queue("dlq")
    s = t.subscribe(q, dead_letter_queue=dlq, raw_message_delivery=True)
    r = t.publish("payload", attributes=attributes)
    assert q.stats().total == 0  # the queue refused the raw message
    [m] = dlq.receive()
    env = json.loads(m.body)
    assert (env["MessageId"], env["Message"]) == (r.message_id, "payload")
    assert set(env["MessageAttributes"]) == set(attributes)
    assert m.attributes == {}
    assert (s.failed, s.dead_lettered) == (1, 1)


def test_failure_without_dlq_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    t = Topic("t", retry_policy=RetryPolicy(attempts=1))

    def bad(n: Notification) -> None:
        raise RuntimeError("x")

    s = t.subscribe(bad)
    t.publish("m")
    assert s.failed == 1
    assert not s.failures[0].dead_lettered
    assert any("failed after 1 attempt" in r.getMessage() for r in caplog.records)


# --- batch --------------------------------------------------------------------------------------


def test_publish_batch(broker: Broker) -> None:
    t = broker.create_topic("t")
    q = broker.create_queue("q")
    t.subscribe(q, raw_message_delivery=True)
    res = t.publish_batch([PublishEntry("a", "one"), PublishEntry("b", "two")])
    assert [r.id for r in res.successful] == ["a", "b"]
    assert res.failed == []
    assert sorted(m.body for m in q.receive(10)) == ["one", "two"]


@pytest.mark.parametrize(
    ("entries", "code", "text"),
    [
        ([], "EmptyBatchRequest", None),
        (
            [PublishEntry(str(i), "m") for i in range(11)],
            "TooManyEntriesInBatchRequest",
            "The batch request contains more entries than permissible.",
        ),
        (
            [PublishEntry("a", "m"), PublishEntry("a", "m")],
            "BatchEntryIdsNotDistinct",
            "Two or more batch entries in the request have the same Id.",
        ),
        (
            [PublishEntry("a" * 81, "m")],
            "InvalidBatchEntryId",
            "The Id of a batch entry in the batch request is too long: " + "a" * 81,
        ),
        (
            [PublishEntry("a!", "m")],
            "InvalidBatchEntryId",
            "The Id of a batch entry in the batch request contains an impermissible character: a!",
        ),
        (
            [PublishEntry("a", "x" * 200_000), PublishEntry("b", "x" * 70_000)],
            "BatchRequestTooLong",
            "The length of all the messages put together is more than the limit.",
        ),
        (
            [PublishEntry("a", "m"), PublishEntry("b", "m", message_structure="json")],
            "InvalidParameter",
            "Invalid parameter: Message Structure - JSON message body failed to parse",
        ),
    ],
)
def test_publish_batch_errors(entries: list[PublishEntry], code: str, text: str | None) -> None:
    t = Topic("t")
    q = Queue("q")
    t.subscribe(q)
    with pytest.raises(MqliteError) as info:
        t.publish_batch(entries)
    assert getattr(info.value, "code", None) == code
    if text is not None:
        assert str(info.value) == text
    assert q.stats().total == 0


# --- executor and threads -------------------------------------------------------------------------


def test_executor_mode() -> None:
    with ThreadPoolExecutor(4) as pool:
        t = Topic("t", executor=pool)
        got: list[str] = []
        lock = threading.Lock()

        def sink(n: Notification) -> None:
            with lock:
                got.append(n.message)

        t.subscribe(sink)
        for i in range(50):
            t.publish(str(i))
        assert t.flush(timeout=10)
    assert sorted(got, key=int) == [str(i) for i in range(50)]


def test_concurrent_publishers_every_subscriber_gets_everything() -> None:
    t = Topic("t")
    sinks: list[list[str]] = [[] for _ in range(5)]
    locks = [threading.Lock() for _ in sinks]
    for sink, lock in zip(sinks, locks, strict=True):

        def add(n: Notification, sink: list[str] = sink, lock: threading.Lock = lock) -> None:
            with lock:
                sink.append(n.message)

        t.subscribe(add)
    q = Queue("q")
    t.subscribe(q, raw_message_delivery=True)

    def worker(k: int) -> None:
        for i in range(200):
            t.publish(f"{k}-{i}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    expected = sorted(f"{k}-{i}" for k in range(8) for i in range(200))
    for sink in sinks:
        assert sorted(sink) == expected
    assert q.stats().visible == len(expected)


def test_fifo_concurrent_publishers_keep_sequence_order() -> None:
    t = Topic("t.fifo", content_based_deduplication=True)
    seen: list[str] = []
    t.subscribe(lambda n: seen.append(n.sequence_number or ""))

    def worker(k: int) -> None:
        for i in range(100):
            t.publish(f"{k}-{i}", group_id="g")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(seen) == 400
    assert seen == sorted(seen)


def test_fifo_subscriber_may_call_back_into_topic_while_others_publish() -> None:
    t = Topic("t.fifo", content_based_deduplication=True)
    seen: list[str] = []

    def sink(n: Notification) -> None:
        assert t.subscriptions  # takes the topic lock during delivery
        seen.append(n.message)
        if n.message.endswith("-0"):
            t.publish(n.message + "-echo", group_id="g")  # re-entrant publish

    t.subscribe(sink)

    def worker(k: int) -> None:
        for i in range(50):
            t.publish(f"{k}-{i}", group_id="g")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=20)
        assert not th.is_alive(), "deadlock"
    assert len(seen) == 4 * 50 + 4


def test_unsubscribe_of_another_topics_subscription_is_ignored() -> None:
    a, b = Topic("a"), Topic("b")
    q = Queue("q")
    sa = a.subscribe(q)
    b.unsubscribe(sa)
    assert sa.active
    assert a.subscriptions == [sa]


def test_concurrent_configure_calls_both_apply() -> None:
    """Two configure calls on one subscription from two threads: neither is lost."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so the calls interleave
    try:
        for _ in range(200):
            t = Topic("t")
            sub = t.subscribe(lambda n: None)
            dlq = Queue("dlq")
            barrier = threading.Barrier(2)

            def set_dlq(
                s: Subscription = sub, q: Queue = dlq, b: threading.Barrier = barrier
            ) -> None:
                b.wait(5)
                s.configure(dead_letter_queue=q)

            def set_policy(s: Subscription = sub, b: threading.Barrier = barrier) -> None:
                b.wait(5)
                s.configure(filter_policy={"kind": ["x"]})

            threads = [threading.Thread(target=set_dlq), threading.Thread(target=set_policy)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(5)
            assert sub.dead_letter_queue is dlq
            assert sub.filter_policy is not None
    finally:
        sys.setswitchinterval(interval)


def test_fifo_publish_from_a_subscriber_is_delivered_in_sequence_order() -> None:
    t = Topic("t.fifo", content_based_deduplication=True)
    q = Queue("q.fifo")

    def echo(n: Notification) -> None:
        if n.message == "first":
            t.publish("second", group_id="g")  # while "first" is still being delivered

    t.subscribe(echo)
    t.subscribe(q, raw_message_delivery=True)  # after the echo in subscription order
    t.publish("first", group_id="g")
    # Every subscriber sees sequence order: "first" reached the queue before "second".
    assert [m.body for m in q.receive(10)] == ["first", "second"]


def test_fifo_topics_publishing_to_each_other_from_two_threads() -> None:
    a, b = Topic("a.fifo"), Topic("b.fifo")
    both = threading.Barrier(2)
    got: dict[str, list[str]] = {"a": [], "b": []}

    def make(name: str, other: Topic) -> Callable[[Notification], None]:
        def subscriber(n: Notification) -> None:
            got[name].append(n.message)
            if n.message.startswith("orig"):
                both.wait(5)  # both threads are inside a delivery now
                other.publish(f"echo of {n.message}", group_id="g", deduplication_id=n.message)

        return subscriber

    a.subscribe(make("a", b))
    b.subscribe(make("b", a))
    threads = [
        threading.Thread(
            target=a.publish, args=("orig-a",), kwargs={"group_id": "g", "deduplication_id": "1"}
        ),
        threading.Thread(
            target=b.publish, args=("orig-b",), kwargs={"group_id": "g", "deduplication_id": "2"}
        ),
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
        assert not th.is_alive(), "deadlocked"
    assert got == {"a": ["orig-a", "echo of orig-b"], "b": ["orig-b", "echo of orig-a"]}


def test_fifo_publish_is_delivered_by_flush_with_concurrent_publishers() -> None:
    """A publish returns once accepted (another thread may be delivering it); once flush
    returns True, it has been delivered."""
    t = Topic("t.fifo", content_based_deduplication=True)
    seen: list[str] = []
    lock = threading.Lock()

    def slow(n: Notification) -> None:
        with lock:
            seen.append(n.message)

    t.subscribe(slow)
    errors: list[str] = []

    def publisher(p: int) -> None:
        for i in range(200):
            body = f"p{p}-{i}"
            t.publish(body, group_id=f"g{p}")
            flushed = t.flush(timeout=5)
            with lock:
                if not flushed or body not in seen:
                    errors.append(body)  # flush returned before it was delivered

    threads = [threading.Thread(target=publisher, args=(p,)) for p in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
        assert not th.is_alive()
    assert errors == []
    assert len(seen) == 800
    for p in range(4):  # each publisher's messages in its own order
        mine = [s for s in seen if s.startswith(f"p{p}-")]
        assert mine == [f"p{p}-{i}" for i in range(200)]


def test_fifo_subscriber_may_publish_from_another_thread_and_join_it() -> None:
    """A publish made by a thread the subscriber waits for returns once it is accepted;
    the delivering thread delivers it after the current message."""
    t = Topic("t.fifo", content_based_deduplication=True)
    q = Queue("q.fifo")
    joined: list[bool] = []

    def subscriber(n: Notification) -> None:
        if n.message == "first":
            helper = threading.Thread(
                target=t.publish, args=("second",), kwargs={"group_id": "g"}, daemon=True
            )
            helper.start()
            helper.join(timeout=2)
            joined.append(not helper.is_alive())

    t.subscribe(subscriber)
    t.subscribe(q, raw_message_delivery=True)
    t.publish("first", group_id="g")
    assert joined == [True]
    assert [m.body for m in q.receive(10)] == ["first", "second"]


def test_fifo_subscriber_may_publish_through_an_executor_and_wait() -> None:
    """The same through an executor with a timeout: nothing fails, nothing is redelivered."""
    t = Topic("t.fifo", content_based_deduplication=True, retry_policy=RetryPolicy(attempts=2))
    calls: list[str] = []
    with ThreadPoolExecutor(1) as pool:

        def subscriber(n: Notification) -> None:
            calls.append(n.message)
            if n.message == "first":
                pool.submit(t.publish, "second", group_id="g").result(timeout=1)

        sub = t.subscribe(subscriber)
        t.publish("first", group_id="g")
    assert calls == ["first", "second"]
    assert (sub.delivered, sub.failed) == (2, 0)


def test_fifo_flush_waits_for_messages_another_thread_delivers() -> None:
    """A publish that finds another thread delivering returns at once; flush waits for it."""
    t = Topic("t.fifo", content_based_deduplication=True)
    seen: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def subscriber(n: Notification) -> None:
        if n.message == "first":
            inside.set()
            release.wait(5)
        seen.append(n.message)

    t.subscribe(subscriber)
    drainer = threading.Thread(target=t.publish, args=("first",), kwargs={"group_id": "g"})
    drainer.start()
    try:
        assert inside.wait(5)
        t.publish("second", group_id="g")  # returns while "first" is still being delivered
        assert seen == []
        assert not t.flush(timeout=0)  # not delivered yet
    finally:
        release.set()
    assert t.flush(timeout=5)
    assert seen == ["first", "second"]
    drainer.join(5)
    assert not drainer.is_alive()


def test_subscribe_signature_is_clean() -> None:
    """No private sentinel in the signature or in help(); every setting defaults to None."""
    signature = inspect.signature(Topic.subscribe)
    settings = ["filter_policy", "filter_policy_scope", "raw_message_delivery", "dead_letter_queue"]
    assert [signature.parameters[name].default for name in settings] == [None] * 4
    shown = str(signature) + pydoc.plain(pydoc.render_doc(Topic.subscribe))
    assert "_Unset" not in shown
    assert "<default>" not in shown


def test_subscribe_settings_left_out_are_not_compared() -> None:
    t = Topic("t")
    q, dlq = Queue("q"), Queue("dlq")
    s = t.subscribe(q, filter_policy={"a": ["b"]}, raw_message_delivery=True, dead_letter_queue=dlq)
    assert t.subscribe(q) is s
    assert t.subscribe(q, filter_policy=None, dead_letter_queue=None) is s  # left out
    with pytest.raises(InvalidParameter, match="different attributes"):
        t.subscribe(q, filter_policy="")  # "" is no policy: compared
    fresh = t.subscribe(Queue("fresh"))
    assert (fresh.filter_policy, fresh.filter_policy_scope) == (None, "MessageAttributes")
    assert (fresh.raw_message_delivery, fresh.dead_letter_queue) == (False, None)


@pytest.mark.parametrize("workers", [0, 2], ids=["synchronous", "executor"])
def test_flush_inside_a_fifo_delivery_does_not_wait(workers: int) -> None:
    """What flush would wait for is queued behind the delivery calling it: it says so."""
    pool = ThreadPoolExecutor(workers) if workers else None
    t = Topic("t.fifo", content_based_deduplication=True, executor=pool)
    flushed: list[bool] = []

    def subscriber(n: Notification) -> None:
        if n.message == "first":
            t.publish("second", group_id="g")
            flushed.append(t.flush())  # no timeout: must not wait for "second"

    t.subscribe(subscriber)
    publisher = threading.Thread(
        target=t.publish, args=("first",), kwargs={"group_id": "g"}, daemon=True
    )
    publisher.start()
    publisher.join(timeout=5)
    assert not publisher.is_alive()
    assert t.flush(timeout=5)
    assert flushed == [False]
    if pool is not None:
        pool.shutdown()


def test_flush_inside_a_standard_executor_delivery_does_not_wait_for_itself() -> None:
    pool = ThreadPoolExecutor(1)
    t = Topic("t", executor=pool)
    flushed: list[bool] = []
    published, done = threading.Event(), threading.Event()

    def subscriber(n: Notification) -> None:
        published.wait(5)  # publish has returned: this task is among the pending ones
        flushed.append(t.flush())  # no timeout
        done.set()

    t.subscribe(subscriber)
    t.publish("x")
    published.set()
    assert done.wait(5), "flush inside the delivery waited for itself"
    assert flushed == [False]
    assert t.flush(timeout=5)
    pool.shutdown()
