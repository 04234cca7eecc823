"""FIFO queue rules (spec/sqs.md §8), with exact error codes."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

import pytest

from mqlite.broker import Broker
from mqlite.clock import ManualClock
from mqlite.errors import (
    InvalidAttributeName,
    InvalidParameterValue,
    MissingParameter,
    MqliteError,
)
from mqlite.message import DeleteEntry, Message, QueueStats, SendEntry, SendResult
from mqlite.queue import Queue


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def fifo(clock: ManualClock, name: str = "q.fifo", **kw: object) -> Queue:
    return Queue(name, clock=clock, **kw)  # type: ignore[arg-type]


def fifo_on(broker: Broker, name: str = "q.fifo", **kw: object) -> Queue:
    return broker.create_queue(name, **kw)


def bodies(msgs: list) -> list[str]:  # type: ignore[type-arg]
    return [m.body for m in msgs]


# --- names ---------------------------------------------------------------------------------


def test_fifo_inferred_from_suffix(clock: ManualClock) -> None:
    assert Queue("a.fifo", clock=clock).fifo
    assert not Queue("a", clock=clock).fifo
    assert Queue("a.fifo", fifo=True, clock=clock).fifo


@pytest.mark.parametrize(("name", "flag"), [("a", True), ("a" * 76 + ".fifo", None), ("", None)])
def test_fifo_name_errors(broker: Broker, name: str, flag: bool | None) -> None:
    with pytest.raises(InvalidParameterValue) as err:
        broker.create_queue(name, fifo=flag)
    assert err.value.code == "InvalidParameterValue"


def test_fifo_suffix_with_fifo_false(clock: ManualClock) -> None:
    with pytest.raises(InvalidParameterValue) as err:
        Queue("a.fifo", fifo=False, clock=clock)
    assert err.value.code == "InvalidParameterValue"


@pytest.mark.moto_differs(
    "moto accepts ContentBasedDeduplication on a standard queue; SQS: InvalidAttributeName"
)
def test_fifo_only_setting_on_standard_queue(broker: Broker) -> None:
    with pytest.raises(MqliteError) as err:
        broker.create_queue("a", content_based_deduplication=True)
    assert err.value.code == "InvalidAttributeName"
    assert isinstance(err.value, InvalidAttributeName)


# --- send-side rules -----------------------------------------------------------------------


def test_group_id_required(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True)
    with pytest.raises(MissingParameter) as err:
        q.send("x")
    assert err.value.code == "MissingParameter"
    assert q.stats().visible == 0


def test_group_id_required_in_batch(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True)
    with pytest.raises(InvalidParameterValue) as err:
        q.send_batch([SendEntry("a", "x", group_id="g"), SendEntry("b", "y")])
    assert err.value.code == "InvalidParameterValue"
    assert q.stats().visible == 0


def test_dedup_id_required_unless_content_based(clock: ManualClock) -> None:
    q = fifo(clock)
    with pytest.raises(InvalidParameterValue) as err:
        q.send("x", group_id="g")
    assert err.value.code == "InvalidParameterValue"
    with pytest.raises(InvalidParameterValue):
        q.send_batch([SendEntry("a", "x", group_id="g")])
    q.send("x", group_id="g", deduplication_id="d")
    assert q.stats().visible == 1


def test_per_message_delay_rejected(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True)
    with pytest.raises(InvalidParameterValue) as err:
        q.send("x", group_id="g", delay=5)
    assert err.value.code == "InvalidParameterValue"
    q.send("x", group_id="g", delay=0)
    assert q.stats().visible == 1


def test_queue_delay_applies_and_change_is_retroactive(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True, delay=10)
    q.send("x", group_id="g")
    assert q.stats().delayed == 1
    clock.advance(5)
    assert q.receive() == []
    q.configure(delay=3)
    assert bodies(q.receive()) == ["x"]


@pytest.mark.moto_differs("moto sends a FIFO message without a SequenceNumber in its answer")
def test_sequence_numbers_strictly_increase(broker: Broker) -> None:
    q = fifo_on(broker, content_based_deduplication=True)
    seqs = [q.send(f"m{i}", group_id=f"g{i % 3}").sequence_number for i in range(30)]
    assert all(s is not None for s in seqs)
    ints = [int(s) for s in seqs if s is not None]
    assert ints == sorted(ints)
    assert len(set(ints)) == 30
    assert all(len(s) == 20 for s in seqs if s is not None)
    msgs = q.receive(10)
    assert all(m.sequence_number is not None for m in msgs)


# --- receive algorithm (§8.4) --------------------------------------------------------------


@pytest.mark.moto_differs(
    "moto answers a FIFO receive in send order; SQS keeps one group's messages contiguous"
)
def test_groups_contiguous_in_one_response(broker: Broker) -> None:
    q = fifo_on(broker, content_based_deduplication=True)
    for g, b in [("g1", "g1-m1"), ("g2", "g2-m1"), ("g1", "g1-m2"), ("g1", "g1-m3")]:
        q.send(b, group_id=g)
    assert bodies(q.receive(10)) == ["g1-m1", "g1-m2", "g1-m3", "g2-m1"]


def test_in_flight_head_blocks_group_new_sends_do_not_unblock(broker: Broker) -> None:
    q = fifo_on(broker, content_based_deduplication=True)
    q.send("a1", group_id="a")
    q.send("a2", group_id="a")
    [m] = q.receive(1)
    assert m.body == "a1"
    assert q.receive(10) == []
    q.send("a3", group_id="a")
    assert q.receive(10) == []


def test_partial_delete_keeps_group_blocked(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True)
    for b in ["g1-m1", "g1-m2", "g1-m3"]:
        q.send(b, group_id="g1")
    m1, m2 = q.receive(2)
    q.send("g2-m1", group_id="g2")
    q.send("g2-m2", group_id="g2")
    q.send("g3-m1", group_id="g3")
    q.delete(m1)
    assert bodies(q.receive(10)) == ["g2-m1", "g2-m2", "g3-m1"]
    q.delete(m2)
    assert bodies(q.receive(10)) == ["g1-m3"]
    q.check_invariants()


@pytest.mark.parametrize("release", ["cmv0", "delete", "expiry"])
def test_release_wakes_long_poll(clock: ManualClock, release: str) -> None:
    q = fifo(clock, content_based_deduplication=True, visibility_timeout=30)
    q.send("a1", group_id="a")
    q.send("a2", group_id="a")
    [m] = q.receive(1)
    got: list[list[str]] = []
    t = threading.Thread(target=lambda: got.append(bodies(q.receive(10, wait=20))))
    t.start()
    # give the poller time to block (it is woken by the release, not by the clock)
    for _ in range(200):
        if q._waiters:
            break
        threading.Event().wait(0.005)
    assert q._waiters == 1
    if release == "cmv0":
        q.change_visibility(m, 0)
        expected = ["a1", "a2"]
    elif release == "delete":
        q.delete(m)
        expected = ["a2"]
    else:
        clock.advance(30)
        expected = ["a1", "a2"]
    t.join(5)
    assert not t.is_alive()
    assert got == [expected]


def test_messages_before_extended_one_are_returned(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True, visibility_timeout=10)
    for i in range(3):
        q.send(f"m{i}", group_id="g")
    msgs = q.receive(10)
    assert bodies(msgs) == ["m0", "m1", "m2"]
    q.change_visibility(msgs[1], 100)
    clock.advance(10)
    assert bodies(q.receive(10)) == ["m0"]


def test_order_after_timeout(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True, visibility_timeout=5)
    for i in range(4):
        q.send(f"m{i}", group_id="g")
    first = q.receive(2)
    q.delete(first[0])
    clock.advance(5)
    assert bodies(q.receive(10)) == ["m1", "m2", "m3"]


def test_fresh_queue_groups_follow_first_message(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True)
    for g in ["g3", "g1", "g2", "g1"]:
        q.send(f"{g}-{q.stats().visible}", group_id=g)
    got = bodies(q.receive(10))
    assert [b.split("-")[0] for b in got] == ["g3", "g1", "g1", "g2"]


# --- deduplication (§8.2) ------------------------------------------------------------------


def test_duplicate_returns_original_id_and_is_not_stored(clock: ManualClock) -> None:
    q = fifo(clock)
    r1 = q.send("x", group_id="g", deduplication_id="d")
    r2 = q.send("other body", group_id="h", deduplication_id="d")
    assert r2.message_id == r1.message_id
    assert q.stats().visible == 1


def test_content_based_dedup_body_only(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True)
    r1 = q.send("x", group_id="g", attributes={"a": "1"})
    r2 = q.send("x", group_id="g", attributes={"a": "2"})
    assert r1.message_id == r2.message_id
    r3 = q.send("x", group_id="g", deduplication_id="explicit")
    assert r3.message_id != r1.message_id
    assert q.stats().visible == 2


def test_dedup_window_5_minutes_survives_delete(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True)
    r1 = q.send("x", group_id="g")
    [m] = q.receive()
    q.delete(m)
    clock.advance(299)
    assert q.send("x", group_id="g").message_id == r1.message_id
    assert q.stats().visible == 0
    clock.advance(1)  # window runs from the original send, duplicates don't extend it
    r3 = q.send("x", group_id="g")
    assert r3.message_id != r1.message_id
    assert q.stats().visible == 1


def test_dedup_window_when_the_clock_is_set_back(clock: ManualClock) -> None:
    q = Queue("q.fifo", clock=clock)
    start = clock.time()
    first = q.send("a", group_id="g", deduplication_id="d1")
    clock.set(start - 200)
    second = q.send("b", group_id="g", deduplication_id="d2")  # expires at start + 100
    assert q.send("b", group_id="g", deduplication_id="d2").message_id == second.message_id
    clock.set(start + 100)  # d2's five minutes are over; d1's are not
    assert q.send("b", group_id="g", deduplication_id="d2").message_id != second.message_id
    assert q.send("a", group_id="g", deduplication_id="d1").message_id == first.message_id
    clock.set(start + 300)
    assert q.send("a", group_id="g", deduplication_id="d1").message_id != first.message_id
    assert q.stats().visible == 4


def test_purge_clears_dedup(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True)
    r1 = q.send("x", group_id="g")
    q.purge()
    r2 = q.send("x", group_id="g")
    assert r2.message_id != r1.message_id
    assert q.stats().visible == 1


def test_dedup_scope_message_group(clock: ManualClock) -> None:
    q = fifo(clock, deduplication_scope="messageGroup")
    a = q.send("x", group_id="g1", deduplication_id="d")
    b = q.send("x", group_id="g2", deduplication_id="d")
    c = q.send("x", group_id="g1", deduplication_id="d")
    assert a.message_id != b.message_id
    assert c.message_id == a.message_id
    assert q.stats().visible == 2


@pytest.mark.moto_differs("moto deduplicates per message group under DeduplicationScope=queue")
def test_dedup_scope_queue_ignores_group(broker: Broker) -> None:
    q = fifo_on(broker)
    a = q.send("x", group_id="g1", deduplication_id="d")
    b = q.send("y", group_id="g2", deduplication_id="d")
    assert a.message_id == b.message_id


def test_throughput_limit_settings(clock: ManualClock) -> None:
    q = fifo(clock, deduplication_scope="messageGroup", fifo_throughput_limit="perMessageGroupId")
    assert q.fifo_throughput_limit == "perMessageGroupId"
    with pytest.raises(MqliteError) as err:
        fifo(clock, fifo_throughput_limit="fast")
    assert err.value.code == "InvalidAttributeValue"
    with pytest.raises(MqliteError) as err:
        fifo(clock, deduplication_scope="group")
    assert err.value.code == "InvalidAttributeValue"
    with pytest.raises(MqliteError) as err:
        Queue("std", fifo_throughput_limit="perMessageGroupId", clock=clock)
    assert err.value.code == "InvalidAttributeName"
    # perMessageGroupId requires DeduplicationScope=messageGroup (spec §2.2)
    with pytest.raises(MqliteError) as err:
        fifo(clock, fifo_throughput_limit="perMessageGroupId")
    assert err.value.code == "InvalidAttributeValue"
    # only the dedup scope is observable; the limit changes no behaviour
    q.send("x", group_id="g1", deduplication_id="d")
    q.send("x", group_id="g2", deduplication_id="d")
    assert q.stats().visible == 2


# --- expired handles -----------------------------------------------------------------------


def test_expired_fifo_handle_rejected(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True, visibility_timeout=5)
    q.send("x", group_id="g")
    [m] = q.receive()
    clock.advance(5)
    with pytest.raises(InvalidParameterValue) as err:
        q.delete(m)
    assert err.value.code == "InvalidParameterValue"
    assert str(err.value).endswith("The receipt handle has expired.")
    assert m.receipt_handle is not None
    res = q.delete_batch([DeleteEntry("a", m.receipt_handle)])
    assert res.successful == []
    [f] = res.failed
    assert f.code == "ReceiptHandleIsInvalid"
    assert q.stats().visible == 1


# --- counts (§2.3) -------------------------------------------------------------------------


def test_approximate_counts_include_blocked_messages(clock: ManualClock) -> None:
    q = fifo(clock, content_based_deduplication=True)
    for g in ["g1", "g2", "g3"]:
        for i in range(2):
            q.send(f"{g}-{i}", group_id=g)
    q.receive(1)  # g1-0
    q.receive(1)  # g2-0 (g1 blocked)
    s = q.stats()
    assert (s.visible, s.in_flight, s.delayed) == (4, 2, 0)


# --- real threads --------------------------------------------------------------------------


def test_threads_per_group_order_exactly_once() -> None:
    q = Queue("t.fifo", content_based_deduplication=True, visibility_timeout=60)
    groups, per_group = 20, 25
    for i in range(per_group):
        for g in range(groups):
            q.send(f"{g}:{i}", group_id=str(g))
    seen: dict[str, list[int]] = defaultdict(list)
    lock = threading.Lock()
    active: set[str] = set()
    errors: list[str] = []

    def consume() -> None:
        idle = 0
        while idle < 3:
            msgs = q.receive(10, wait=0.05)
            if not msgs:
                idle += 1
                continue
            idle = 0
            mine = {m.group_id for m in msgs}
            with lock:
                if mine & active:
                    errors.append(f"group handed to two consumers: {mine & active}")
                active.update(g for g in mine if g)
                for m in msgs:
                    g, i = m.body.split(":")
                    seen[g].append(int(i))
            for m in msgs:
                q.delete(m)
            with lock:
                active.difference_update(g for g in mine if g)

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert dict(seen.items()) == {str(g): list(range(per_group)) for g in range(groups)}
    q.check_invariants()
    assert q.stats().visible == 0
    assert q.stats().in_flight == 0


# --- model-based ---------------------------------------------------------------------------

from hypothesis import settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

VT = 10
MAX_RECEIVES = 3


@dataclass
class Entry:
    """The model's view of one stored message."""

    body: str
    deadline: float | None = None  # hidden until then; None: not in flight
    handle: str | None = None
    receive_count: int = 0


