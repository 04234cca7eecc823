"""Topic delivery is byte-identical to the previous, straightforward implementation.

The topic now builds the envelope from pre-encoded pieces, prepares a raw delivery once
per publish (checks and MD5s) and hands queues prepared sends. The
reference below is the earlier code, kept verbatim: the envelope as ``json.dumps`` of
the document, every message sent through ``Queue.send``. Each test compares the new
path's output (bodies, MD5s, attributes, ids, errors) with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqlite import Attribute, ManualClock, Notification, PublishEntry, Queue
from mqlite import _validation as v
from mqlite._envelope import EnvelopeWriter, attributes_json, iso_timestamp
from mqlite._sns_validation import (
    check_attribute,
    check_attribute_name,
    normalize_attributes,
    to_attribute,
)
from mqlite.errors import MqliteError
from mqlite.message import Message, md5_of_attributes, md5_of_body
from mqlite.topic import RetryPolicy, Subscription, Topic

# --- the reference: the previous implementation, verbatim ---------------------------------


def ref_iso_timestamp(epoch_ms: int) -> str:
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def ref_signing_cert_url(region: str) -> str:
    cert = hashlib.md5(b"mqlite-fake-signing-cert").hexdigest()
    return f"https://sns.{region}.amazonaws.com/SimpleNotificationService-{cert}.pem"


def ref_fake_signature(
    message: str, message_id: str, subject: str | None, timestamp: str, topic_arn: str
) -> str:
    canonical = f"Message\n{message}\nMessageId\n{message_id}\n"
    if subject is not None:
        canonical += f"Subject\n{subject}\n"
    canonical += f"Timestamp\n{timestamp}\nTopicArn\n{topic_arn}\nType\nNotification\n"
    digest = hashlib.sha1(canonical.encode("utf-8", "surrogatepass")).digest()
    return base64.b64encode(digest).decode("ascii")


def ref_envelope_attributes(attributes: Mapping[str, Attribute]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, attr in attributes.items():
        value = attr.value
        text = base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
        out[name] = {"Type": attr.data_type, "Value": text}
    return out


def ref_envelope_parts(
    *,
    message: str,
    message_id: str,
    topic_arn: str,
    subject: str | None,
    timestamp: str,
    region: str,
    fifo: bool,
    sequence_number: str | None,
    signature: str | None,
    attributes: Mapping[str, Attribute],
) -> tuple[str, str]:
    doc: dict[str, object] = {"Type": "Notification", "MessageId": message_id}
    if fifo and sequence_number is not None:
        doc["SequenceNumber"] = sequence_number
    doc["TopicArn"] = topic_arn
    if subject is not None:
        doc["Subject"] = subject
    doc["Message"] = message
    doc["Timestamp"] = timestamp
    if not fifo:
        doc["SignatureVersion"] = "1"
        doc["Signature"] = signature
        doc["SigningCertURL"] = ref_signing_cert_url(region)
    head = json.dumps(doc)[:-1] + ', "UnsubscribeURL": '
    tail = "}"
    if attributes:
        tail = ', "MessageAttributes": ' + json.dumps(ref_envelope_attributes(attributes)) + "}"
    return head, tail


def ref_envelope(
    topic: Topic,
    sub: Subscription,
    text: str,
    message_id: str,
    timestamp_ms: int,
    subject: str | None = None,
    sequence_number: str | None = None,
    attributes: Mapping[str, Attribute] | None = None,
) -> str:
    """The body the previous implementation sent for a non-raw delivery."""
    timestamp = ref_iso_timestamp(timestamp_ms)
    signature = None
    if not topic.fifo:
        signature = ref_fake_signature(text, message_id, subject, timestamp, topic.arn)
    head, tail = ref_envelope_parts(
        message=text,
        message_id=message_id,
        topic_arn=topic.arn,
        subject=subject,
        timestamp=timestamp,
        region=topic._region,
        fifo=topic.fifo,
        sequence_number=sequence_number,
        signature=signature,
        attributes=attributes or {},
    )
    unsubscribe = f"https://sns.{topic._region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
    return head + json.dumps(unsubscribe + sub.arn) + tail


def ref_normalize(attributes: Mapping[str, Any] | None) -> dict[str, Attribute]:
    """The topic's attribute normalisation before its shortcuts."""
    out: dict[str, Attribute] = {}
    for name, raw in (attributes or {}).items():
        check_attribute_name(name)
        attr = to_attribute(name, raw)
        check_attribute(name, attr)
        out[name] = attr
    return out


