"""Unit tests for the standard Queue: one behaviour per test, exact codes and messages."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest

from mqlite import (
    Broker,
    DeleteEntry,
    ManualClock,
    MqliteError,
    Queue,
    SendEntry,
    VisibilityEntry,
)
from mqlite.message import md5_of_attributes, md5_of_body


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def q(clock: ManualClock) -> Queue:
    return Queue("q", clock=clock)


def _code(exc_info: pytest.ExceptionInfo[MqliteError]) -> str:
    return exc_info.value.code


def st(q: Queue) -> tuple[int, int, int]:
    s = q.stats()
    return (s.visible, s.in_flight, s.delayed)


def exact(text: str) -> str:
    return "^" + re.escape(text) + "$"


# --- send / receive / delete ------------------------------------------------------------------


def test_send_receive_delete(q: Queue) -> None:
    r = q.send("hello")
    assert r.md5_of_body == "5d41402abc4b2a76b9719d911017c592"
    assert r.md5_of_attributes is None
    assert r.sequence_number is None
    [m] = q.receive()
    assert m.body == "hello"
    assert m.message_id == r.message_id
    assert m.receive_count == 1
    assert m.receipt_handle is not None
    q.delete(m)
    assert q.receive() == []
    assert st(q) == (0, 0, 0)
    q.check_invariants()


def test_receive_order_and_max(broker: Broker) -> None:
    q = broker.create_queue("q")
    for i in range(12):
        q.send(f"m{i}")
    got = q.receive(10)
    assert [m.body for m in got] == [f"m{i}" for i in range(10)]
    assert [m.body for m in q.receive(10)] == ["m10", "m11"]


@pytest.mark.parametrize("n", [0, 11, -1])
def test_receive_max_messages_range(q: Queue, n: int) -> None:
    with pytest.raises(
        MqliteError,
        match=exact(
            f"Value {n} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1"
            " and 10, if provided."
        ),
    ) as e:
        q.receive(n)
    assert _code(e) == "InvalidParameterValue"
    assert isinstance(e.value, ValueError)


def test_receive_wait_range(broker: Broker) -> None:
    q = broker.create_queue("q")
    with pytest.raises(MqliteError) as e:
        q.receive(wait=21)
    assert _code(e) == "InvalidParameterValue"


def test_receive_visibility_range(broker: Broker) -> None:
    q = broker.create_queue("q")
    with pytest.raises(MqliteError) as e:
        q.receive(visibility_timeout=43_201)
    assert _code(e) == "InvalidParameterValue"


def test_timestamps_are_ms(q: Queue, clock: ManualClock) -> None:
    q.send("x")
    clock.advance(2)
    [m] = q.receive(visibility_timeout=0)
    assert m.sent_timestamp == int((clock.time() - 2) * 1000)
    assert m.first_receive_timestamp == int(clock.time() * 1000)
    clock.advance(1)
    [m2] = q.receive()
    assert m2.first_receive_timestamp == m.first_receive_timestamp
    assert m2.receive_count == 2
    assert m2.receipt_handle != m.receipt_handle


# --- body rules --------------------------------------------------------------------------------

INVALID_CHARS = (
    "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF"
    " | #xE000 to #xFFFD | #x10000 to #x10FFFF"
)


@pytest.mark.parametrize("body", [chr(0), chr(8), chr(19), chr(0xFFFF), "a\ud800b", "\udfff"])
def test_invalid_body_characters(q: Queue, body: str) -> None:
    with pytest.raises(MqliteError) as e:
        q.send(body)
    assert _code(e) == "InvalidMessageContents"
    assert isinstance(e.value, ValueError)
    assert q.stats().visible == 0


def test_invalid_chars_message_text(broker: Broker) -> None:
    q = broker.create_queue("q")
    with pytest.raises(MqliteError, match=exact(INVALID_CHARS)):
        q.send("x\x00")


@pytest.mark.parametrize("body", ["\t\n\r", " ~", "\ud7ff\ue000\ufffd", "\U00010000\U0010ffff"])
def test_valid_body_characters(broker: Broker, body: str) -> None:
    q = broker.create_queue("q")
    q.send(body)
    assert q.receive()[0].body == body


def test_empty_body(broker: Broker) -> None:
    q = broker.create_queue("q")
    with pytest.raises(
        MqliteError, match=exact("The request must contain the parameter MessageBody.")
    ) as e:
        q.send("")
    assert _code(e) == "MissingParameter"


# --- size ---------------------------------------------------------------------------------------


def test_size_limit_counts_attributes(clock: ManualClock) -> None:
    q = Queue("s", clock=clock, max_message_size=1024)
    overhead = len("k") + len("String") + len("x")
    q.send("a" * (1024 - overhead), attributes={"k": "x"})  # equal is allowed
    with pytest.raises(
        MqliteError,
        match=exact(
            "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
        ),
    ) as e:
        q.send("a" * (1024 - overhead + 1), attributes={"k": "x"})
    assert _code(e) == "InvalidParameterValue"
    q.send("a" * 1024)
    with pytest.raises(MqliteError):
        q.send("a" * 1025)
    with pytest.raises(MqliteError):
        q.send("é" * 513)  # 1026 UTF-8 bytes
    assert q.stats().visible == 2


def test_default_size_limit(q: Queue) -> None:
    q.send("a" * 1_048_576)
    with pytest.raises(MqliteError) as e:
        q.send("a" * 1_048_577)
    assert _code(e) == "InvalidParameterValue"


# --- attributes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attrs",
    [
        {"": "x"},
        {"AWS.x": "x"},
        {"amazon.x": "x"},
        {".a": "x"},
        {"a.": "x"},
        {"a..b": "x"},
        {"a b": "x"},
        {"a" * 257: "x"},
        {"k": ""},
        {"k": b""},
        {"k": "\x00"},
        {f"k{i}": "v" for i in range(11)},
    ],
)
def test_bad_attributes(q: Queue, attrs: dict[str, object]) -> None:
    with pytest.raises(MqliteError) as e:
        q.send("x", attributes=attrs)
    assert _code(e) == "InvalidParameterValue"
    assert q.stats().visible == 0


def test_bad_attribute_types(broker: Broker) -> None:
    q = broker.create_queue("q")
    from mqlite import Attribute

    for dt in ["string", "Foo", "Number.", "String." + "x" * 250]:
        with pytest.raises(MqliteError) as e:
            q.send("x", attributes={"k": Attribute(dt, "1")})
        assert _code(e) == "InvalidParameterValue"
    with pytest.raises(MqliteError) as e:
        q.send("x", attributes={"k": Attribute("Number", "abc")})
    assert _code(e) == "InvalidParameterValue"


def test_attributes_round_trip(broker: Broker) -> None:
    q = broker.create_queue("q")
    from mqlite import Attribute

    q.send("x", attributes={"s": "v", "n": 5, "b": b"\x00\x01", "c": Attribute("Number.f", "1.5")})
    [m] = q.receive()
    assert m.attributes == {
        "s": Attribute("String", "v"),
        "n": Attribute("Number", "5"),
        "b": Attribute("Binary", b"\x00\x01"),
        "c": Attribute("Number.f", "1.5"),
    }
    q.send("y", attributes={f"k{i}": "v" for i in range(10)})  # ten is allowed


# --- MD5 vectors (spec §4) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "digest"),
    [
        ("hello", "5d41402abc4b2a76b9719d911017c592"),
        ("test", "098f6bcd4621d373cade4e832627b4f6"),
        ("héllo", "be50e8478cf24ff3595bc7307fb91b50"),
    ],
)
def test_md5_of_body(broker: Broker, body: str, digest: str) -> None:
    q = broker.create_queue("q")
    assert md5_of_body(body) == digest
    assert q.send(body).md5_of_body == digest


@pytest.mark.parametrize("size", [1, 511, 512, 513, 5_000, 262_144])
def test_md5_same_on_both_sides_of_the_small_body_switch(q: Queue, size: int) -> None:
    # Short and long bodies are hashed by different implementations; both must agree.
    body = ("abcdefghij" * (size // 10 + 1))[:size]
    expected = hashlib.md5(body.encode()).hexdigest()
    assert md5_of_body(body) == expected
    assert q.send(body).md5_of_body == expected
    [m] = q.receive()
    assert m.md5_of_body == expected


_TRACE = b"traceparent\x1e00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01"


@pytest.mark.parametrize(
    ("attrs", "digest"),
    [
        ({"MyAttribute": ("String", "foobar")}, "adb59cd4678ea5a855436b949cd07ab6"),
        ({"timestamp": ("Number", "1493147359900")}, "235c5c510d26fb653d073faed50ae77c"),
        ({"Foo": ("String", "Bar")}, "ae7155c6026991b6d54b11589678bf9c"),
        (
            {
                "Help.Me": ("String", "Me"),
                "Hello": ("String", "There"),
                "General": ("String", "Kenobi"),
            },
            "4c360f3fdafd970e05fae2f149d997f5",
        ),
        (
            {"Hello": ("String", "There"), "General": ("String", "Kenobi")},
            "fca026605781cb4126a1e9044df24232",
        ),
        ({"Hello": ("String", "There")}, "a311262e065454b75da111d535b8dacd"),
        (
            {"Hello": ("String", "There"), "Help.Me": ("String", "Me")},
            "83fee93c1bcd8b9a5a923ffacdc636c7",
        ),
        ({"attr1": ("Binary", _TRACE)}, "8cbe4db156db8a94db8b801b7addb984"),
        (
            {
                "AWSTraceHeader": (
                    "String",
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                )
            },
            "5ae4d5d7636402d80f4eb6d213245a88",
        ),
        ({"a": ("String", "x"), "b": ("Number.float", "1.5")}, "ca9bb266d8868e1eb70b6d9bd2fad88f"),
        ({"bin": ("Binary", b"\x00\x01")}, "341180f4c7e9ec2e643c77978d60ae6e"),
    ],
)
def test_md5_of_attributes_vectors(
    q: Queue, attrs: dict[str, tuple[str, str | bytes]], digest: str
) -> None:
    from mqlite import Attribute

    typed = {k: Attribute(t, val) for k, (t, val) in attrs.items()}
    assert md5_of_attributes(typed) == digest
    if not any(k.startswith("AWS") for k in attrs):
        assert q.send("b", attributes=typed).md5_of_attributes == digest
        [m] = q.receive()
        assert m.md5_of_attributes == digest
        q.delete(m)


# --- delay ----------------------------------------------------------------------------------------


def test_queue_delay(clock: ManualClock) -> None:
    q = Queue("d", clock=clock, delay=10)
    q.send("x")
    assert st(q) == (0, 0, 1)
    assert q.receive() == []
    clock.advance(9.5)
    assert q.receive() == []
    clock.advance(0.5)
    assert [m.body for m in q.receive()] == ["x"]


def test_per_message_delay_overrides(clock: ManualClock) -> None:
    q = Queue("d", clock=clock, delay=10)
    q.send("now", delay=0)
    q.send("later", delay=5)
    assert [m.body for m in q.receive(10, visibility_timeout=0)] == ["now"]
    clock.advance(5)
    assert [m.body for m in q.receive(10)] == ["now", "later"]


@pytest.mark.parametrize("delay", [-1, 901])
def test_delay_range(q: Queue, delay: int) -> None:
    with pytest.raises(
        MqliteError,
        match=exact(
            f"Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be"
            " >= 0 and <= 900."
        ),
    ) as e:
        q.send("x", delay=delay)
    assert _code(e) == "InvalidParameterValue"


def test_delay_change_not_retroactive(clock: ManualClock) -> None:
    q = Queue("d", clock=clock, delay=10)
    q.send("x")
    q.configure(delay=0)
    assert q.receive() == []
    clock.advance(10)
    assert len(q.receive()) == 1


# --- visibility ---------------------------------------------------------------------------------


def test_visibility_and_redelivery(clock: ManualClock) -> None:
    q = Queue("v", clock=clock, visibility_timeout=30)
    q.send("x")
    [m1] = q.receive()
    assert st(q) == (0, 1, 0)
    clock.advance(29.9)
    assert q.receive() == []
    clock.advance(0.1)
    [m2] = q.receive(visibility_timeout=5)
    assert m2.receive_count == 2
    clock.advance(5)
    [m3] = q.receive()
    assert m3.receive_count == 3
    assert len({m1.receipt_handle, m2.receipt_handle, m3.receipt_handle}) == 3


def test_change_visibility_zero(q: Queue) -> None:
    q.send("x")
    [m] = q.receive()
    q.change_visibility(m, 0)
    assert st(q) == (1, 0, 0)
    [m2] = q.receive()
    assert m2.receive_count == 2


def test_change_visibility_counts_from_now(q: Queue, clock: ManualClock) -> None:
    q.send("x")
    [m] = q.receive(visibility_timeout=60)
    clock.advance(15)
    q.change_visibility(m, 10)
    clock.advance(9)
    assert q.receive() == []
    clock.advance(1)
    assert len(q.receive()) == 1


def test_twelve_hour_cap_from_receive(q: Queue, clock: ManualClock) -> None:
    q.send("x")
    [m] = q.receive(visibility_timeout=43_200)
    clock.advance(100)
    q.change_visibility(m, 43_100)  # exactly at the cap
    with pytest.raises(
        MqliteError,
        match=exact(
            "Value 43101 for parameter VisibilityTimeout is invalid. Reason: Total"
            " VisibilityTimeout for the message is beyond the limit [43200 seconds]"
        ),
    ) as e:
        q.change_visibility(m, 43_101)
    assert _code(e) == "InvalidParameterValue"
    # The cap restarts with a new receive.
    q.change_visibility(m, 0)
    clock.advance(1000)
    [m2] = q.receive()
    q.change_visibility(m2, 43_200)


@pytest.mark.parametrize("t", [-1, 43_201])
def test_change_visibility_range(q: Queue, t: int) -> None:
    q.send("x")
    [m] = q.receive()
    with pytest.raises(MqliteError) as e:
        q.change_visibility(m, t)
    assert _code(e) == "InvalidParameterValue"


# --- handles (standard) ---------------------------------------------------------------------------

NOT_EXIST = (
    "Value {} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is"
    " not available for visibility timeout change."
)


def test_old_handle_still_deletes(q: Queue) -> None:
    q.send("x")
    [m1] = q.receive(visibility_timeout=0)
    [m2] = q.receive()
    assert m1.receipt_handle != m2.receipt_handle
    q.change_visibility(m1, 0)  # old handle applies to the current period
    assert q.stats().visible == 1
    q.delete(m1.receipt_handle)  # type: ignore[arg-type]
    assert st(q) == (0, 0, 0)


def test_delete_after_visibility_expired(q: Queue, clock: ManualClock) -> None:
    q.send("x")
    [m] = q.receive(visibility_timeout=1)
    clock.advance(2)
    q.change_visibility(m, 10)  # standard: applies, hides again
    assert st(q) == (0, 1, 0)
    q.delete(m)
    assert st(q) == (0, 0, 0)


def test_delete_twice_is_noop(q: Queue) -> None:
    q.send("x")
    [m] = q.receive()
    q.delete(m)
    q.delete(m)
    r = q.delete_batch([DeleteEntry("a", m.receipt_handle)])  # type: ignore[arg-type]
    assert r.failed == []
    assert [s.id for s in r.successful] == ["a"]
    assert st(q) == (0, 0, 0)


def test_cmv_on_deleted(q: Queue) -> None:
    q.send("x")
    [m] = q.receive()
    q.delete(m)
    h = m.receipt_handle
    assert h is not None
    with pytest.raises(MqliteError, match=exact(NOT_EXIST.format(h))) as e:
        q.change_visibility(h, 5)
    assert _code(e) == "InvalidParameterValue"


@pytest.mark.parametrize("h", ["garbage", "", "AQEB-1.1"])
def test_garbage_handle(q: Queue, h: str) -> None:
    text = f'The input receipt handle "{h}" is not a valid receipt handle.'
    with pytest.raises(MqliteError, match=exact(text)) as e:
        q.delete(h)
    assert _code(e) == "ReceiptHandleIsInvalid"
    assert isinstance(e.value, ValueError)
    with pytest.raises(MqliteError, match=exact(text)) as e:
        q.change_visibility(h, 1)
    assert _code(e) == "ReceiptHandleIsInvalid"


def test_other_queues_handle(q: Queue, clock: ManualClock) -> None:
    other = Queue("q", clock=clock)  # same name, other queue
    other.send("x")
    [m] = other.receive()
    with pytest.raises(MqliteError) as e:
        q.delete(m)
    assert _code(e) == "ReceiptHandleIsInvalid"
    with pytest.raises(MqliteError) as e:
        q.change_visibility(m, 0)
    assert _code(e) == "ReceiptHandleIsInvalid"
    assert other.stats().in_flight == 1


# --- batches --------------------------------------------------------------------------------------

BAD_ID = (
    "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can"
    " be at most 80 letters long."
)


def _batch_calls(q: Queue, ids: list[str]) -> list[object]:
    return [
        lambda: q.send_batch([SendEntry(i, "b") for i in ids]),
        lambda: q.delete_batch([DeleteEntry(i, "h") for i in ids]),
        lambda: q.change_visibility_batch([VisibilityEntry(i, "h", 1) for i in ids]),
    ]


def test_batch_empty(broker: Broker) -> None:
    q = broker.create_queue("q")
    for call in _batch_calls(q, []):
        with pytest.raises(MqliteError) as e:
            call()  # type: ignore[operator]
        assert _code(e) == "EmptyBatchRequest"


def test_batch_too_many(q: Queue) -> None:
    ids = [f"i{n}" for n in range(11)]
    for call in _batch_calls(q, ids):
        with pytest.raises(
            MqliteError,
            match=exact("Maximum number of entries per request are 10. You have sent 11."),
        ) as e:
            call()  # type: ignore[operator]
        assert _code(e) == "TooManyEntriesInBatchRequest"
    assert q.stats().visible == 0


@pytest.mark.parametrize("bad", ["", "x" * 81, "invalid:id", "a b"])
def test_batch_bad_id(q: Queue, bad: str) -> None:
    for call in _batch_calls(q, ["ok", bad]):
        with pytest.raises(MqliteError, match=exact(BAD_ID)) as e:
            call()  # type: ignore[operator]
        assert _code(e) == "InvalidBatchEntryId"
    assert q.stats().visible == 0


def test_batch_id_80_ok(broker: Broker) -> None:
    q = broker.create_queue("q")
    assert len(q.send_batch([SendEntry("x" * 80, "b")]).successful) == 1


def test_batch_duplicate_ids(q: Queue) -> None:
    for call in _batch_calls(q, ["a", "b", "a"]):
        with pytest.raises(MqliteError) as e:
            call()  # type: ignore[operator]
        assert _code(e) == "BatchEntryIdsNotDistinct"
    assert q.stats().visible == 0


def test_batch_too_long(clock: ManualClock) -> None:
    q = Queue("t", clock=clock, max_message_size=1024)
    entries = [SendEntry("a", "x" * 600_000), SendEntry("b", "y" * 448_577)]
    with pytest.raises(
        MqliteError,
        match=exact(
            "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes."
        ),
    ) as e:
        q.send_batch(entries)
    assert _code(e) == "BatchRequestTooLong"
    assert q.stats().visible == 0


def test_send_batch_entry_failures(clock: ManualClock) -> None:
    q = Queue("t", clock=clock, max_message_size=1024)
    res = q.send_batch(
        [
            SendEntry("ok", "fine", attributes={"a": "b"}),
            SendEntry("chars", "\x01"),
            SendEntry("big", "x" * 1025),
            SendEntry("empty", ""),
            SendEntry("delay", "x", delay=901),
            SendEntry("attr", "x", attributes={"AWS.x": "y"}),
        ]
    )
    assert [s.id for s in res.successful] == ["ok"]
    assert res.successful[0].md5_of_body == md5_of_body("fine")
    codes = {f.id: f.code for f in res.failed}
    assert codes == {
        "chars": "InvalidMessageContents",
        "big": "InvalidParameterValue",
        "empty": "MissingParameter",
        "delay": "InvalidParameterValue",
        "attr": "InvalidParameterValue",
    }
    assert all(f.sender_fault for f in res.failed)
    big = next(f for f in res.failed if f.id == "big")
    assert big.message == (
        "One or more parameters cannot be validated. Reason: Message must be shorter than"
        " 1024 bytes."
    )
    assert q.stats().visible == 1


def test_delete_and_cmv_batch(q: Queue) -> None:
    q.send_batch([SendEntry(f"e{i}", f"m{i}") for i in range(3)])
    ms = q.receive(3)
    res = q.change_visibility_batch(
        [
            VisibilityEntry("a", ms[0].receipt_handle, 0),  # type: ignore[arg-type]
            VisibilityEntry("b", "junk", 0),
            VisibilityEntry("c", ms[1].receipt_handle, 43_201),  # type: ignore[arg-type]
        ]
    )
    assert [s.id for s in res.successful] == ["a"]
    assert {f.id: f.code for f in res.failed} == {
        "b": "ReceiptHandleIsInvalid",
        "c": "InvalidParameterValue",
    }
    assert st(q) == (1, 2, 0)
    res2 = q.delete_batch(
        [
            DeleteEntry("x", ms[1].receipt_handle),  # type: ignore[arg-type]
            DeleteEntry("y", ms[1].receipt_handle),  # type: ignore[arg-type]
            DeleteEntry("z", "junk"),
        ]
    )
    assert [s.id for s in res2.successful] == ["x", "y"]
    assert [(f.id, f.code, f.sender_fault) for f in res2.failed] == [
        ("z", "ReceiptHandleIsInvalid", True)
    ]
    assert st(q) == (1, 1, 0)
    q.delete(ms[1])  # deleted, no-op
    q.delete(ms[2])
    res3 = q.change_visibility_batch([VisibilityEntry("d", ms[2].receipt_handle, 1)])  # type: ignore[arg-type]
    assert [f.code for f in res3.failed] == ["InvalidParameterValue"]


# --- retention ------------------------------------------------------------------------------------


def test_retention_all_states(clock: ManualClock) -> None:
    q = Queue("r", clock=clock, retention=60, delay=0)
    q.send("visible")
    q.send("flight")
    q.send("delayed", delay=900)
    [m] = q.receive(visibility_timeout=900)  # takes "visible"
    [m2] = q.receive(visibility_timeout=900)
    q.change_visibility(m, 0)
    assert st(q) == (1, 1, 1)
    clock.advance(59.9)
    assert st(q) == (1, 1, 1)
    clock.advance(0.1)
    assert st(q) == (0, 0, 0)
    assert q.peek(include_in_flight=True, include_delayed=True) == []
    q.delete(m2)  # gone: no-op
    with pytest.raises(MqliteError) as e:
        q.change_visibility(m2, 1)
    assert _code(e) == "InvalidParameterValue"
    q.check_invariants()


def test_lowering_retention_expires_older(clock: ManualClock) -> None:
    q = Queue("r", clock=clock)
    q.send("old")
    clock.advance(100)
    q.send("new")
    clock.advance(30)
    q.configure(retention=120)
    assert [m.body for m in q.receive(10)] == ["new"]
    q.check_invariants()


# --- purge ----------------------------------------------------------------------------------------


def test_purge(q: Queue, clock: ManualClock) -> None:
    q.send("a")
    q.send("b", delay=60)
    q.send("c")
    [m] = q.receive()
    q.purge()
    assert st(q) == (0, 0, 0)
    q.delete(m)  # no-op
    with pytest.raises(MqliteError) as e:
        q.change_visibility(m, 0)
    assert _code(e) == "InvalidParameterValue"
    q.send("after")
    clock.advance(59.9)
    with pytest.raises(
        MqliteError, match=exact("Only one PurgeQueue operation on q is allowed every 60 seconds.")
    ) as e:
        q.purge()
    assert _code(e) == "PurgeQueueInProgress"
    assert not isinstance(e.value, ValueError)
    assert [x.body for x in q.receive()] == ["after"]  # the failed purge changed nothing
    clock.advance(0.1)
    q.purge()
    assert st(q) == (0, 0, 0)


# --- peek / stats ---------------------------------------------------------------------------------


def test_peek(q: Queue) -> None:
    q.send("a")
    q.send("b")
    q.send("c", delay=5)
    [m] = q.receive()
    peek = q.peek()
    assert [p.body for p in peek] == ["b"]
    assert all(p.receipt_handle is None for p in peek)
    assert peek[0].receive_count == 0
    assert [p.body for p in q.peek(include_in_flight=True)] == ["a", "b"]
    assert [p.body for p in q.peek(include_delayed=True)] == ["b", "c"]
    everything = q.peek(include_in_flight=True, include_delayed=True)
    assert [p.body for p in everything] == ["a", "b", "c"]
    assert everything[0].receive_count == 1
    assert st(q) == (1, 1, 1)
    [m2] = q.receive()
    assert m2.body == "b"
    assert m2.receive_count == 1
    assert m.receive_count == 1


# --- configure / constructor ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("visibility_timeout", -1),
        ("visibility_timeout", 43_201),
        ("delay", -1),
        ("delay", 901),
        ("retention", 59),
        ("retention", 1_209_601),
        ("max_message_size", 1023),
        ("max_message_size", 1_048_577),
        ("receive_wait", -1),
        ("receive_wait", 21),
    ],
)
def test_configure_ranges(q: Queue, name: str, value: int) -> None:
    before = q.settings
    with pytest.raises(MqliteError) as e:
        q.configure(**{name: value})
    assert _code(e) == "InvalidAttributeValue"
    assert isinstance(e.value, ValueError)
    assert q.settings == before
    with pytest.raises(MqliteError) as e:
        Queue("x", **{name: value})  # type: ignore[arg-type]
    assert _code(e) == "InvalidAttributeValue"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("visibility_timeout", 0),
        ("visibility_timeout", 43_200),
        ("delay", 900),
        ("retention", 60),
        ("retention", 1_209_600),
        ("max_message_size", 1024),
        ("receive_wait", 20),
    ],
)
def test_configure_bounds_ok(q: Queue, name: str, value: int) -> None:
    q.configure(**{name: value})
    assert getattr(q, name) == value


def test_rejected_configure_changes_nothing(q: Queue) -> None:
    before = q.settings
    with pytest.raises(MqliteError):
        q.configure(visibility_timeout=5, retention=10)
    assert q.settings == before
    assert q.visibility_timeout == 30


def test_configure_unknown_name(q: Queue) -> None:
    with pytest.raises(MqliteError) as e:
        q.configure(bogus=1)
    assert _code(e) == "InvalidAttributeName"


@pytest.mark.parametrize("name", ["", "a" * 81, "bad name", "x.fifo"])
def test_constructor_bad_name(name: str) -> None:
    with pytest.raises(MqliteError) as e:
        Queue(name, fifo=False)
    assert _code(e) == "InvalidParameterValue"


def test_defaults() -> None:
    q = Queue("d")
    assert (q.visibility_timeout, q.delay, q.retention, q.max_message_size, q.receive_wait) == (
        30,
        0,
        345_600,
        1_048_576,
        0,
    )
    assert q.fifo is False
    assert q.name == "d"
    assert q.arn == "arn:aws:sqs:us-east-1:000000000000:d"


# --- in-flight limit ------------------------------------------------------------------------------


def test_in_flight_limit(clock: ManualClock) -> None:
    q = Queue("l", clock=clock, max_in_flight=2)
    for i in range(4):
        q.send(str(i))
    assert len(q.receive(10)) == 2
    with pytest.raises(MqliteError) as e:
        q.receive()
    assert _code(e) == "OverLimit"
    clock.autojump = True
    assert q.receive(wait=5) == []
    assert st(q) == (2, 2, 0)


# --- errors hierarchy -----------------------------------------------------------------------------


def test_error_hierarchy(q: Queue) -> None:
    from mqlite import errors

    assert issubclass(errors.QueueDoesNotExist, LookupError)
    assert not issubclass(errors.QueueDoesNotExist, ValueError)
    assert errors.QueueDoesNotExist.code == "QueueDoesNotExist"
    for bad in ("InvalidParameterValue", "ReceiptHandleIsInvalid", "InvalidAttributeValue"):
        assert issubclass(getattr(errors, bad), ValueError)
    with pytest.raises(ValueError, match="MessageBody"):
        q.send("")


def _forge(handle: str, seq: int, count: int) -> str:
    prefix = handle.rsplit("-", 1)[0]
    return f"{prefix}-{seq:x}.{count:x}"


def test_forged_handles_are_invalid(q: Queue) -> None:
    """A well-formed handle this queue never issued is ReceiptHandleIsInvalid (§6.3, §7)."""
    q.send("received")
    q.send("delayed", delay=60)
    q.send("visible")
    [m] = q.receive()
    h = m.receipt_handle
    assert h is not None
    for forged in [
        _forge(h, 2, 1),
        _forge(h, 3, 1),
        _forge(h, 1, 0),
        _forge(h, 1, 2),
        _forge(h, 999, 1),
    ]:
        text = f'The input receipt handle "{forged}" is not a valid receipt handle.'
        with pytest.raises(MqliteError, match=exact(text)) as e:
            q.delete(forged)
        assert _code(e) == "ReceiptHandleIsInvalid"
        with pytest.raises(MqliteError, match=exact(text)) as e:
            q.change_visibility(forged, 0)
        assert _code(e) == "ReceiptHandleIsInvalid"
        res = q.delete_batch([DeleteEntry("a", forged)])
        assert [f.code for f in res.failed] == ["ReceiptHandleIsInvalid"]
    assert st(q) == (1, 1, 1)
    q.delete(h)
    assert st(q) == (1, 0, 1)
    q.check_invariants()


@pytest.mark.parametrize(
    "value",
    [
        "1" * 38,
        "1" * 38 + "0" * 10,
        "-" + "9" * 38,
        "1." + "1" * 37,
        "1e126",
        "1e-128",
        "0",
        "-0.5",
    ],
)
def test_number_attribute_accepted(broker: Broker, value: str) -> None:
    q = broker.create_queue("q")
    from mqlite import Attribute

    q.send("x", attributes={"n": Attribute("Number", value)})


@pytest.mark.parametrize(
    "value", ["1" * 39, "1." + "1" * 38, "1e127", "1e-129", "1_000", " 5", "0x10", "Infinity"]
)
def test_number_attribute_rejected(q: Queue, value: str) -> None:
    """38 significant digits at most (beyond Decimal's 28-digit context), plain syntax only."""
    from mqlite import Attribute

    with pytest.raises(MqliteError) as e:
        q.send("x", attributes={"n": Attribute("Number", value)})
    assert _code(e) == "InvalidParameterValue"
    assert q.stats().visible == 0


def test_configure_message_names_the_range(q: Queue) -> None:
    with pytest.raises(
        MqliteError,
        match=exact(
            "Invalid value for the parameter MaximumMessageSize. Reason: must be an integer from"
            " 1024 to 1048576, got 1."
        ),
    ):
        q.configure(max_message_size=1)


def test_batch_duplicate_id_message(broker: Broker) -> None:
    q = broker.create_queue("q")
    with pytest.raises(MqliteError, match=exact("Id a repeated.")) as e:
        q.send_batch([SendEntry("a", "x"), SendEntry("a", "y")])
    assert _code(e) == "BatchEntryIdsNotDistinct"


def test_batch_total_counts_attributes(q: Queue) -> None:
    entry = SendEntry("a", "x" * 1_048_000, attributes={"k": "v" * 600})
    with pytest.raises(
        MqliteError,
        match=exact(
            "Batch requests cannot be longer than 1048576 bytes. You have sent 1048607 bytes."
        ),
    ):
        q.send_batch([entry])
    assert q.stats().visible == 0


def test_batch_accepts_any_iterable(broker: Broker) -> None:
    q = broker.create_queue("q")
    res = q.send_batch(SendEntry(f"i{i}", f"m{i}") for i in range(3))
    assert [s.id for s in res.successful] == ["i0", "i1", "i2"]
    assert res.failed == []
    assert [m.body for m in q.receive(10)] == ["m0", "m1", "m2"]


def test_peeked_message_has_no_handle(q: Queue) -> None:
    q.send("p")
    [pk] = q.peek()
    calls: list[Callable[[], None]] = [lambda: q.delete(pk), lambda: q.change_visibility(pk, 1)]
    for call in calls:
        with pytest.raises(MqliteError) as e:
            call()
        assert _code(e) == "ReceiptHandleIsInvalid"
    assert st(q) == (1, 0, 0)


def test_cap_applies_after_visibility_expired(q: Queue, clock: ManualClock) -> None:
    q.send("z")
    [m] = q.receive(visibility_timeout=10)
    clock.advance(43_190)
    with pytest.raises(MqliteError) as e:
        q.change_visibility(m, 11)
    assert _code(e) == "InvalidParameterValue"
    assert st(q) == (1, 0, 0)  # the rejected call changed nothing
    q.change_visibility(m, 10)
    assert st(q) == (0, 1, 0)


def test_receive_zero_visibility_stays_visible(q: Queue) -> None:
    q.send("b")
    [m] = q.receive(visibility_timeout=0)
    assert m.receive_count == 1
    assert st(q) == (1, 0, 0)
    [m2] = q.receive(visibility_timeout=0)
    assert m2.receive_count == 2


def test_retention_boundary_on_configure(clock: ManualClock) -> None:
    q = Queue("r", clock=clock)
    q.send("a")
    clock.advance(59)
    q.send("b")
    clock.advance(1)
    q.configure(retention=60)  # "a" is exactly 60 s old: gone; "b" stays
    assert [m.body for m in q.peek()] == ["b"]


def test_standard_queue_keeps_group_id_without_ordering(q: Queue, clock: ManualClock) -> None:
    # Fair queues: a standard queue stores MessageGroupId and returns it, but a group
    # neither orders nor blocks its messages (spec/sqs.md §3, send rule 7).
    first = q.send("a", group_id="tenant-1", attributes={"k": "v"})
    q.send("b", group_id="tenant-1", delay=5)
    q.send("c", group_id="tenant-1")
    assert first.sequence_number is None
    [a] = q.receive()
    assert (a.body, a.group_id, a.attributes["k"].value) == ("a", "tenant-1", "v")
    assert a.md5_of_attributes == first.md5_of_attributes
    [c] = q.receive()  # not blocked by "a", in flight in the same group
    assert (c.body, c.group_id) == ("c", "tenant-1")
    clock.advance(5)
    [b] = q.receive()
    assert (b.body, b.group_id, b.deduplication_id) == ("b", "tenant-1", None)
    q.check_invariants()
