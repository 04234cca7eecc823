"""Reopening: the plain-shape fast path and the general one together restore a queue exactly
as its in-memory twin holds it, and the garbage collector is left as it was found."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mqlite import Attribute, Broker, ManualClock, Message, Queue, SendEntry, _loader


def _same(message: Message) -> Message:
    """What both twins must agree on: everything but the random id and handle."""
    return message._replace(message_id="", receipt_handle=None)


def _everything(queue: Queue) -> list[Message]:
    return [_same(m) for m in queue.peek(include_in_flight=True, include_delayed=True)]


def _fill(broker: Broker, clock: ManualClock) -> None:
    """Every shape of stored message, interleaved in send order: plain ones (ready, never
    received, no attributes) between received, returned, delayed, in-flight, attribute-
    carrying and dead-letter-sourced ones, in a standard queue, its dead-letter queue and a
    FIFO queue."""
    dlq = broker.create_queue("dead")
    jobs = broker.create_queue(
        "jobs", dead_letter_queue=dlq, max_receive_count=2, visibility_timeout=5
    )
    fifo = broker.create_queue("f.fifo", content_based_deduplication=True)
    jobs.send("p0")
    jobs.send("poison")
    jobs.send_batch([SendEntry(id=str(i), body=f"p{i}") for i in range(1, 4)])
    assert [m.body for m in jobs.receive(2)] == ["p0", "poison"]
    clock.advance(6)  # both ready again, received once
    jobs.send("attrs", attributes={"n": 7, "b": b"\x01"})
    jobs.send("later", delay=60)
    jobs.send("p4")
    assert [m.body for m in jobs.receive(2)] == ["p0", "poison"]
    clock.advance(6)
    # p0 and poison move to the dead-letter queue (received twice); p1..p3 go in flight.
    flying = jobs.receive(3)
    assert [m.body for m in flying] == ["p1", "p2", "p3"]
    jobs.change_visibility(flying[1], 0)  # p2: ready again, received once
    jobs.send_batch([SendEntry(id=str(i), body=f"q{i}") for i in range(3)])
    dlq.send("plain in the dead-letter queue")
    fifo.send("f0", group_id="a")
    fifo.send("f1", group_id="b")
    fifo.send("f2", group_id="a")
    assert [m.body for m in fifo.receive()] == ["f0"]


@pytest.mark.parametrize("later", [0, 7, 61])
def test_a_mixed_file_reopens_equal_to_memory(tmp_path: Path, later: int) -> None:
    path = tmp_path / "b.db"
    clocks = ManualClock(1_000), ManualClock(1_000)
    durable, memory = Broker(path=path, clock=clocks[0]), Broker(clock=clocks[1])
    for broker, clock in zip((durable, memory), clocks, strict=True):
        _fill(broker, clock)
    durable.close()
    for clock in clocks:
        clock.advance(later)
    durable = Broker(path=path, clock=clocks[0])
    try:
        for name in ("jobs", "dead", "f.fifo"):
            d, m = durable.get_queue(name), memory.get_queue(name)
            d.check_invariants()
            assert d.stats() == m.stats()
            assert _everything(d) == _everything(m)
        # Receiving drains both alike, in the same order (fresh and returned merged).
        for name in ("jobs", "dead", "f.fifo"):
            d, m = durable.get_queue(name), memory.get_queue(name)
            for _ in range(4):
                assert [_same(x) for x in d.receive(3)] == [_same(x) for x in m.receive(3)]
            # New sends after the reopen take later sequence numbers on both.
            if not d.fifo:
                d.send("new")
                m.send("new")
                for clock in clocks:
                    clock.advance(100)
                assert [_same(x) for x in d.receive(10)] == [_same(x) for x in m.receive(10)]
            d.check_invariants()
    finally:
        durable.close()
        memory.close()


def test_only_plain_messages_take_the_bulk_path_and_keep_send_order(tmp_path: Path) -> None:
    clock = ManualClock(1_000)
    path = tmp_path / "q.db"
    with Queue("q", path=path, clock=clock) as q:
        for i in range(6):
            # Even: ready, some with attributes (plain); odd: still delayed (not plain).
            q.send(f"m{i}", attributes={"i": i} if i % 4 else None, delay=60 if i % 2 else 0)
        before = q.peek(include_delayed=True)
    with Queue("q", path=path, clock=clock) as q:
        state = q._state
        assert state is not None
        assert [r.body for r in state._fresh] == ["m0", "m2", "m4"]
        assert q.peek(include_delayed=True) == before
        clock.advance(60)
        got = q.receive(10)
        assert [m.body for m in got] == [f"m{i}" for i in range(6)]
        assert [m.attributes.get("i") for m in got] == [
            None if i % 4 == 0 else Attribute("Number", str(i)) for i in range(6)
        ]


@pytest.fixture
def freeze_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """Set FREEZE_AT; whatever a test freezes is unfrozen afterwards."""

    def set_to(value: int) -> None:
        monkeypatch.setattr(_loader, "FREEZE_AT", value)

    yield set_to
    gc.unfreeze()


def test_a_large_load_freezes_what_it_loaded(
    tmp_path: Path, freeze_at: Callable[[int], None]
) -> None:
    path = tmp_path / "q.db"
    with Queue("q", path=path) as q:
        q.send_batch([SendEntry(id=str(i), body=f"m{i}") for i in range(5)])
    gc.unfreeze()
    freeze_at(6)
    with Queue("q", path=path):
        assert gc.get_freeze_count() == 0  # 5 messages: below the threshold
        assert gc.isenabled()
    freeze_at(5)
    with Queue("q", path=path) as q:
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
        assert len(q.receive(10)) == 5


def test_loading_leaves_a_disabled_collector_disabled(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with Queue("q", path=path) as q:
        q.send("m")
    gc.disable()
    try:
        with Queue("q", path=path) as q:
            assert not gc.isenabled()
            assert [m.body for m in q.receive()] == ["m"]
    finally:
        gc.enable()


@pytest.mark.parametrize("kept", [0, 1, 4096])
def test_attributes_read_back_equal_and_each_message_has_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    # The same text decoded once is shared only through frozen values; with the cache
    # full (0, 1) the rest are decoded one by one.
    monkeypatch.setattr(_loader, "_DECODED_KEPT", kept)
    path = tmp_path / "q.db"
    shapes: list[dict[str, Any]] = [
        {"n": 1, "b": b"\x00\xff"},
        {"n": 1, "b": b"\x00\xff"},
        {"s": "x"},
        {"n": 1.5},
    ]
    with Queue("q", path=path) as q:
        for i, attributes in enumerate(shapes):
            q.send(f"m{i}", attributes=attributes)
        before = [m._replace(receipt_handle=None) for m in q.peek()]
    with Queue("q", path=path) as q:
        assert q.peek() == before
        after = q.receive(10)
        assert after[0].attributes == after[1].attributes
        assert after[0].attributes is not after[1].attributes


def test_messages_sent_while_the_clock_went_back_expire_as_in_memory(tmp_path: Path) -> None:
    # Enqueue times out of send order: the bulk load sorts them into the expiry order
    # (stably, so equal times keep send order), as pushing one by one would.
    clocks = ManualClock(10_000), ManualClock(10_000)
    durable = Queue("q", path=tmp_path / "q.db", clock=clocks[0], retention=100)
    memory = Queue("q", clock=clocks[1], retention=100)
    for start in (10_000, 9_950, 10_000, 9_900, 9_975):
        for clock in clocks:
            clock.set(start)
        durable.send(f"at {start}")
        memory.send(f"at {start}")
    durable.close()
    durable = Queue("q", path=tmp_path / "q.db", clock=clocks[0], retention=100)
    try:
        durable.check_invariants()
        for now in (9_999, 10_001, 10_051, 10_076, 10_101):
            for clock in clocks:
                clock.set(now)
            assert [m.body for m in durable.peek()] == [m.body for m in memory.peek()]
            assert durable.stats() == memory.stats()
        assert memory.stats().visible == 0
    finally:
        durable.close()
        memory.close()