class FifoLike(Protocol):
    """The calls the model makes: a Queue's, or the core's through a thin adapter."""

    def send(self, body: str, *, group_id: str, deduplication_id: str) -> SendResult: ...
    def receive(self, max_messages: int = 1) -> list[Message]: ...
    def delete(self, handle: str) -> None: ...
    def change_visibility(self, handle: str, timeout: float) -> None: ...
    def stats(self) -> QueueStats: ...
    def peek(self) -> list[Message]: ...
    def check_invariants(self) -> None: ...


class FifoMachine(RuleBasedStateMachine):
    """Per-group order, blocking, visibility changes, dead letters and dedup, vs a model.

    Every message sent (and not suppressed as a duplicate) is, at every step, in exactly
    one place: its group in the model (ready or in flight), deleted, or in the DLQ.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.q, self.dlq = self.make_queues()
        self.now = 0.0
        self.counter = 0
        self.groups: dict[str, list[Entry]] = {}  # each group's messages in send order
        self.dedup: dict[str, tuple[str, float]] = {}
        self.stored = 0
        self.deleted = 0
        self.dead: list[str] = []  # bodies moved to the DLQ, in the order they moved

    def make_queues(self) -> tuple[FifoLike, FifoLike]:
        """The queue under test and its dead-letter queue."""
        dlq = Queue("m-dlq.fifo", clock=self.clock)
        q = Queue(
            "m.fifo",
            clock=self.clock,
            visibility_timeout=VT,
            dead_letter_queue=dlq,
            max_receive_count=MAX_RECEIVES,
        )
        return q, dlq

    def _ready(self, entry: Entry) -> bool:
        return entry.deadline is None or entry.deadline <= self.now

    def _in_flight(self) -> list[tuple[str, Entry]]:
        return [(g, e) for g, msgs in self.groups.items() for e in msgs if not self._ready(e)]

    @rule(group=st.sampled_from(["a", "b", "c"]), dedup=st.sampled_from(["d1", "d2", None]))
    def send(self, group: str, dedup: str | None) -> None:
        self.counter += 1
        body = f"{group}:{self.counter}"
        key = dedup if dedup is not None else f"u{self.counter}"
        res = self.q.send(body, group_id=group, deduplication_id=key)
        old = self.dedup.get(key)
        if old is not None and self.now - old[1] < 300:
            assert res.message_id == old[0]
            return
        self.dedup[key] = (res.message_id, self.now)
        self.groups.setdefault(group, []).append(Entry(body))
        self.stored += 1

    @rule(n=st.integers(1, 10))
    def receive(self, n: int) -> None:
        # Each group's receivable run: its ready messages from the head.
        runs: dict[str, list[Entry]] = {}
        for g, msgs in self.groups.items():
            k = 0
            while k < len(msgs) and self._ready(msgs[k]):
                k += 1
            runs[g] = msgs[:k]
        got = self.q.receive(n)
        moved = [m.body for m in self.dlq.peek()][len(self.dead) :]
        assert len(got) <= n
        seen_groups: list[str] = []
        for m in got:
            assert m.group_id is not None
            if not seen_groups or seen_groups[-1] != m.group_id:
                assert m.group_id not in seen_groups, "group not contiguous"
                seen_groups.append(m.group_id)
        taken = {m.body for m in got} | set(moved)
        for g, run in runs.items():
            # What a receive takes from a group (returned or moved) is a prefix of its run,
            # and a message moves exactly when it has been received MAX_RECEIVES times.
            flags = [entry.body in taken for entry in run]
            assert flags == sorted(flags, reverse=True), f"group {g} not taken in order"
            for entry in run:
                if entry.body in taken:
                    assert (entry.body in moved) == (entry.receive_count >= MAX_RECEIVES)
        if len(got) < n:
            # Room was left, so every receivable message was returned or moved.
            assert taken == {e.body for run in runs.values() for e in run}
        by_body = {e.body: e for msgs in self.groups.values() for e in msgs}
        for m in got:
            entry = by_body[m.body]
            entry.deadline = self.now + VT
            entry.handle = m.receipt_handle
            entry.receive_count += 1
            assert m.receive_count == entry.receive_count
        for body in moved:
            group = body.split(":")[0]
            self.groups[group].remove(by_body[body])
        self.dead.extend(moved)

    @precondition(lambda self: bool(self._in_flight()))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        g, entry = data.draw(st.sampled_from(self._in_flight()))
        self.q.delete(str(entry.handle))
        self.groups[g].remove(entry)
        self.deleted += 1

    @precondition(lambda self: bool(self._in_flight()))
    @rule(data=st.data(), timeout=st.sampled_from([0, 5, 20]))
    def change_visibility(self, data: st.DataObject, timeout: int) -> None:
        _, entry = data.draw(st.sampled_from(self._in_flight()))
        self.q.change_visibility(str(entry.handle), timeout)
        entry.deadline = None if timeout == 0 else self.now + timeout

    @rule(dt=st.sampled_from([1, 5, 10, 150]))
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)
        self.now += dt
        for msgs in self.groups.values():
            for e in msgs:
                if self._ready(e):
                    e.deadline = None

    @invariant()
    def consistent(self) -> None:
        self.q.check_invariants()
        self.dlq.check_invariants()
        s = self.q.stats()
        total = sum(len(m) for m in self.groups.values())
        in_flight = len(self._in_flight())
        assert (s.visible, s.in_flight, s.delayed) == (total - in_flight, in_flight, 0)
        assert [m.body for m in self.dlq.peek()] == self.dead
        # Nothing lost, nothing invented.
        assert self.stored == total + self.deleted + len(self.dead)


TestFifoMachine = FifoMachine.TestCase
TestFifoMachine.settings = hsettings(max_examples=80, stateful_step_count=50, deadline=None)


class EagerCompactionFifoMachine(FifoMachine):
    """The same model with the queues' rebuild thresholds at their smallest, so the FIFO
    rebuilds (stale ready-list entries, hidden and expiry entries) run between steps."""

    def __init__(self) -> None:
        import mqlite._state as core

        saved = core.COMPACT_SLACK, core.COMPACT_EVERY
        core.COMPACT_SLACK, core.COMPACT_EVERY = 0, 1  # read when the queues are made
        try:
            super().__init__()
        finally:
            core.COMPACT_SLACK, core.COMPACT_EVERY = saved


TestEagerCompactionFifoMachine = EagerCompactionFifoMachine.TestCase
TestEagerCompactionFifoMachine.settings = hsettings(
    max_examples=30, stateful_step_count=50, deadline=None
)


# --- emptied groups are freed ----------------------------------------------------------------

GROUPS = 300


@pytest.fixture
def tiny_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queues made in the test rebuild their lazily-pruned structures as early as possible."""
    import mqlite._state

    monkeypatch.setattr(mqlite._state, "COMPACT_SLACK", 0)


