"""Stateful test: a durable queue, closed and reopened at random, behaves as its in-memory twin.

Every operation runs on both twins, each on its own ManualClock set to the same time. After
every step what a user can observe must be equal: stats, peek of every message with all
its fields, and what each call returns or raises. Message ids and receipt handles are
random per twin, so they are mapped (the durable twin's to the in-memory twin's).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from _durable_support import copy_as_killed
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mqlite import (
    Broker,
    DeleteEntry,
    ManualClock,
    Message,
    MqliteError,
    Queue,
    SendEntry,
    VisibilityEntry,
)

SETTINGS: dict[str, Any] = {"retention": 400, "visibility_timeout": 3}


class _Twin:
    """One side: its clock and its queues (a broker's main queue and dead-letter queue)."""

    def __init__(self, variant: str, name: str, path: Path | None) -> None:
        self.variant, self.name, self.path = variant, name, path
        self.clock = ManualClock(1_000)
        self.broker: Broker | None = None
        # Objects left open by kills (closed at teardown, their files no longer used).
        self.killed: list[Broker | Queue] = []
        self.open()

    def open(self) -> None:
        # The settings are passed when the queue is made only: a reopen keeps the stored
        # ones, which configure may have changed.
        made = self.path is not None and self.path.exists()
        extra: dict[str, Any] = {} if made else dict(SETTINGS)
        if self.name.endswith(".fifo") and not made:
            extra["content_based_deduplication"] = True
        if self.variant == "queue":
            self.main = Queue(self.name, path=self.path, clock=self.clock, **extra)
            self.dlq: Queue | None = None
            return
        self.broker = Broker(path=self.path, clock=self.clock)
        if made:
            self.dlq = self.broker.get_queue("dead")
            self.main = self.broker.get_queue(self.name)
            return
        self.dlq = self.broker.create_queue("dead")
        self.main = self.broker.create_queue(
            self.name, dead_letter_queue=self.dlq, max_receive_count=1, **extra
        )

    def kill(self, new_path: Path) -> None:
        """What a kill -9 leaves: the file and its WAL copied while open, then opened."""
        assert self.path is not None
        copy_as_killed(self.path, new_path)
        self.killed.append(self.broker if self.broker is not None else self.main)
        self.path = new_path
        self.open()

    def close(self) -> None:
        for dead in self.killed:
            dead.close()
        if self.broker is not None:
            self.broker.close()
        else:
            self.main.close()

    def queues(self) -> list[Queue]:
        return [self.main] if self.dlq is None else [self.main, self.dlq]


def _batch(queue: Queue, ids: list[str], handles: list[str], timeout: int | None) -> Any:
    """delete_batch (*timeout* None) or change_visibility_batch on *handles*."""
    if timeout is None:
        return queue.delete_batch(DeleteEntry(i, h) for i, h in zip(ids, handles, strict=True))
    return queue.change_visibility_batch(
        VisibilityEntry(i, h, timeout) for i, h in zip(ids, handles, strict=True)
    )


def _outcome(call: Callable[[], Any], handle: str = "", twin: str = "") -> tuple[str, Any]:
    """What *call* returned, or its error; *handle* in the message is shown as *twin*'s."""
    try:
        return "ok", call()
    except MqliteError as e:
        return "error", (type(e).__name__, e.code, str(e).replace(handle, twin))


class DurableTwins(RuleBasedStateMachine):
    """A durable queue and an in-memory one receive the same calls."""

    variant = "queue"
    name = "jobs"

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        self.durable = _Twin(self.variant, self.name, self.folder / "q.db")
        self.memory = _Twin(self.variant, self.name, None)
        self.ids: dict[str, str] = {}  # durable message id -> in-memory message id
        self.numbers: dict[str, str] = {}  # durable sequence number -> in-memory one
        self.handles: list[tuple[str, str]] = []  # (durable handle, in-memory handle)
        self.counter = 0
        self.reopens = 0

    def teardown(self) -> None:
        self.durable.close()
        self.memory.close()
        shutil.rmtree(self.folder)

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")

    def both(self, call: Callable[[Queue], Any]) -> tuple[tuple[str, Any], tuple[str, Any]]:
        """Run *call* on each twin's main queue; both succeed or both fail alike."""
        d = _outcome(lambda: call(self.durable.main))
        m = _outcome(lambda: call(self.memory.main))
        assert d[0] == m[0], (d, m)
        if d[0] == "error":
            assert d == m
        return d, m

    def same_id(self, durable_id: str, memory_id: str) -> None:
        assert self.ids.setdefault(durable_id, memory_id) == memory_id

    def same_number(self, durable: str | None, memory: str | None) -> str | None:
        """*memory*, once *durable* is known as its twin's FIFO sequence number: a kill
        makes the durable twin's numbers jump (past its reservation), in the same order."""
        if durable is None or memory is None:
            assert durable == memory
            return memory
        if durable not in self.numbers:
            # A new number on both sides: larger than every number issued before.
            assert all(int(d) < int(durable) for d in self.numbers), durable
            assert all(int(m) < int(memory) for m in self.numbers.values()), memory
            self.numbers[durable] = memory
        assert self.numbers[durable] == memory
        return memory

    def norm(self, message: Message) -> Message:
        assert message.message_id in self.ids, f"unknown message {message}"
        assert message.sequence_number in self.numbers or message.sequence_number is None
        return message._replace(
            message_id=self.ids[message.message_id],
            receipt_handle=None,
            sequence_number=self.numbers.get(message.sequence_number or ""),
        )

    # --- rules --------------------------------------------------------------------------------

    @rule(
        delay=st.sampled_from([None, 0, 2, 5]),
        group=st.sampled_from(["a", "b"]),
        dedup=st.sampled_from([None, "x", "y"]),
    )
    def send(self, delay: int | None, group: str, dedup: str | None) -> None:
        body = f"m{self.counter}"
        self.counter += 1
        kwargs: dict[str, Any] = {"attributes": {"n": self.counter}}
        if self.fifo:
            kwargs.update(group_id=group, deduplication_id=dedup)
        else:
            kwargs["delay"] = delay
        (kind, d), (_, m) = self.both(lambda q: q.send(body, **kwargs))
        if kind == "ok":
            self.same_id(d.message_id, m.message_id)
            number = self.same_number(d.sequence_number, m.sequence_number)
            assert d._replace(message_id=m.message_id, sequence_number=number) == m

    @rule(size=st.integers(1, 10), group=st.sampled_from(["a", "b"]))
    def send_batch(self, size: int, group: str) -> None:
        entries = []
        for i in range(size):
            body = f"m{self.counter}"
            self.counter += 1
            entries.append(SendEntry(id=f"e{i}", body=body, group_id=group if self.fifo else None))
        (_, d), (_, m) = self.both(lambda q: q.send_batch(entries))
        assert d.failed == m.failed
        assert len(d.successful) == len(m.successful)
        for a, b in zip(d.successful, m.successful, strict=True):
            self.same_id(a.message_id, b.message_id)
            number = self.same_number(a.sequence_number, b.sequence_number)
            assert a._replace(message_id=b.message_id, sequence_number=number) == b

    @rule(k=st.integers(1, 10), vt=st.sampled_from([None, 0, 1, 4, 30]))
    def receive(self, k: int, vt: int | None) -> None:
        (_, d), (_, m) = self.both(lambda q: q.receive(k, visibility_timeout=vt))
        assert [self.norm(x) for x in d] == [x._replace(receipt_handle=None) for x in m]
        self.handles.extend((a.receipt_handle, b.receipt_handle) for a, b in zip(d, m, strict=True))

    @precondition(lambda self: self.handles)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        self.delete_pair(data.draw(st.sampled_from(self.handles)))

    def delete_pair(self, handles: tuple[str, str]) -> None:
        """Delete with each twin's handle: both succeed or fail alike."""
        hd, hm = handles
        d = _outcome(lambda: self.durable.main.delete(hd), hd, hm)
        m = _outcome(lambda: self.memory.main.delete(hm))
        assert d == m

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), timeout=st.sampled_from([0, 2, 10]))
    def change_visibility(self, data: st.DataObject, timeout: int) -> None:
        self.change_visibility_pair(data.draw(st.sampled_from(self.handles)), timeout)

    def change_visibility_pair(self, handles: tuple[str, str], timeout: int) -> None:
        """Change visibility with each twin's handle: both succeed or fail alike."""
        hd, hm = handles
        d = _outcome(lambda: self.durable.main.change_visibility(hd, timeout), hd, hm)
        m = _outcome(lambda: self.memory.main.change_visibility(hm, timeout))
        assert d == m

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), timeout=st.sampled_from([None, 0, 7]))
    def batch(self, data: st.DataObject, timeout: int | None) -> None:
        """delete_batch, or change_visibility_batch with a timeout; entries fail alike."""
        pairs = data.draw(st.lists(st.sampled_from(self.handles), min_size=1, max_size=4))
        ids = [f"e{i}" for i in range(len(pairs))]
        d_handles, m_handles = [p[0] for p in pairs], [p[1] for p in pairs]
        results = [
            _outcome(lambda: _batch(self.durable.main, ids, d_handles, timeout)),
            _outcome(lambda: _batch(self.memory.main, ids, m_handles, timeout)),
        ]
        (dk, d), (mk, m) = results
        if dk == mk == "ok":
            assert d.successful == m.successful
            failed = d.failed
            for hd, hm in pairs:
                failed = [attrs.evolve(f, message=f.message.replace(hd, hm)) for f in failed]
            assert failed == m.failed
        else:
            assert (dk, d[:2]) == (mk, m[:2])

    @rule(seconds=st.sampled_from([0.5, 1, 3, 5, 61, 301]))
    def advance(self, seconds: float) -> None:
        self.durable.clock.advance(seconds)
        self.memory.clock.advance(seconds)

    @rule(seconds=st.sampled_from([1, 4, 120]))
    def set_clock_back(self, seconds: float) -> None:
        for clock in (self.durable.clock, self.memory.clock):
            clock.set(max(clock.time() - seconds, 0.0))  # a clock shows no time before 0

    @rule(
        change=st.sampled_from([{"retention": 100}, {"retention": 400}, {"delay": 0}, {"delay": 4}])
    )
    def configure(self, change: dict[str, Any]) -> None:
        self.both(lambda q: q.configure(**change))

    @rule()
    def purge(self) -> None:
        self.both(lambda q: q.purge())

    @rule()
    def close_and_reopen(self) -> None:
        self.durable.close()
        self.durable.open()
        self.reopens += 1

    @rule()
    def kill_and_reopen(self) -> None:
        self.reopens += 1
        self.durable.kill(self.folder / f"q{self.reopens}.db")

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def observably_equal(self) -> None:
        for dq, mq in zip(self.durable.queues(), self.memory.queues(), strict=True):
            dq.check_invariants()
            assert dq.stats() == mq.stats()
            d = dq.peek(include_in_flight=True, include_delayed=True)
            m = mq.peek(include_in_flight=True, include_delayed=True)
            assert [self.norm(x) for x in d] == m