def twin(message: Message, body: str, attributes: Mapping[str, Attribute] | None) -> None:
    """Assert *message* is what ``Queue.send(body, attributes=...)`` stores."""
    reference = Queue("twin").send(body, attributes=attributes or None)
    assert message.body == body
    assert message.md5_of_body == reference.md5_of_body == md5_of_body(body)
    assert message.md5_of_attributes == reference.md5_of_attributes
    assert message.attributes == dict(attributes or {})


# --- envelope pieces --------------------------------------------------------------------------

# Text with every kind of character JSON escapes or ensure_ascii rewrites.
TRICKY = 'plain "quoted" back\\slash /slash\n\t\x00\x1f\x7f é 世界 🎉 \u2028 \ud800'

ATTRIBUTE_SETS: list[dict[str, Attribute]] = [
    {},
    {"s": Attribute("String", "v")},
    {
        "s": Attribute("String", 'q"uo\\te é 世 🎉'),
        "n": Attribute("Number", "100.5"),
        "b": Attribute("Binary", b"\x00\xff\x02"),
        "arr": Attribute("String.Array", '["a", 1, null]'),
        "custom": Attribute("Number.float", "-1e3"),
        "bin.label": Attribute("Binary.gif", b"GIF89a"),
        "String.\u00e9": Attribute("String.\u00e9t\u00e9", "x"),
    },
]


@pytest.mark.parametrize("fifo", [False, True])
@pytest.mark.parametrize("subject", [None, "s", TRICKY[:40].replace("\n", " ")])
@pytest.mark.parametrize("message", ["hello", TRICKY, '{"default": "x"}'])
@pytest.mark.parametrize("attributes", ATTRIBUTE_SETS)
@pytest.mark.parametrize(
    ("region", "account"), [("us-east-1", "000000000000"), ('eu"west\\1', "12 é")]
)
def test_envelope_writer_matches_json_dumps(
    fifo: bool,
    subject: str | None,
    message: str,
    attributes: dict[str, Attribute],
    region: str,
    account: str,
) -> None:
    arn = f"arn:aws:sns:{region}:{account}:t{'.fifo' if fifo else ''}"
    timestamp = ref_iso_timestamp(1_704_067_200_123)
    sequence = "10000000000000000001" if fifo else None
    signature = None if fifo else ref_fake_signature(message, "mid-1", subject, timestamp, arn)
    expected = ref_envelope_parts(
        message=message,
        message_id="mid-1",
        topic_arn=arn,
        subject=subject,
        timestamp=timestamp,
        region=region,
        fifo=fifo,
        sequence_number=sequence,
        signature=signature,
        attributes=attributes,
    )
    got = EnvelopeWriter(arn, region, fifo).parts(
        message=message,
        message_id="mid-1",
        subject=subject,
        timestamp=timestamp,
        sequence_number=sequence,
        attributes=attributes_json(attributes) if attributes else None,
    )
    assert got == expected


attribute_values = st.one_of(
    st.builds(
        Attribute,
        st.sampled_from(["String", "Number", "String.Array", "String.x"]),
        st.text(min_size=1),
    ),
    st.builds(Attribute, st.sampled_from(["Binary", "Binary.y"]), st.binary(min_size=1)),
)


@settings(max_examples=300, deadline=None)
@given(
    message=st.text(min_size=1),
    subject=st.none() | st.text(min_size=1, max_size=100),
    attributes=st.dictionaries(st.text(min_size=1, max_size=20), attribute_values, max_size=5),
    fifo=st.booleans(),
)
def test_envelope_writer_matches_json_dumps_on_any_text(
    message: str, subject: str | None, attributes: dict[str, Attribute], fifo: bool
) -> None:
    arn = "arn:aws:sns:us-east-1:000000000000:t"
    timestamp = ref_iso_timestamp(1_704_067_200_999)
    signature = None if fifo else ref_fake_signature(message, "m", subject, timestamp, arn)
    expected = ref_envelope_parts(
        message=message,
        message_id="m",
        topic_arn=arn,
        subject=subject,
        timestamp=timestamp,
        region="us-east-1",
        fifo=fifo,
        sequence_number="10000000000000000001",
        signature=signature,
        attributes=attributes,
    )
    got = EnvelopeWriter(arn, "us-east-1", fifo).parts(
        message=message,
        message_id="m",
        subject=subject,
        timestamp=timestamp,
        sequence_number="10000000000000000001",
        attributes=attributes_json(attributes) if attributes else None,
    )
    assert got == expected
    if attributes:
        assert attributes_json(attributes) == json.dumps(ref_envelope_attributes(attributes))


