"""Bad input and duplicate sends: what SQS returns or refuses; a refusal changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqlite import (
    Attribute,
    Broker,
    DeleteEntry,
    ManualClock,
    MqliteError,
    Queue,
    QueueStats,
    SendEntry,
    VisibilityEntry,
)
from mqlite import _validation as v
from mqlite.errors import InvalidParameterValue


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_duplicate_fifo_send_returns_the_original_id_and_sequence_number(
    clock: ManualClock,
) -> None:
    q = Queue("q.fifo", clock=clock)
    first = q.send("a", group_id="g", deduplication_id="d")
    again = q.send("a", group_id="g", deduplication_id="d")
    assert (again.message_id, again.sequence_number) == (
        first.message_id,
        first.sequence_number,
    )
    second = q.send("b", group_id="g", deduplication_id="e")
    # The duplicate used up no sequence number: the next stored message follows the first.
    assert int(second.sequence_number or "0") == int(first.sequence_number or "0") + 1
    got = q.receive(max_messages=10)
    assert [(m.body, m.sequence_number) for m in got] == [
        ("a", first.sequence_number),
        ("b", second.sequence_number),
    ]


def test_duplicate_fifo_send_in_a_batch_returns_the_original(clock: ManualClock) -> None:
    q = Queue("q.fifo", clock=clock)
    first = q.send("a", group_id="g", deduplication_id="d")
    result = q.send_batch(
        [
            SendEntry("1", "a", group_id="g", deduplication_id="d"),
            SendEntry("2", "b", group_id="g", deduplication_id="e"),
            SendEntry("3", "b", group_id="g", deduplication_id="e"),
        ]
    )
    assert result.failed == []
    dup, new, dup2 = result.successful
    assert (dup.message_id, dup.sequence_number) == (first.message_id, first.sequence_number)
    assert (dup2.message_id, dup2.sequence_number) == (new.message_id, new.sequence_number)
    assert int(new.sequence_number or "0") == int(first.sequence_number or "0") + 1
    assert q.stats().visible == 2


def _mangled(handle: str) -> list[str]:
    pre, _, num = handle.rpartition("-")
    arabic = num.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    return [
        f"{pre}-  {num}\n",
        f"{pre}- {num}",
        f"{pre}-{num} ",
        f"{pre}-0x{num}",
        f"{pre}-+{num}",
        f"{pre}-{num[:1]}_{num[1:]}",
        f"{pre}-{num.upper()}" if num.upper() != num else f"{pre}-{num}\t",
        f"{pre}-0{num}",
        f"{pre}-{arabic}" if arabic != num else f"{pre}-{num}\u00a0",
        f"{pre}-",
    ]


def test_mangled_receipt_handles_are_invalid_everywhere(clock: ManualClock) -> None:
    q = Queue("q", clock=clock)
    q.send("a")
    (m,) = q.receive()
    handle = m.receipt_handle
    assert handle is not None
    for bad in _mangled(handle):
        with pytest.raises(MqliteError) as e:
            q.delete(bad)
        assert e.value.code == "ReceiptHandleIsInvalid", bad
        with pytest.raises(MqliteError) as e:
            q.change_visibility(bad, 0)
        assert e.value.code == "ReceiptHandleIsInvalid", bad
        r = q.delete_batch([DeleteEntry("x", bad)])
        assert r.successful == []
        assert [f.code for f in r.failed] == ["ReceiptHandleIsInvalid"]
        v = q.change_visibility_batch([VisibilityEntry("x", bad, 0)])
        assert v.successful == []
        assert [f.code for f in v.failed] == ["ReceiptHandleIsInvalid"]
        s = q.stats()
        assert (s.visible, s.in_flight) == (0, 1), bad
    q.delete(handle)
    assert q.stats().in_flight == 0


def test_repr_shows_the_counts(clock: ManualClock) -> None:
    q = Queue("q", clock=clock)
    q.send("a")
    q.send("b")
    q.send("c", delay=10)
    q.receive()
    assert repr(q) == "<Queue 'q' (standard) visible=1 in_flight=1 delayed=1>"
    clock.advance(10)
    assert repr(q) == "<Queue 'q' (standard) visible=2 in_flight=1 delayed=0>"
    f = Queue("f.fifo", clock=clock)
    assert repr(f) == "<Queue 'f.fifo' (FIFO) visible=0 in_flight=0 delayed=0>"


BAD_NUMBERS: list[object] = [
    10**400,
    -(10**400),
    float("nan"),
    float("inf"),
    float("-inf"),
    True,
    "5",
    [1],
]


def _snapshot(q: Queue) -> tuple[object, ...]:
    s = q.stats()
    return (s.visible, s.in_flight, s.delayed, [m.body for m in q.peek(include_in_flight=True)])


@pytest.mark.parametrize("bad", BAD_NUMBERS, ids=lambda b: repr(b)[:12])
def test_bad_numbers_are_refused_with_the_aws_code(clock: ManualClock, bad: object) -> None:
    q = Queue("q", clock=clock)
    q.send("a")
    (m,) = q.receive()
    handle = m.receipt_handle
    assert handle is not None
    before = _snapshot(q)
    calls: dict[str, Callable[[], object]] = {
        "send delay": lambda: q.send("b", delay=bad),  # type: ignore[arg-type]
        "receive wait": lambda: q.receive(wait=bad),  # type: ignore[arg-type]
        "receive visibility": lambda: q.receive(visibility_timeout=bad),  # type: ignore[arg-type]
        "change_visibility": lambda: q.change_visibility(handle, bad),  # type: ignore[arg-type]
    }
    for what, call in calls.items():
        with pytest.raises(MqliteError) as e:
            call()
        assert e.value.code == "InvalidParameterValue", what
        assert _snapshot(q) == before, what
    for name in ("visibility_timeout", "delay", "retention", "receive_wait", "max_message_size"):
        setting: dict[str, Any] = {name: bad}
        with pytest.raises(MqliteError) as e:
            Queue("other", clock=clock, **setting)
        assert e.value.code == "InvalidAttributeValue", name
        with pytest.raises(MqliteError) as e:
            Broker(clock=clock).create_queue("other", **setting)
        assert e.value.code == "InvalidAttributeValue", name
        with pytest.raises(MqliteError) as e:
            q.configure(**setting)
        assert e.value.code == "InvalidAttributeValue", name
        assert _snapshot(q) == before, name
    r = q.send_batch([SendEntry("ok", "b"), SendEntry("bad", "c", delay=bad)])  # type: ignore[arg-type]
    assert [s.id for s in r.successful] == ["ok"]
    assert [(f.id, f.code) for f in r.failed] == [("bad", "InvalidParameterValue")]


@pytest.mark.parametrize("bad", BAD_NUMBERS, ids=lambda b: repr(b)[:12])
def test_change_visibility_batch_bad_timeout_fails_alone(clock: ManualClock, bad: object) -> None:
    q = Queue("q", clock=clock)
    q.send("a")
    q.send("b")
    m1, m2 = q.receive(max_messages=2)
    assert m1.receipt_handle is not None
    assert m2.receipt_handle is not None
    r = q.change_visibility_batch(
        [
            VisibilityEntry("good", m1.receipt_handle, 0),
            VisibilityEntry("bad", m2.receipt_handle, bad),  # type: ignore[arg-type]
        ]
    )
    assert [s.id for s in r.successful] == ["good"]
    assert [(f.id, f.code) for f in r.failed] == [("bad", "InvalidParameterValue")]
    s = q.stats()
    assert (s.visible, s.in_flight) == (1, 1)


BAD_ATTRIBUTES: list[object] = [
    [("a", "b")],
    [1],
    "a",
    {"a": Attribute(None, "v")},  # type: ignore[arg-type]
    {"a": Attribute("String.\ud800", "v")},
    {"a": Attribute("String.\x00", "v")},
    {"a": Attribute("Number.a b", "1")},
    {"a": Attribute("String.", "v")},
    {"a": 10**5000},
    {"a": Attribute("Number", "١٢٣")},
    {"a": Attribute("Number", "1\u0660")},
    {"é": "x"},
    {"\u00d7": "x"},  # multiplication sign
    {1: "x"},
]


@pytest.mark.parametrize("bad", BAD_ATTRIBUTES)
def test_bad_attributes_are_invalid_parameter_value(clock: ManualClock, bad: object) -> None:
    q = Queue("q", clock=clock)
    q.send("a")
    before = _snapshot(q)
    with pytest.raises(MqliteError) as e:
        q.send("b", attributes=bad)  # type: ignore[arg-type]
    assert e.value.code == "InvalidParameterValue"
    assert _snapshot(q) == before
    r = q.send_batch([SendEntry("ok", "b"), SendEntry("bad", "c", attributes=bad)])  # type: ignore[arg-type]
    assert [s.id for s in r.successful] == ["ok"]
    assert [(f.id, f.code) for f in r.failed] == [("bad", "InvalidParameterValue")]


def test_deep_string_array_text_is_just_a_string_on_a_queue(clock: ManualClock) -> None:
    q = Queue("q", clock=clock)
    deep = "[" * 100000 + "]" * 100000
    q.send("a", attributes={"a": Attribute("String.Array", deep)})
    (m,) = q.receive()
    assert m.attributes == {"a": Attribute("String.Array", deep)}


def test_allowed_labels_and_numbers_still_pass(clock: ManualClock) -> None:
    q = Queue("q", clock=clock)
    attrs = {
        "a.b-c_D9": Attribute("Number.float-1_x.y", "-1.5e3"),
        "n": 10**100,
        "s": Attribute("String.json", "é"),
    }
    q.send("a", attributes=attrs)
    (m,) = q.receive()
    assert m.attributes["a.b-c_D9"] == attrs["a.b-c_D9"]
    assert m.attributes["n"] == Attribute("Number", str(10**100))


def test_old_handle_after_visibility_ran_out_hides_a_standard_message_again(
    clock: ManualClock,
) -> None:
    # Documented behaviour (AWS answers this call with success and applies it).
    q = Queue("q", clock=clock, visibility_timeout=10)
    q.send("a")
    (m,) = q.receive()
    assert m.receipt_handle is not None
    clock.advance(10)
    assert q.stats().visible == 1
    q.change_visibility(m.receipt_handle, 30)
    s = q.stats()
    assert (s.visible, s.in_flight) == (0, 1)
    clock.advance(30)
    assert q.stats().visible == 1


_junk = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.binary(max_size=20),
        st.sampled_from(["String.\ud800", Attribute(None, "v"), object()]),  # type: ignore[arg-type]
        st.builds(pow, st.just(10), st.just(5000)),  # past the int digit limit
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        st.builds(Attribute, inner, inner),
        st.builds(SendEntry, inner, inner, inner, inner),
        st.builds(DeleteEntry, inner, inner),
        st.builds(VisibilityEntry, inner, inner, inner),
    ),
    max_leaves=6,
)

_SETTINGS = ("visibility_timeout", "delay", "retention", "receive_wait", "max_message_size")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    which=st.sampled_from(
        [
            "send",
            "send_options",
            "peek",
            "send_batch",
            "receive",
            "delete",
            "delete_batch",
            "change_visibility",
            "change_visibility_batch",
            "configure",
        ]
    ),
    a=_junk,
    b=_junk,
    fifo=st.booleans(),
)
def test_junk_input_raises_mqlite_error_and_changes_nothing(
    which: str, a: Any, b: Any, fifo: bool
) -> None:
    clock = ManualClock()
    q = Queue("q.fifo" if fifo else "q", clock=clock, content_based_deduplication=fifo)
    q.send("x", group_id="g" if fifo else None)
    q.send("y", group_id="h" if fifo else None)
    q.receive()
    before = _snapshot(q), q.settings()
    calls: dict[str, Callable[[], object]] = {
        "send": lambda: q.send(a, attributes=b),
        "send_options": lambda: q.send("z", delay=a, group_id=b, deduplication_id=b),
        "peek": lambda: q.peek(include_in_flight=a, include_delayed=b),
        "send_batch": lambda: q.send_batch(a),
        # A valid positive wait would block on the manual clock: only junk or 0 is sent.
        "receive": lambda: q.receive(a, wait=0 if v.in_range(b, 0, 20) else b),
        "delete": lambda: q.delete(a),
        "delete_batch": lambda: q.delete_batch(a),
        "change_visibility": lambda: q.change_visibility(a, b),
        "change_visibility_batch": lambda: q.change_visibility_batch(a),
        "configure": lambda: q.configure(**{_SETTINGS[len(type(b).__name__) % 5]: a}),
    }
    try:
        calls[which]()
    except MqliteError:
        assert (_snapshot(q), q.settings()) == before


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("q.fifo", {"group_id": [10**5000]}),
        ("q.fifo", {"group_id": "g", "deduplication_id": (10**5000,)}),
        ("q", {"deduplication_id": [10**5000]}),
    ],
)
def test_ids_that_cannot_be_printed_are_still_invalid_parameter_values(
    name: str, kwargs: dict[str, Any]
) -> None:
    fifo = name.endswith(".fifo")
    q = Queue(name, fifo=True, content_based_deduplication=True) if fifo else Queue(name)
    with pytest.raises(InvalidParameterValue, match="is invalid"):
        q.send("x", **kwargs)
    assert q.stats() == QueueStats(0, 0, 0)