class FifoTwins(DurableTwins):
    """The same with a FIFO queue: groups, dedup ids and content-based deduplication."""

    name = "jobs.fifo"


class BrokerTwins(DurableTwins):
    """Brokers whose queue moves messages received more than once to a dead-letter queue."""

    variant = "broker"


_RUN = settings(max_examples=15, stateful_step_count=30)


def test_durable_queue_matches_memory() -> None:
    run_state_machine_as_test(DurableTwins, settings=_RUN)  # type: ignore[no-untyped-call]


def _replay_fifo_group_turn() -> None:
    """The steps that first showed a FIFO queue serving its groups in another order after
    a reopen: replayed on every run, whatever hypothesis draws."""
    machine = FifoTwins()
    try:
        machine.send_batch(size=1, group="a")
        machine.observably_equal()
        machine.receive(k=1, vt=None)
        machine.send_batch(size=1, group="b")
        machine.advance(seconds=3)
        machine.observably_equal()  # the core notices group a's message is back
        machine.close_and_reopen()
        machine.receive(k=1, vt=None)
    finally:
        machine.teardown()


def test_durable_fifo_queue_matches_memory() -> None:
    _replay_fifo_group_turn()
    run_state_machine_as_test(FifoTwins, settings=_RUN)  # type: ignore[no-untyped-call]