@pytest.mark.parametrize(
    "epoch_ms",
    [0, 999, 1_000, 1_704_067_199_999, 1_704_067_200_000, 1_704_067_200_001, 4_102_444_800_123],
)
def test_iso_timestamp_matches_strftime(epoch_ms: int) -> None:
    # Twice: a cache miss, then a hit for the same second.
    assert iso_timestamp(epoch_ms) == ref_iso_timestamp(epoch_ms)
    assert iso_timestamp(epoch_ms) == ref_iso_timestamp(epoch_ms)
    assert iso_timestamp(epoch_ms - 1) == ref_iso_timestamp(epoch_ms - 1)


# --- end to end -------------------------------------------------------------------------------


def receive_one(queue: Queue) -> Message:
    [message] = queue.receive()
    return message


@pytest.mark.parametrize("subject", [None, "Subject é"])
@pytest.mark.parametrize("attributes", [*ATTRIBUTE_SETS[:2], {"n": 7, "s": "x", "b": b"\x01"}])
@pytest.mark.parametrize("message", ["hello", TRICKY])
def test_standard_topic_deliveries_match_reference(
    subject: str | None, attributes: dict[str, Any], message: str
) -> None:
    clock = ManualClock(1_704_067_200.5)
    topic = Topic("t", clock=clock)
    envelope_queues = [Queue(f"e{i}", clock=clock) for i in range(2)]
    raw_queues = [Queue(f"r{i}", clock=clock) for i in range(2)]
    envelope_subs = [topic.subscribe(q) for q in envelope_queues]
    raw_subs = [topic.subscribe(q, raw_message_delivery=True) for q in raw_queues]
    seen: list[Notification] = []
    topic.subscribe(seen.append)
    result = topic.publish(message, subject=subject, attributes=attributes)
    normalized = ref_normalize(attributes)
    for queue, sub in zip(envelope_queues, envelope_subs, strict=True):
        body = ref_envelope(
            topic, sub, message, result.message_id, 1_704_067_200_500, subject, None, normalized
        )
        twin(receive_one(queue), body, None)
    raw_bodies_ok = v.has_valid_characters(message)
    for queue, sub in zip(raw_queues, raw_subs, strict=True):
        if raw_bodies_ok:
            got = receive_one(queue)
            twin(got, message, normalized)
            assert got.message_id != result.message_id  # each queue has its own ids
        else:  # SQS refuses the characters: the same error as a direct send
            assert queue.stats().total == 0
            with pytest.raises(MqliteError) as direct:
                Queue("direct").send(message, attributes=normalized or None)
            [failure] = sub.failures
            assert type(failure.error) is type(direct.value)
            assert str(failure.error) == str(direct.value)
    # Each queue's messages own their attribute dict, as they did.
    if raw_bodies_ok and normalized:
        first, second = (q.peek(include_in_flight=True)[0].attributes for q in raw_queues)
        assert first == second
        assert first is not second
    [note] = seen
    assert note.attributes == normalized


@pytest.mark.parametrize("raw", [False, True])
def test_fifo_topic_deliveries_match_reference(raw: bool) -> None:
    clock = ManualClock(1_704_067_200.25)
    topic = Topic("t.fifo", clock=clock)
    fifo_queue = Queue("f.fifo", clock=clock)
    standard_queue = Queue("s", clock=clock)
    subs = [topic.subscribe(q, raw_message_delivery=raw) for q in (fifo_queue, standard_queue)]
    attributes = {"k": "v"}
    result = topic.publish("m", attributes=attributes, group_id="g", deduplication_id="d")
    normalized = ref_normalize(attributes)
    for queue, sub in zip((fifo_queue, standard_queue), subs, strict=True):
        got = receive_one(queue)
        if raw:
            twin(got, "m", normalized)
        else:
            body = ref_envelope(
                topic,
                sub,
                "m",
                result.message_id,
                1_704_067_200_250,
                None,
                result.sequence_number,
                normalized,
            )
            twin(got, body, None)
        assert got.group_id == "g"
        if queue.fifo:
            assert got.deduplication_id == "d"
            assert got.sequence_number is not None
        else:
            assert got.deduplication_id is None
            assert got.sequence_number is None