def _groups_held(q: Queue) -> tuple[int, int]:
    """(groups held, entries in the ready list) inside the queue."""
    state = q._state
    return len(state._groups), len(state._ready_groups)


def _send_groups(q: Queue, n: int = GROUPS, tag: str = "") -> None:
    for i in range(n):
        q.send(f"m{tag}{i}", group_id=f"g{i}", deduplication_id=f"d{tag}{i}")
        q.check_invariants()


def test_groups_freed_on_retention_expiry(clock: ManualClock, tiny_slack: None) -> None:
    q = fifo(clock, retention=60)
    _send_groups(q)
    assert _groups_held(q) == (GROUPS, GROUPS)
    clock.advance(60)
    assert q.stats().visible == 0
    q.check_invariants()
    groups, ready = _groups_held(q)
    assert groups == 0
    assert ready <= 1  # freed groups may linger in the ready list until it is rebuilt


def test_groups_freed_on_delete(clock: ManualClock, tiny_slack: None) -> None:
    q = fifo(clock)
    _send_groups(q)
    received = []
    while batch := q.receive(10):
        received += batch
        q.check_invariants()
    for m in received:
        q.delete(m)
        q.check_invariants()
    assert _groups_held(q) == (0, 0)


def test_groups_freed_on_purge(clock: ManualClock) -> None:
    q = fifo(clock)
    _send_groups(q)
    q.purge()
    q.check_invariants()
    assert _groups_held(q) == (0, 0)