def test_a_dedup_id_forgotten_stays_forgotten_after_a_kill_and_a_clock_set_back() -> None:
    # Memory forgets "x" once its window has passed; the clock then goes back inside the
    # window and the process is killed: the file must have forgotten "x" with memory.
    machine = FifoTwins()
    try:
        machine.send(dedup="x", delay=None, group="a")
        machine.advance(seconds=301)
        machine.observably_equal()  # the call that forgets "x", and commits that
        machine.set_clock_back(seconds=2)
        machine.kill_and_reopen()
        machine.send(dedup="x", delay=None, group="a")  # new on both sides
        machine.observably_equal()
    finally:
        machine.teardown()


def test_reopening_keeps_every_dedup_id_still_in_its_window() -> None:
    # Ids restored in expiry order must not expire one another: "x" (sent after the clock
    # went back, so its window ends before the batch's) stays a duplicate after a reopen.
    machine = FifoTwins()
    try:
        machine.send_batch(group="a", size=1)
        machine.set_clock_back(seconds=360)
        machine.send(dedup="x", delay=None, group="a")
        machine.close_and_reopen()
        machine.send(dedup="x", delay=None, group="a")  # a duplicate on both sides
        machine.observably_equal()
    finally:
        machine.teardown()


def test_durable_broker_with_dead_letters_matches_memory() -> None:
    run_state_machine_as_test(BrokerTwins, settings=_RUN)  # type: ignore[no-untyped-call]