def test_message_structure_texts_per_protocol_and_dead_letters() -> None:
    clock = ManualClock(1_704_067_200.0)
    topic = Topic("t", clock=clock, retry_policy=RetryPolicy(attempts=1))
    envelope, raw, dlq_env, dlq_raw = (Queue(n, clock=clock) for n in ("e", "r", "de", "dr"))
    sub_env = topic.subscribe(envelope)
    topic.subscribe(raw, raw_message_delivery=True)

    def fail(_: Notification) -> None:
        raise RuntimeError("down")

    def fail_too(_: Notification) -> None:
        raise RuntimeError("down")

    sub_dead_env = topic.subscribe(fail, dead_letter_queue=dlq_env)
    topic.subscribe(fail_too, dead_letter_queue=dlq_raw, raw_message_delivery=True)
    message = json.dumps({"default": "D", "sqs": "S é", "lambda": "L"})
    result = topic.publish(message, message_structure="json", attributes={"a": "1"})
    normalized = ref_normalize({"a": "1"})
    ts = 1_704_067_200_000
    twin(
        receive_one(envelope),
        ref_envelope(topic, sub_env, "S é", result.message_id, ts, None, None, normalized),
        None,
    )
    twin(receive_one(raw), "S é", normalized)
    twin(
        receive_one(dlq_env),
        ref_envelope(topic, sub_dead_env, "L", result.message_id, ts, None, None, normalized),
        None,
    )
    twin(receive_one(dlq_raw), "L", normalized)


def direct_error(queue: Queue, body: str, attributes: Mapping[str, Any] | None) -> MqliteError:
    with pytest.raises(MqliteError) as caught:
        queue.send(body, attributes=attributes or None)
    return caught.value


@pytest.mark.parametrize(
    ("message", "attributes", "max_size"),
    [
        ("x" * 2000, None, 1024),  # too large for this queue
        ("x" * 1000, {"big": "y" * 100}, 1024),  # the attributes tip it over
        ("ok", {f"a{i}": "v" for i in range(11)}, 1_048_576),  # more than 10 attributes
        ("ok", {"n": Attribute("Number", "1e200")}, 1_048_576),  # beyond SQS's range
        ("ok", {"s": Attribute("String. x", "v")}, 1_048_576),  # SNS takes any label
        ("ok", {"n": Attribute("Number.é", "1")}, 1_048_576),  # ... SQS only [A-Za-z0-9_.-]
        ("ok", {"n": Attribute("Number", "1" * 39)}, 1_048_576),  # 39 digits
        ("bad \x00 char", None, 1_048_576),  # SNS does not check the characters
    ],
)
def test_raw_rejections_keep_the_queues_own_error(
    message: str, attributes: dict[str, Any] | None, max_size: int
) -> None:
    topic = Topic("t")
    queue = Queue("q", max_message_size=max_size)
    dlq = Queue("dlq")
    sub = topic.subscribe(queue, raw_message_delivery=True, dead_letter_queue=dlq)
    topic.publish(message, attributes=attributes)
    assert queue.stats().total == 0
    [failure] = sub.failures
    expected = direct_error(Queue("direct", max_message_size=max_size), message, attributes)
    assert type(failure.error) is type(expected)
    assert str(failure.error) == str(expected)
    if max_size < 1_048_576:  # the DLQ takes what the queue could not
        twin(receive_one(dlq), message, ref_normalize(attributes))


def test_envelope_too_large_for_the_queue_keeps_its_error() -> None:
    topic = Topic("t")
    queue = Queue("q", max_message_size=1024)
    sub = topic.subscribe(queue)
    topic.publish("x" * 600)  # fits as a raw body, not inside the envelope
    [failure] = sub.failures
    expected = direct_error(Queue("direct", max_message_size=1024), "y" * 1100, None)
    assert type(failure.error) is type(expected)
    assert str(failure.error) == str(expected)


def test_envelope_to_a_deleted_queue_fails_as_before() -> None:
    topic = Topic("t")
    queue = Queue("q")
    sub = topic.subscribe(queue)
    queue._mark_deleted()
    topic.publish("x")
    [failure] = sub.failures
    assert str(failure.error) == "The specified queue does not exist."


