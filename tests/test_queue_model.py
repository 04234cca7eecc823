"""Stateful test: the standard Queue against a small, obviously-correct model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mqlite import ManualClock, MqliteError, Queue

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


class QueueModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.queue = Queue(
            "model", clock=self.clock, retention=RETENTION, visibility_timeout=DEFAULT_VT
        )
        self.msgs: list[Msg] = []
        self.handles: list[tuple[str, int]] = []  # (receipt handle, seq)
        self.last_purge: float | None = None

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


QueueModel.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestQueueModel = QueueModel.TestCase