def test_every_state_survives_a_reopen_in_step_with_memory() -> None:
    # A fixed walk through the paths the random runs may reach rarely: a reopen with
    # messages delayed, in flight and dead-lettered, and handles used after it.
    for machine in (DurableTwins(), FifoTwins(), BrokerTwins()):
        try:
            machine.send(delay=5, group="a", dedup=None)
            machine.send_batch(size=3, group="b")
            machine.receive(k=2, vt=30)
            machine.close_and_reopen()
            machine.observably_equal()
            assert machine.durable.main.stats().in_flight == 2
            machine.change_visibility_pair(machine.handles[0], 0)
            machine.delete_pair(machine.handles[1])
            machine.advance(seconds=5)
            machine.receive(k=10, vt=None)  # a broker moves the redelivered message
            machine.close_and_reopen()
            machine.observably_equal()
            if machine.durable.dlq is not None:
                assert machine.durable.dlq.stats().visible == 1
            machine.delete_pair(machine.handles[1])  # already deleted: both refuse
            machine.purge()
            machine.close_and_reopen()
            machine.purge()  # within 60 s of the last purge: both refuse
            machine.observably_equal()
            assert machine.durable.main.stats().total == 0
        finally:
            machine.teardown()


def _turn_after_return(q: Queue, clock: ManualClock) -> None:
    q.send("m0", group_id="a")
    q.receive()
    q.send("m1", group_id="b")
    clock.advance(3)  # m0 is visible again: group a goes behind group b
    q.stats()


def _turn_after_delete(q: Queue, clock: ManualClock) -> None:
    q.send_batch([SendEntry("x", "m0", group_id="a"), SendEntry("y", "m2", group_id="a")])
    [m] = q.receive()
    q.send("m1", group_id="b")
    q.delete(m)  # group a goes behind group b


def _equal_deadlines_by_receive(q: Queue, clock: ManualClock) -> None:
    # Groups a then b are received in one call: both come back at the same instant, in
    # the order they were received (a's m3 first), not in send order (b's m2 is older).
    q.send("m0", group_id="b")
    q.send("m1", group_id="a")
    first = q.receive(2)
    q.send("m2", group_id="b")
    q.send("m3", group_id="a")
    q.delete(first[1])  # a's head: group a joins the ready list
    q.delete(first[0])  # b's head: group b joins behind it
    q.receive(2)  # a (m3), then b (m2), both hidden until now + 3
    clock.advance(3)


