"""Bad input to a topic: what SNS refuses is refused with SNS's code and changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqlite import Attribute, MqliteError, Notification, PublishEntry, Queue
from mqlite import _validation as v
from mqlite.errors import InvalidBatchEntryId, InvalidParameter
from mqlite.filters import FilterPolicy
from mqlite.topic import Subscription, Topic

BAD_ATTRIBUTES: list[object] = [
    [("a", "b")],  # not a mapping
    "a",
    {"a": Attribute(None, "v")},  # type: ignore[arg-type]
    {"a": Attribute("String.\ud800", "v")},
    {"a": Attribute("String.\x00", "v")},
    {"a": Attribute("Number.\x7f", "1")},
    {"a": Attribute("String.", "v")},
    {"a": 10**5000},  # past the int digit limit
    {"a": 10**400},  # no IEEE double holds it
    {"a": -(10**309)},
    {"a": Decimal("1e400")},
    {"a": Attribute("Number", "١٢٣")},
    {"a": Attribute("Number", "1\u0660")},
    {"a": Attribute("Number", "1_0")},
    {"a": Attribute("Number", " 1 ")},
    {"a": Attribute("Number", "1\n")},
    {"a": Attribute("Number", "1e400")},
    {"a": Attribute("Number", "Infinity")},
    {"a": Attribute("Number", "0x10")},
    {"a": [{1}]},  # a set inside
    {"a": [b"x"]},
    {"a": [float("nan")]},
    {"a": [10**5000]},
    {"a": [10**400]},
    {"a": [[1]]},
    {"a": Attribute("String.Array", "[NaN]")},
    {"a": Attribute("String.Array", "[1e400]")},
    {"a": Attribute("String.Array", "[" * 100_000 + "]" * 100_000)},
    {"é": "x"},
    {1: "x"},
]


def _fifo_topic() -> tuple[Topic, list[Notification], Queue]:
    t = Topic("t.fifo", content_based_deduplication=True)
    got: list[Notification] = []
    t.subscribe(got.append)
    q = Queue("q.fifo")
    t.subscribe(q, raw_message_delivery=True)
    return t, got, q


@pytest.mark.parametrize("bad", BAD_ATTRIBUTES, ids=lambda b: v.shown(b, quoted=True)[:40])
def test_bad_attributes_are_parameter_value_invalid_and_change_nothing(bad: object) -> None:
    t, got, q = _fifo_topic()
    first = t.publish("a", group_id="g")
    for call in (
        lambda: t.publish("b", group_id="g", attributes=bad),  # type: ignore[arg-type]
        lambda: t.publish_batch(
            [
                PublishEntry("ok", "c", group_id="g"),
                PublishEntry("bad", "d", group_id="g", attributes=bad),  # type: ignore[arg-type]
            ]
        ),
    ):
        with pytest.raises(MqliteError) as e:
            call()
        assert e.value.code == "ParameterValueInvalid"
    after = t.publish("e", group_id="g")
    # Nothing was delivered and no sequence number was used up.
    assert int(after.sequence_number or "0") == int(first.sequence_number or "0") + 1
    assert [n.message for n in got] == ["a", "e"]
    assert [m.body for m in q.peek()] == ["a", "e"]


GOOD_NUMBERS = ["-1.5e3", "+1", ".5", "1.", "1E+05", "0", "-0", "1e-400", str(10**100)]


@pytest.mark.parametrize("text", GOOD_NUMBERS)
def test_numbers_sns_takes_are_still_taken(text: str) -> None:
    t = Topic("t")
    got: list[Notification] = []
    t.subscribe(got.append, filter_policy={"n": [{"numeric": [">=", -1e300]}]})
    t.publish("x", attributes={"n": Attribute("Number", text), "m": 10**15, "k": 2**63})
    assert [n.attributes["n"] for n in got] == [Attribute("Number", text)]


def test_custom_labels_sns_takes_are_still_taken() -> None:
    t = Topic("t")
    got: list[Notification] = []
    t.subscribe(got.append)
    attrs = {"a": Attribute("String.  prefixed.", "v"), "b": Attribute("Number.é", "1")}
    t.publish("x", attributes=attrs)
    assert [n.attributes for n in got] == [attrs]


@pytest.mark.parametrize("text", ["١٢٣", "12\u0663", " 123", "123 ", "1_23", "0x7b", "123\n"])
def test_filters_never_read_a_number_sns_would_not(text: str) -> None:
    """Whatever reaches a filter, only a plain ASCII decimal is a number to it."""
    policy = FilterPolicy({"n": [123]})
    assert policy.matches(attributes={"n": Attribute("Number", "123")})
    assert not policy.matches(attributes={"n": Attribute("Number", text)})
    ranged = FilterPolicy({"n": [{"numeric": [">", 0]}]})
    assert not ranged.matches(attributes={"n": Attribute("Number", text)})


def test_raw_delivery_of_a_label_sqs_refuses_fails_at_the_queue() -> None:
    """SNS takes "String. x"; SQS does not: a raw delivery fails, as on AWS."""
    t = Topic("t")
    raw, wrapped = Queue("raw"), Queue("wrapped")
    raw_sub = t.subscribe(raw, raw_message_delivery=True)
    t.subscribe(wrapped)
    t.publish("x", attributes={"a": Attribute("String. x", "v")})
    assert raw.stats().total == 0
    assert (raw_sub.delivered, raw_sub.failed) == (0, 1)
    assert wrapped.stats().total == 1  # the envelope carries it as JSON text


@pytest.mark.parametrize("message", [{"a": [{1}]}, b"bytes", 1, None])
def test_a_message_that_is_not_a_str_is_refused_clearly(message: object) -> None:
    t = Topic("t")
    for call in (
        lambda: t.publish(message),  # type: ignore[arg-type]
        lambda: t.publish_batch([PublishEntry("a", message)]),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidParameter) as e:
            call()
        assert str(e.value) == (
            "Invalid parameter: Message Reason: the message must be a str, not"
            f" {type(message).__name__}"
        )


@pytest.mark.parametrize("entries", [None, 1, [1], [("a", "b")], [{"id": "a", "message": "b"}]])
def test_publish_batch_refuses_what_is_not_a_list_of_entries(entries: object) -> None:
    t = Topic("t")
    with pytest.raises(InvalidParameter):
        t.publish_batch(entries)  # type: ignore[arg-type]


def test_publish_batch_entry_id_past_the_digit_limit() -> None:
    t = Topic("t")
    with pytest.raises(InvalidBatchEntryId):
        t.publish_batch([PublishEntry(10**5000, "m")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "settings_",
    [
        {"filter_policy": {"a": [{1}]}},
        {"filter_policy": {"a": [b"x"]}},
        {"filter_policy": {1: ["x"]}},
        {"filter_policy": {"a": [10**5000]}},
        {"filter_policy": 10**5000},
        {"filter_policy_scope": 10**5000},
        {"raw_message_delivery": 10**5000},
    ],
    ids=lambda s: v.shown(s, quoted=True)[:40],
)
def test_subscribe_refuses_junk_settings_with_invalid_parameter(settings_: dict[str, Any]) -> None:
    t = Topic("t")
    q = Queue("q")
    with pytest.raises(InvalidParameter) as e:
        t.subscribe(q, **settings_)
    assert str(e.value).startswith("Invalid parameter: Attributes Reason: ")
    assert t.subscriptions == []
    sub = t.subscribe(q)
    with pytest.raises(InvalidParameter) as e:
        sub.configure(**settings_)
    assert str(e.value).startswith("Invalid parameter: ")
    assert (sub.filter_policy, sub.filter_policy_scope, sub.raw_message_delivery) == (
        None,
        "MessageAttributes",
        False,
    )


def test_topic_refuses_a_content_based_dedup_flag_past_the_digit_limit() -> None:
    with pytest.raises(InvalidParameter):
        Topic("t.fifo", content_based_deduplication=10**5000)  # type: ignore[arg-type]


# --- junk anywhere ------------------------------------------------------------------------------

_junk = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.binary(max_size=20),
        st.sampled_from(
            ["String.\ud800", "json", "MessageBody", Attribute(None, "v"), object(), {1}]  # type: ignore[arg-type]
        ),
        st.builds(pow, st.just(10), st.just(5000)),  # past the int digit limit
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        st.builds(Attribute, inner, inner),
        st.builds(PublishEntry, inner, inner, inner, inner, inner, inner, inner),
    ),
    max_leaves=6,
)


def _state(t: Topic, subs: list[Subscription]) -> tuple[object, ...]:
    return (
        [(s.arn, s.filter_policy, s.filter_policy_scope, s.raw_message_delivery) for s in subs],
        [s.arn for s in t.subscriptions],
        [(s.delivered, s.failed) for s in subs],
    )


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    which=st.sampled_from(
        [
            "publish",
            "publish_options",
            "publish_batch",
            "subscribe",
            "configure",
            "unsubscribe",
            "flush",
        ]
    ),
    a=_junk,
    b=_junk,
    fifo=st.booleans(),
)
def test_junk_input_raises_mqlite_error_and_changes_nothing(
    which: str, a: Any, b: Any, fifo: bool
) -> None:
    t = Topic("t.fifo" if fifo else "t", content_based_deduplication=fifo)
    got: list[Notification] = []
    sub = t.subscribe(got.append)
    q = Queue("q")
    subs = [sub, t.subscribe(q, raw_message_delivery=True)]
    t.publish("x", group_id="g" if fifo else None)
    before = _state(t, subs)
    calls: dict[str, Callable[[], object]] = {
        "publish": lambda: t.publish(a, attributes=b, group_id="g" if fifo else None),
        "publish_options": lambda: t.publish(
            "y", subject=a, group_id=b, deduplication_id=a, message_structure=b
        ),
        "publish_batch": lambda: t.publish_batch(a),
        "subscribe": lambda: t.subscribe(
            q, filter_policy=a, filter_policy_scope=b, raw_message_delivery=a
        ),
        "configure": lambda: sub.configure(filter_policy=a, raw_message_delivery=b),
        "unsubscribe": lambda: t.unsubscribe(a),
        "flush": lambda: t.flush(a),
    }
    try:
        calls[which]()
    except MqliteError:
        assert _state(t, subs) == before


@pytest.mark.parametrize("bad", [None, "sub", 1, object()], ids=["None", "str", "int", "object"])
def test_unsubscribe_refuses_what_is_not_a_subscription(bad: object) -> None:
    t = Topic("t")
    sub = t.subscribe(Queue("q"))
    with pytest.raises(InvalidParameter):
        t.unsubscribe(bad)  # type: ignore[arg-type]
    assert t.subscriptions == [sub]


@pytest.mark.parametrize("bad", ["1", -1, float("nan"), True, [1]], ids=repr)
def test_flush_refuses_a_timeout_that_is_not_a_duration(bad: object) -> None:
    t = Topic("t.fifo", content_based_deduplication=True)
    with pytest.raises(InvalidParameter):
        t.flush(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "timeout", [0, 0.5, 10**400, float("inf"), None], ids=["0", "0.5", "10**400", "inf", "None"]
)
def test_flush_takes_any_duration(timeout: float | None) -> None:
    """Also those too long for the thread library: they wait as long as needed."""
    t = Topic("t.fifo", content_based_deduplication=True)
    inside, release = threading.Event(), threading.Event()

    def subscriber(n: Notification) -> None:
        if n.message == "first":
            inside.set()
            release.wait(5)

    t.subscribe(subscriber)
    drainer = threading.Thread(target=t.publish, args=("first",), kwargs={"group_id": "g"})
    drainer.start()
    assert inside.wait(5)
    t.publish("second", group_id="g")  # queued behind "first": flush has to wait
    timer = threading.Timer(0.05, release.set)
    timer.start()
    try:
        done = t.flush(timeout)
    finally:
        release.set()
        timer.cancel()
    assert done is (timeout != 0)  # a zero timeout does not wait for the delivery
    assert t.flush(None)
    drainer.join(5)
    assert not drainer.is_alive()


@pytest.mark.parametrize(
    "settings_",
    [
        {"executor": "pool"},
        {"retry_policy": 3},
        {"region": 10**5000},
        {"account_id": None},
        {"clock": "now"},
    ],
    ids=["executor", "retry_policy", "region", "account_id", "clock"],
)
def test_topic_refuses_settings_of_the_wrong_kind(settings_: dict[str, Any]) -> None:
    """Refused when the topic is made, not later in a publish that has accepted a message."""
    with pytest.raises(InvalidParameter):
        Topic("t", **settings_)
