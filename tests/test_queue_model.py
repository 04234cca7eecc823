"""Stateful test: the standard Queue against a small, obviously-correct model."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import mqlite._state
from mqlite import ManualClock, Message, MqliteError, Queue, QueueStats, SendResult
from mqlite._send import prepare
from mqlite._state import IN_FLIGHT, QueueState, Record, Refusal

RETENTION = 60
DEFAULT_VT = 3


@dataclass
class Msg:
    seq: int
    body: str
    message_id: str
    sent_at: float
    visible_at: float
    receive_count: int = 0
    received_at: float | None = None
    fate: str | None = None  # None while in the queue; "deleted", "expired", "purged"


@contextmanager
def compaction(slack: int, every: int) -> Iterator[None]:
    """Queue cores made inside use these rebuild thresholds (they read them when made)."""
    saved = mqlite._state.COMPACT_SLACK, mqlite._state.COMPACT_EVERY
    mqlite._state.COMPACT_SLACK, mqlite._state.COMPACT_EVERY = slack, every
    try:
        yield
    finally:
        mqlite._state.COMPACT_SLACK, mqlite._state.COMPACT_EVERY = saved


class QueueLike(Protocol):
    """The calls the model makes: a Queue's, or the core's through a thin adapter."""

    def send(self, body: str, *, delay: float | None = None) -> SendResult: ...
    def receive(
        self, max_messages: int = 1, *, visibility_timeout: float | None = None
    ) -> list[Message]: ...
    def delete(self, handle: str) -> None: ...
    def change_visibility(self, handle: str, timeout: float) -> None: ...
    def purge(self) -> None: ...
    def stats(self) -> QueueStats: ...
    def peek(
        self, *, include_in_flight: bool = False, include_delayed: bool = False
    ) -> list[Message]: ...
    def check_invariants(self) -> None: ...


class QueueModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.queue = self.make_queue()
        self.msgs: list[Msg] = []
        self.handles: list[tuple[str, int]] = []  # (receipt handle, seq)
        self.last_purge: float | None = None

    def make_queue(self) -> QueueLike:
        return Queue("model", clock=self.clock, retention=RETENTION, visibility_timeout=DEFAULT_VT)

    # --- the model ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.clock.time()

    def expire(self) -> None:
        for m in self.msgs:
            if m.fate is None and self.now >= m.sent_at + RETENTION:
                m.fate = "expired"

    def live(self) -> list[Msg]:
        self.expire()
        return [m for m in self.msgs if m.fate is None]

    def counts(self) -> tuple[int, int, int]:
        visible = in_flight = delayed = 0
        for m in self.live():
            if m.visible_at <= self.now:
                visible += 1
            elif m.receive_count:
                in_flight += 1
            else:
                delayed += 1
        return visible, in_flight, delayed

    # --- rules --------------------------------------------------------------------------------

    @rule(delay=st.one_of(st.none(), st.integers(0, 5)))
    def send(self, delay: int | None) -> None:
        seq = len(self.msgs)
        body = f"m{seq}"
        result = self.queue.send(body, delay=delay)
        self.expire()
        self.msgs.append(Msg(seq, body, result.message_id, self.now, self.now + (delay or 0)))

    @rule(k=st.integers(1, 10), vt=st.one_of(st.none(), st.integers(0, 5)))
    def receive(self, k: int, vt: int | None) -> None:
        got = self.queue.receive(k, visibility_timeout=vt)
        eligible = [m for m in self.live() if m.visible_at <= self.now]
        expected = eligible[:k]
        assert [m.body for m in got] == [m.body for m in expected]
        timeout = DEFAULT_VT if vt is None else vt
        for message, m in zip(got, expected, strict=True):
            m.receive_count += 1
            m.received_at = self.now
            m.visible_at = self.now + timeout
            assert message.message_id == m.message_id
            assert message.receive_count == m.receive_count
            assert message.receipt_handle is not None
            self.handles.append((message.receipt_handle, m.seq))

    @precondition(lambda self: self.handles)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        handle, seq = data.draw(st.sampled_from(self.handles))
        self.queue.delete(handle)
        m = self.msgs[seq]
        self.expire()
        if m.fate is None:
            m.fate = "deleted"

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), timeout=st.integers(0, 5))
    def change_visibility(self, data: st.DataObject, timeout: int) -> None:
        handle, seq = data.draw(st.sampled_from(self.handles))
        m = self.msgs[seq]
        self.expire()
        if m.fate is not None:
            with pytest.raises(MqliteError) as e:
                self.queue.change_visibility(handle, timeout)
            assert e.value.code == "InvalidParameterValue"
            assert "Message does not exist" in e.value.message
        else:
            self.queue.change_visibility(handle, timeout)
            m.visible_at = self.now + timeout

    @rule(garbage=st.sampled_from(["", "junk", "AQEB-1.1"]))
    def bad_handle(self, garbage: str) -> None:
        calls: list[Callable[[], None]] = [
            lambda: self.queue.delete(garbage),
            lambda: self.queue.change_visibility(garbage, 0),
        ]
        for call in calls:
            with pytest.raises(MqliteError) as e:
                call()
            assert e.value.code == "ReceiptHandleIsInvalid"

    @rule(seconds=st.sampled_from([0, 0.5, 1, 2, 3, 5, 10, 30, 61]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def advance_to_next_deadline(self) -> None:
        deadlines = [
            t for m in self.live() for t in (m.visible_at, m.sent_at + RETENTION) if t > self.now
        ]
        if deadlines:
            self.clock.set(min(deadlines))

    @rule()
    def purge(self) -> None:
        if self.last_purge is not None and self.now - self.last_purge < 60:
            with pytest.raises(MqliteError) as e:
                self.queue.purge()
            assert e.value.code == "PurgeQueueInProgress"
            return
        self.queue.purge()
        self.last_purge = self.now
        for m in self.live():
            m.fate = "purged"

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def core_invariants(self) -> None:
        self.queue.check_invariants()

    @invariant()
    def stats_match(self) -> None:
        s = self.queue.stats()
        assert (s.visible, s.in_flight, s.delayed) == self.counts()

    @invariant()
    def contents_match(self) -> None:
        peeked = self.queue.peek(include_in_flight=True, include_delayed=True)
        assert [p.message_id for p in peeked] == [m.message_id for m in self.live()]
        visible = self.queue.peek()
        assert [p.body for p in visible] == [
            m.body for m in self.live() if m.visible_at <= self.now
        ]

    @invariant()
    def every_message_accounted_for(self) -> None:
        live_ids = {
            p.message_id for p in self.queue.peek(include_in_flight=True, include_delayed=True)
        }
        for m in self.msgs:
            if m.message_id in live_ids:
                assert m.fate is None
            else:
                assert m.fate in {"deleted", "expired", "purged"}


class EagerCompactionModel(QueueModel):
    """The same model with every rebuild threshold at its smallest, so every compaction
    path runs between the steps (and the invariants check each one)."""

    def make_queue(self) -> QueueLike:
        with compaction(slack=0, every=1):
            return super().make_queue()


QueueModel.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestQueueModel = QueueModel.TestCase
# Fewer examples: every removal rebuilds here, and the default thresholds run above.
EagerCompactionModel.TestCase.settings = settings(
    max_examples=50, stateful_step_count=40, deadline=None
)
TestEagerCompactionModel = EagerCompactionModel.TestCase


# --- compaction, directly ------------------------------------------------------------------------

T0 = 1_000.0


def _core(fifo: bool) -> QueueState:
    with compaction(slack=10**9, every=1):  # nothing is rebuilt until the test says so
        return QueueState(fifo=fifo, retention=RETENTION, handle_prefix="h-")


def _received(taken: tuple[list[Message], list[Record]] | Refusal) -> list[Message]:
    assert not isinstance(taken, Refusal), taken
    return taken[0]


def _history(state: QueueState) -> None:
    """Operations that leave stale entries in every lazily-pruned structure."""
    for i in range(40):
        if state.fifo:
            state.send(T0, f"id{i}", prepare(f"m{i}", None, None, f"g{i % 8}", f"d{i}"))
        else:
            state.send(T0, f"id{i}", prepare(f"m{i}", delay=5 if i % 7 == 0 else 0))
    got = _received(state.receive(T0, 10, 30, None))
    for m in got[:3]:
        state.delete(T0, m.receipt_handle)  # stale hidden and expiry entries
    for m in got[3:6]:
        assert state.change_visibility(T0, m.receipt_handle, 0) is True  # "returned" ones
    for m in got[6:8]:
        state.change_visibility(T0, m.receipt_handle, 2)  # earlier than the run's last: heap
    more = _received(state.receive(T0, 10, 30, None))
    for m in more[::2]:
        state.delete(T0, m.receipt_handle)
    ready = state.redrive_candidates(T0)
    # Stale fresh/returned entries; FIFO: stale ready groups.
    state.take_for_redrive(T0, ready, len(ready) - 3, None)
    flying = [m.receipt_handle for m in got[6:] + more[1::2]]
    for handle in flying[:-3]:
        state.delete(T0, handle)
    late = Record(10_000, "late", "late", "md5", {}, None, T0 - 30)  # enqueued earlier
    late.group_id = "late"
    state.restore(T0, [late])
    [copy] = [r for r in state.records() if r.message_id == "late"]
    assert state.take_for_redrive(T0, deque([copy]), 1, None) == [copy]  # a stale expiry entry


def _sizes(state: QueueState) -> tuple[int, int, int, int]:
    return (
        len(state._expiry),
        len(state._hidden),
        len(state._fresh) + len(state._returned),
        len(state._ready_groups),
    )


def _future(state: QueueState) -> list[object]:
    """What the core does from here on: every receive until it is empty, over time."""
    seen: list[object] = [state.visible, state.in_flight, state.delayed, state.next_deadline()]
    now = T0
    while list(state.records()):
        assert now < T0 + 1000, "the core never emptied"
        taken = state.receive(now, 3, 4, 3)
        assert not isinstance(taken, Refusal)
        got, dead = taken
        seen.append([(now, m.message_id, m.receipt_handle, m.receive_count) for m in got])
        seen.append([r.message_id for r in dead])
        for m in got[1:2]:
            state.delete(now, m.receipt_handle)
        state.check_invariants()
        now += 1
    return seen


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_compaction_drops_stale_entries_and_changes_nothing(fifo: bool) -> None:
    state, twin = _core(fifo), _core(fifo)
    _history(state)
    _history(twin)
    state.check_invariants()
    before = _sizes(state)
    live = len(list(state.records()))
    hidden = state.delayed + state.in_flight
    assert before[0] > 2 * live  # past the rebuild threshold, with no slack
    assert before[1] > 2 * hidden
    if fifo:
        assert state._stale_ready > 0
    else:
        assert before[2] > 2 * state.visible
    state._slack = state._hidden.slack = state._expiry.slack = 0
    state._compact()
    state._compact_ready_groups()
    state.check_invariants()
    after = _sizes(state)
    assert after[0] == live
    assert after[1] == hidden
    if fifo:
        assert state._stale_ready == 0
        assert after[3] == len([g for g in state._ready_groups if g.messages])
    else:
        assert after[2] == state.visible
    assert [(r.seq, r.state, r.receive_count) for r in state.records()] == [
        (r.seq, r.state, r.receive_count) for r in twin.records()
    ]
    assert _future(state) == _future(twin)


def test_deadlines_compact_keeps_order() -> None:
    state = _core(False)
    for i in range(30):
        state.send(T0, f"id{i}", prepare(f"m{i}"))
    got = _received(state.receive(T0, 10, 50, None))
    for k, m in enumerate(got):
        state.change_visibility(T0, m.receipt_handle, 40 - k)  # each earlier: the heap
    for m in got[::3]:
        state.delete(T0, m.receipt_handle)
    hidden = state._hidden
    order: list[tuple[float, int]] = []
    stale = len(hidden)
    hidden.compact()
    assert len(hidden) < stale
    assert len(hidden) == state.in_flight
    flying = [r.seq for r in state.records() if r.state == IN_FLIGHT]
    now = T0
    while (deadline := hidden.earliest()) is not None:
        now = deadline
        while (due := hidden.pop_due(now)) is not None:
            assert due.state == IN_FLIGHT
            order.append((now, due.seq))
    assert order == sorted(order)
    assert [seq for _, seq in order] == sorted(flying, key=lambda s: -s)


def test_record_keeps_no_unread_deadline() -> None:
    """A hidden record's deadline lives in the deadline queue only: nothing else reads it."""
    assert "ready_at" not in Record.__slots__


def test_core_operations_advance_to_now_themselves() -> None:
    """Each operation applies what is due at the *now* it is given: no separate advance."""
    state = _core(False)
    state.send(T0, "a", prepare("a", delay=5))
    assert _received(state.receive(T0 + 1, 1, 30, None)) == []  # still delayed
    [m] = _received(state.receive(T0 + 10, 1, 30, None))
    assert m.body == "a"
    assert state.stats(T0 + 40) == QueueStats(1, 0, 0)  # its visibility ended
    assert state.stats(T0 + RETENTION) == QueueStats(0, 0, 0)  # retention