def _equal_deadlines_by_change_visibility(q: Queue, clock: ManualClock) -> None:
    # a's message is hidden after b's, until the same instant: b's m0 comes back first,
    # although a's is older.
    q.send("m1", group_id="a")
    q.send("m0", group_id="b")
    [a] = q.receive(visibility_timeout=10)
    [b] = q.receive(visibility_timeout=2)
    q.change_visibility(b, 10)
    q.change_visibility(a, 10)  # hidden last, so it comes back last
    clock.advance(10)


def _group_made_again_after_it_was_freed(q: Queue, clock: ManualClock) -> None:
    # Group a's stored turn (from a return) outlives the group; a new group a, made after
    # b, must still come after b.
    q.send("m9", group_id="a")
    [m] = q.receive()
    q.change_visibility(m, 0)  # a joins the ready list again: a stored turn
    [m] = q.receive()
    q.delete(m)  # a is freed
    q.send("m1", group_id="b")
    q.send("m2", group_id="a")


def _head_expired_while_its_group_waits(q: Queue, clock: ManualClock) -> None:
    # a's first message expires while a waits first in line: a keeps its place (before
    # b), now with a2 at its head, although b1 was sent before a2.
    q.configure(retention=60)
    q.send("a1", group_id="a")
    clock.advance(10)
    q.send("b1", group_id="b")
    clock.advance(10)
    q.send("a2", group_id="a")
    clock.advance(41)  # a1 is past its retention
    q.stats()


@pytest.mark.parametrize(
    ("steps", "first"),
    [
        (_turn_after_return, "m1"),
        (_turn_after_delete, "m1"),
        (_equal_deadlines_by_receive, "m3"),
        (_equal_deadlines_by_change_visibility, "m0"),
        (_group_made_again_after_it_was_freed, "m1"),
        (_head_expired_while_its_group_waits, "a2"),
    ],
)
def test_fifo_group_turn_survives_a_reopen(
    tmp_path: Path, steps: Callable[[Queue, ManualClock], None], first: str
) -> None:
    answers = []
    for path in [None, tmp_path / "f.db"]:
        clock = ManualClock(1_000)
        kw: dict[str, Any] = {"clock": clock, "content_based_deduplication": True}
        q = Queue("f.fifo", path=path, visibility_timeout=3, **kw)
        steps(q, clock)
        if path is not None:
            q.close()
            q = Queue("f.fifo", path=path, visibility_timeout=3, **kw)
        answers.append([m.body for m in q.receive()])
        q.close()
    assert answers == [[first], [first]]


def test_fifo_order_rows_of_freed_groups_and_gone_messages_are_dropped(tmp_path: Path) -> None:
    # Rows of freed groups and deleted messages go in batches while open and all at the
    # next opening: the file does not grow with every group or message ever used.
    import sqlite3

    def rows() -> tuple[int, int]:
        conn = sqlite3.connect(path)
        try:
            return (
                conn.execute("SELECT count(*) FROM groups").fetchone()[0],
                conn.execute("SELECT count(*) FROM hides").fetchone()[0],
            )
        finally:
            conn.close()

    path = tmp_path / "f.db"
    clock = ManualClock(1_000)
    kw: dict[str, Any] = {"clock": clock, "content_based_deduplication": True}
    with Queue("f.fifo", path=path, **kw) as q:
        for i in range(200):
            q.send(f"m{i}", group_id=f"g{i}")
            q.delete(q.receive()[0])
        q.send("kept", group_id="k")
        q.send("x", group_id="p")
        assert [m.body for m in q.receive()] == ["kept"]  # hidden: its order is stored
    groups, hides = rows()
    assert groups < 64  # a group made by a send and freed: no row, or one dropped in batches
    assert 1 <= hides <= 64
    with Queue("f.fifo", path=path, **kw) as q:
        assert q.stats().in_flight == 1
    assert rows() == (0, 1)
    with Queue("f.fifo", path=path, **kw) as q:
        q.purge()
    assert rows() == (0, 0)