def test_per_publish_work_is_done_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import mqlite._envelope as envelope_module
    import mqlite._send as send_module

    calls = {"sig": 0, "md5": 0}
    real_signature = envelope_module.fake_signature
    real_md5 = md5_of_attributes

    def count_signature(*args: Any) -> str:
        calls["sig"] += 1
        return real_signature(*args)

    def count_md5(attributes: Mapping[str, Attribute]) -> str | None:
        calls["md5"] += 1
        return real_md5(attributes)

    monkeypatch.setattr(envelope_module, "fake_signature", count_signature)
    monkeypatch.setattr(send_module, "md5_of_attributes", count_md5)
    topic = Topic("t")
    queues = [Queue(f"q{i}") for i in range(6)]
    for i, queue in enumerate(queues):
        topic.subscribe(queue, raw_message_delivery=i % 2 == 0)
    topic.publish_batch([PublishEntry(str(i), f"m{i}", attributes={"a": i}) for i in range(3)])
    assert calls == {"sig": 3, "md5": 3}
    assert all(q.stats().total == 3 for q in queues)


# --- attribute checks -------------------------------------------------------------------------

attribute_names = st.one_of(
    st.text(alphabet="abcXYZ019", min_size=1, max_size=8),
    st.text(max_size=6),
    st.sampled_from(["a.b", ".a", "a.", "a..b", "AWS.x", "amazon.y", "a" * 257, "é", "a-b_c"]),
)
raw_values = st.one_of(
    st.integers(min_value=-(10**45), max_value=10**45),
    st.booleans(),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.floats(allow_nan=True),
    st.decimals(allow_nan=False, places=3) | st.just(Decimal("NaN")),
    st.lists(st.integers(), max_size=3),
    st.builds(
        Attribute,
        st.sampled_from(
            ["String", "Number", "Binary", "Number.x", "String.Array", "Foo", "Number."]
        ),
        st.text(max_size=6) | st.binary(max_size=3),
    ),
)


def outcome(fn: Any, arg: Any) -> Any:
    try:
        return ("ok", fn(arg))
    except Exception as error:  # compare what is raised, whatever it is
        return ("error", type(error), str(error))


@settings(max_examples=250, deadline=None)
@given(st.dictionaries(attribute_names, raw_values, max_size=4))
def test_attribute_shortcuts_match_the_full_checks(attributes: dict[str, Any]) -> None:
    assert outcome(normalize_attributes, attributes) == outcome(ref_normalize, attributes)


# Mostly what SNS accepts, so that the comparison below has something to compare: plain
# names, up to 12 of them (SQS takes 10), numbers SQS may find too long or too large.
sns_names = st.text(alphabet="abcdefXYZ0129", min_size=1, max_size=6)
sns_values = st.one_of(
    st.integers(min_value=-(10**45), max_value=10**45),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(min_size=1, max_size=5),
    st.binary(min_size=1, max_size=3),
    st.builds(
        Attribute,
        st.sampled_from(["Number", "Number.x"]),
        st.from_regex(r"\A[ ]?[+-]?[0-9_]{1,42}(\.[0-9]{0,3})?([eE][+-]?[0-9]{1,3})?[ ]?\Z"),
    ),
    # Custom labels: SNS takes any printable text, SQS only [A-Za-z0-9_.-].
    st.builds(
        Attribute,
        st.sampled_from(["String.x-1", "String. x", "String.é", "Number.a_b", "Number.a b"]),
        st.sampled_from(["1", "v"]),
    ),
)


@settings(max_examples=250, deadline=None)
@given(st.dictionaries(sns_names, sns_values, max_size=12))
def test_raw_delivery_goes_in_exactly_when_a_queue_send_would(attributes: dict[str, Any]) -> None:
    try:
        checked = ref_normalize(attributes)
    except MqliteError:
        return  # SNS refuses it: never delivered
    topic = Topic("t")
    queue = Queue("q")
    sub = topic.subscribe(queue, raw_message_delivery=True)
    topic.publish("m", attributes=attributes)
    direct = outcome(lambda a: Queue("direct").send("m", attributes=a or None), checked)
    if direct[0] == "ok":
        assert sub.failures == []
        [got] = queue.receive()
        assert got.md5_of_attributes == direct[1].md5_of_attributes
        assert got.md5_of_attributes == md5_of_attributes(checked)
    else:
        [failure] = sub.failures
        assert ("error", type(failure.error), str(failure.error)) == direct