def test_unread_fifo_dead_letter_queue_frees_its_groups(
    clock: ManualClock, tiny_slack: None
) -> None:
    dlq = fifo(clock, "dlq.fifo", retention=60)
    q = fifo(clock, dead_letter_queue=dlq, max_receive_count=1)
    _send_groups(q)
    while q.receive(10, visibility_timeout=0):
        q.check_invariants()
    assert q.receive(10) == []  # every message moved on its second receive
    q.check_invariants()
    dlq.check_invariants()
    assert _groups_held(q) == (0, 0)
    assert dlq.stats().visible == GROUPS
    assert _groups_held(dlq)[0] == GROUPS
    clock.advance(60)  # nobody reads the dead-letter queue: retention empties it
    assert dlq.stats().visible == 0
    dlq.check_invariants()
    groups, ready = _groups_held(dlq)
    assert groups == 0
    assert ready <= 1


def test_groups_freed_on_redrive(clock: ManualClock, tiny_slack: None) -> None:
    dlq = fifo(clock, "dlq.fifo")
    q = fifo(clock, dead_letter_queue=dlq, max_receive_count=1)
    _send_groups(q)
    while q.receive(10, visibility_timeout=0):
        pass
    q.receive(10)
    assert dlq.stats().visible == GROUPS
    assert dlq.redrive() == GROUPS
    dlq.check_invariants()
    groups, ready = _groups_held(dlq)
    assert groups == 0
    assert ready <= 1
    assert q.stats().visible == GROUPS
    q.check_invariants()


def test_freed_group_id_is_reused_in_order(clock: ManualClock, tiny_slack: None) -> None:
    """A group freed while in the ready list, then sent to again, keeps FIFO order."""
    q = fifo(clock, retention=60)
    _send_groups(q, 5)
    clock.advance(60)
    q.stats()
    _send_groups(q, 5, tag="new")
    q.check_invariants()
    got = []
    while batch := q.receive(10):
        got += batch
        for m in batch:
            q.delete(m)
        q.check_invariants()
    assert bodies(got) == [f"mnew{i}" for i in range(5)]
    assert _groups_held(q) == (0, 0)
