"""Worker (threads): real threads, bounded in time, every message accounted for."""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from mqlite import Broker, Interrupt, ManualClock, Message, Queue
from mqlite.errors import QueueDoesNotExist
from mqlite.message import BatchResult, DeleteEntry, DeleteResult, SendEntry
from mqlite.worker import DELETE_MARGIN, AsyncWorker, Retry, Worker

GUARD = 10.0  # wall-clock guard only: a test that needs it has failed


def until(cond: Callable[[], bool]) -> None:
    end = time.monotonic() + GUARD
    while not cond():
        assert time.monotonic() < end, "guard timeout"
        time.sleep(0.002)


def test_exactly_once_under_concurrency(broker: Broker) -> None:
    q = broker.create_queue("work")
    n = 200
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(m: Message) -> None:
        with lock:
            seen[m.body] += 1

    with Worker(q, handler, concurrency=8) as w:
        # Sent while the worker takes them: the queue stays short (moto's every receive and
        # send costs time in proportion to the messages it holds).
        for start in range(0, n, 10):
            q.send_batch(SendEntry(str(i), str(i)) for i in range(start, start + 10))
        until(lambda: w.processed == n)
    assert seen == Counter(str(i) for i in range(n))
    s = q.stats()
    assert (s.visible, s.in_flight, s.delayed) == (0, 0, 0)
    assert w.stats.failed == 0
    assert w.in_flight == 0


def test_raising_handler_redelivered_after_visibility_timeout() -> None:
    clock = ManualClock()
    q = Queue("q", clock=clock, visibility_timeout=30)
    q.send("x")
    calls: list[tuple[int, float]] = []  # (receive count, clock time) per handler call
    errors: list[BaseException] = []

    def handler(m: Message) -> None:
        calls.append((m.receive_count, clock.time()))
        if len(calls) == 1:
            raise RuntimeError("boom")

    w = Worker(q, handler, heartbeat=0, on_error=lambda m, e: errors.append(e))
    with w:
        until(lambda: w.failed == 1)
        start = calls[0][1]
        assert q.stats().in_flight == 1
        clock.advance(29)
        assert q.stats().in_flight == 1  # still hidden: nothing can receive it yet
        clock.advance(1)
        until(lambda: w.processed == 1)
    # Called again only by the redelivery, at the visibility timeout and not before.
    assert calls == [(1, start), (2, start + 30)]
    assert isinstance(errors[0], RuntimeError)
    assert q.stats().in_flight == 0
    assert q.stats().visible == 0


def test_poison_message_goes_to_dlq() -> None:
    clock = ManualClock()
    dlq = Queue("dlq", clock=clock)
    q = Queue("q", clock=clock, visibility_timeout=10, dead_letter_queue=dlq, max_receive_count=2)
    q.send("poison")

    def handler(m: Message) -> None:
        raise ValueError(m.body)

    with Worker(q, handler, heartbeat=0) as w:
        until(lambda: w.failed == 1)
        clock.advance(10)
        until(lambda: w.failed == 2)
        clock.advance(10)
        until(lambda: dlq.stats().visible == 1)
    assert w.failed == 2
    assert q.stats().visible == q.stats().in_flight == 0
    assert dlq.peek()[0].body == "poison"


def test_retry_delay_with_manual_clock() -> None:
    clock = ManualClock()
    q = Queue("q", clock=clock, visibility_timeout=30)
    q.send("r")
    calls: list[float] = []

    def handler(m: Message) -> None:
        calls.append(clock.time())
        if len(calls) == 1:
            raise Retry(delay=5)

    with Worker(q, handler, heartbeat=0) as w:
        until(lambda: w.retried == 1)
        clock.advance(4)
        assert q.stats().in_flight == 1  # the retry delay has not run out
        clock.advance(1)
        until(lambda: w.processed == 1)
    # Exactly two calls, the second when the delay ran out and not before.
    assert len(calls) == 2
    assert calls[1] - calls[0] == 5
    assert w.failed == 0


def test_heartbeat_keeps_long_job_invisible() -> None:
    clock = ManualClock()
    q = Queue("q", clock=clock, visibility_timeout=30)
    q.send("long")
    started = threading.Event()
    release = threading.Event()
    counts: list[int] = []

    def handler(m: Message) -> None:
        counts.append(m.receive_count)
        started.set()
        assert release.wait(GUARD)

    w = Worker(q, handler, concurrency=2)  # heartbeat every 15 s
    with w:
        assert started.wait(GUARD)
        for i in range(1, 9):  # 120 s: four visibility timeouts
            clock.advance(15)
            until(lambda: w.stats.heartbeats == i)  # noqa: B023 (called before i changes)
            assert q.stats().in_flight == 1
            assert q.stats().visible == 0
        release.set()
        until(lambda: w.processed == 1)
    assert counts == [1]
    assert q.stats() == type(q.stats())(0, 0, 0)


def test_heartbeat_respects_12_hour_cap() -> None:
    clock = ManualClock()
    q = Queue("q", clock=clock, visibility_timeout=43_000)
    q.send("x")
    started = threading.Event()
    release = threading.Event()

    def handler(m: Message) -> None:
        started.set()
        assert release.wait(GUARD)

    w = Worker(q, handler, concurrency=1)
    with w:
        assert started.wait(GUARD)
        clock.advance(21_500)
        until(lambda: w.stats.heartbeats == 1)  # capped extension to 43_200 total
        clock.advance(21_699)
        assert q.stats().in_flight == 1
        clock.advance(1)  # 12 hours since the receive: no extension can go past it
        assert q.stats().visible == 1
        release.set()
        until(lambda: w.processed == 1)
    assert q.stats() == type(q.stats())(0, 0, 0)  # deleted with its handle after all


@pytest.mark.parametrize("drain", [True, False])
def test_stop_leaves_nothing_in_flight(drain: bool) -> None:
    q = Queue("q", visibility_timeout=300)
    for i in range(10):
        q.send(str(i))
    barrier = threading.Barrier(5)
    release = threading.Event()
    first = iter(range(4))
    lock = threading.Lock()

    def handler(m: Message) -> None:
        with lock:
            is_first = next(first, None) is not None
        if is_first:
            barrier.wait(GUARD)
        assert release.wait(GUARD)

    w = Worker(q, handler, concurrency=4).start()
    barrier.wait(GUARD)  # four handlers running
    assert w.in_flight == 4
    assert q.stats().in_flight == 4  # prefetch no more than free slots
    if drain:
        release.set()
        w.stop(drain=True)
        # handlers freed by the release may take more before stop() stops the fetcher
        assert w.processed >= 4
        assert w.processed + q.stats().visible == 10
        assert w.stats.released == 0
    else:
        w.stop(drain=False)
        release.set()
        assert w.processed == 0
        assert w.stats.released == 4
        assert q.stats().visible == 10
    assert q.stats().in_flight == 0


@pytest.mark.parametrize("concurrency", [2, 8])
def test_every_thread_takes_a_blocked_handler_in_each_round(concurrency: int) -> None:
    # Idle threads are woken one by one, each by the one before: when every handler blocks,
    # the whole pool must still be running them at once, round after round (the threads
    # that went idle between rounds are woken again).
    q = Queue("q", visibility_timeout=300)
    barrier = threading.Barrier(concurrency + 1)

    def handler(m: Message) -> None:
        barrier.wait(GUARD)  # every thread of the pool, and the test, at once
        barrier.wait(GUARD)  # ... until the test has looked

    with Worker(q, handler, concurrency=concurrency, heartbeat=0) as w:
        for _ in range(3):
            for i in range(concurrency):
                q.send(str(i))
            barrier.wait(GUARD)
            assert w.in_flight == concurrency
            barrier.wait(GUARD)
            until(lambda: w.in_flight == 0)
    assert w.processed == 3 * concurrency
    assert q.stats().in_flight == q.stats().visible == 0


def test_stop_is_responsive_with_manual_clock() -> None:
    q = Queue("q", clock=ManualClock())
    w = Worker(q, lambda m: None).start()
    t0 = time.monotonic()
    w.stop()
    assert time.monotonic() - t0 < GUARD


def test_async_handler_on_owned_loop() -> None:
    q = Queue("q")
    for i in range(20):
        q.send(str(i))
    bodies: list[str] = []

    async def handler(m: Message) -> None:
        bodies.append(m.body)

    with Worker(q, handler, concurrency=4) as w:
        until(lambda: w.processed == 20)
    assert sorted(bodies, key=int) == [str(i) for i in range(20)]
    assert q.stats().visible == q.stats().in_flight == 0


# ---- batched deletes --------------------------------------------------------------------


class _Pool:
    """A worker whose pool is full of blocked handlers while one finished message waits.

    Concurrency 2 on four messages: ``done`` finishes at once, ``hold-1`` and ``hold-2``
    block until :attr:`release` is set, ``later`` stays in the queue. So the pool is busy
    (no idle flush) and the batch is not full: only a deadline (or stop) deletes ``done``.
    """

    def __init__(self, clock: ManualClock, delete_delay: float = 0.2) -> None:
        self.clock = clock
        self.start = clock.time()
        self.q = Queue("q", clock=clock, visibility_timeout=30)
        for body in ("done", "hold-1", "hold-2", "later"):
            self.q.send(body)
        self.release = threading.Event()
        self.handled: list[str] = []

        def handler(m: Message) -> None:
            self.handled.append(m.body)
            if m.body.startswith("hold"):
                assert self.release.wait(GUARD)

        self.w = Worker(self.q, handler, concurrency=2, heartbeat=0, delete_delay=delete_delay)
        self.w.start()
        until(lambda: sorted(self.handled) == ["done", "hold-1", "hold-2"])

    def wait_for_flush_deadline(self, after: float) -> None:
        """Until the heartbeat thread waits to delete ``done`` at start + *after*."""
        until(lambda: self.clock.pending_deadlines() == [self.start + after])
        assert self.w.processed == 0
        assert self.w.in_flight == 2
        assert self.q.stats().in_flight == 3  # done is finished but not deleted yet


def test_pending_delete_is_sent_after_delete_delay() -> None:
    pool = _Pool(ManualClock())  # delete_delay defaults to 0.2 s
    pool.wait_for_flush_deadline(0.2)
    pool.clock.advance(0.2)
    until(lambda: pool.w.processed == 1)
    assert pool.q.stats().in_flight == 2
    pool.release.set()
    until(lambda: pool.w.processed == 4)
    pool.w.stop()
    assert pool.handled.count("done") == 1
    assert pool.q.stats().total == 0


def test_pending_delete_is_sent_before_the_visibility_timeout() -> None:
    pool = _Pool(ManualClock(), delete_delay=3600)
    # The visibility timeout (30 s) ends first: the delete is due DELETE_MARGIN before it.
    pool.wait_for_flush_deadline(30 - DELETE_MARGIN)
    pool.clock.advance(28)
    assert pool.w.processed == 0  # nothing was due yet, so nothing was woken
    pool.clock.advance(30 - DELETE_MARGIN - 28)
    until(lambda: pool.w.processed == 1)
    assert pool.clock.time() - pool.start < 30
    assert pool.q.stats().in_flight == 2
    pool.release.set()
    until(lambda: pool.w.processed == 4)
    pool.w.stop()
    assert pool.handled.count("done") == 1  # never came back
    assert pool.q.stats().total == 0


def test_earlier_received_message_finishing_later_brings_the_flush_forward() -> None:
    # "b" (received at 10) is pending, due DELETE_MARGIN before its timeout at 40; then
    # "a" (received at 0) finishes: the batch must go DELETE_MARGIN before a's timeout.
    clock = ManualClock()
    start = clock.time()
    q = Queue("q", clock=clock, visibility_timeout=30)
    q.send("a")
    finish_a = threading.Event()
    release = threading.Event()
    handled: list[str] = []

    def handler(m: Message) -> None:
        handled.append(m.body)
        if m.body == "a":
            assert finish_a.wait(GUARD)
        elif m.body.startswith("hold"):
            assert release.wait(GUARD)

    w = Worker(q, handler, concurrency=2, heartbeat=0, delete_delay=3600).start()
    try:
        until(lambda: handled == ["a"])
        clock.advance(10)
        # One slot is free: it takes "b", then "hold-1"; the pool is then full, so nothing
        # finds the queue empty (which would send the pending deletes at once).
        q.send_batch(SendEntry(str(i), body) for i, body in enumerate(["b", "hold-1", "hold-2"]))
        until(lambda: clock.pending_deadlines() == [start + 40 - DELETE_MARGIN])
        finish_a.set()  # the slot it frees takes "hold-2"
        until(lambda: clock.pending_deadlines() == [start + 30 - DELETE_MARGIN])
        assert w.processed == 0
        clock.advance(30 - DELETE_MARGIN - 10)
        until(lambda: w.processed == 2)
        assert q.stats().in_flight == 2  # the two held messages
    finally:
        release.set()
        w.stop()
    assert sorted(handled) == ["a", "b", "hold-1", "hold-2"]
    assert q.stats().total == 0


def test_message_finishing_close_to_its_timeout_is_deleted_at_once() -> None:
    clock = ManualClock()
    q = Queue("q", clock=clock, visibility_timeout=30)
    for body in ("late", "hold-1", "hold-2", "later"):
        q.send(body)
    finish_late = threading.Event()
    release = threading.Event()
    handled: list[str] = []

    def handler(m: Message) -> None:
        handled.append(m.body)
        assert (finish_late if m.body == "late" else release).wait(GUARD)

    with Worker(q, handler, concurrency=2, heartbeat=0) as w:
        until(lambda: sorted(handled) == ["hold-1", "late"])
        clock.advance(30 - DELETE_MARGIN / 2)  # less than DELETE_MARGIN left
        finish_late.set()
        # Deleted by its own thread before it fetches hold-2: no deadline, no idle pool.
        until(lambda: w.processed == 1)
        until(lambda: sorted(handled) == ["hold-1", "hold-2", "late"])
        release.set()
        until(lambda: w.processed == 4)
    assert handled.count("late") == 1
    assert q.stats().total == 0


def test_stop_sends_pending_deletes() -> None:
    pool = _Pool(ManualClock())
    pool.wait_for_flush_deadline(0.2)
    pool.w.stop(drain=False)
    pool.release.set()
    assert pool.w.processed == 1
    assert pool.w.stats.released == 2
    s = pool.q.stats()
    assert (s.visible, s.in_flight) == (3, 0)
    assert sorted(m.body for m in pool.q.peek()) == ["hold-1", "hold-2", "later"]


def test_deletes_go_in_full_batches_under_load(monkeypatch: pytest.MonkeyPatch) -> None:
    q = Queue("q", clock=ManualClock())  # the clock stands still: no timed flush
    n = 95
    for i in range(n):
        q.send(str(i))
    sizes: list[int] = []
    lock = threading.Lock()
    real_batch, real_delete = q.delete_batch, q.delete

    def delete_batch(entries: Iterable[DeleteEntry]) -> BatchResult[DeleteResult]:
        items = list(entries)
        with lock:
            sizes.append(len(items))
        return real_batch(items)

    def delete(handle: str | Message) -> None:
        with lock:
            sizes.append(1)
        real_delete(handle)

    monkeypatch.setattr(q, "delete_batch", delete_batch)
    monkeypatch.setattr(q, "delete", delete)
    with Worker(q, lambda m: None, concurrency=4) as w:
        until(lambda: w.processed == n)
    assert sum(sizes) == n
    assert max(sizes) == 10
    # At most 4 messages are in hand when the queue first comes back empty (the first
    # idle flush), so at least 91 finished before it, in full batches.
    assert sizes.count(10) >= 9
    assert q.stats().total == 0


def test_failed_delete_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mqlite.worker")
    clock = ManualClock()
    q = Queue("q.fifo", clock=clock, visibility_timeout=30, content_based_deduplication=True)
    q.send("a", group_id="g")
    started = threading.Event()
    release = threading.Event()
    counts: list[int] = []

    def handler(m: Message) -> None:
        counts.append(m.receive_count)
        if len(counts) == 1:
            started.set()
            assert release.wait(GUARD)

    with Worker(q, handler, concurrency=1, heartbeat=0) as w:
        assert started.wait(GUARD)
        clock.advance(31)  # the FIFO receipt handle expires while the handler runs
        release.set()
        until(lambda: w.processed == 2)  # the failed delete counts, as a plain delete did
    assert counts == [1, 2]
    assert any("delete of" in r.getMessage() for r in caplog.records)
    assert q.stats().total == 0


def test_failed_entry_in_a_delete_batch_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mqlite.worker")
    clock = ManualClock()
    q = Queue("q.fifo", clock=clock, visibility_timeout=30, content_based_deduplication=True)
    bodies = ["done-1", "done-2", "hold-3", "hold-4", "hold-5", "hold-6"]
    for i, body in enumerate(bodies):
        q.send(body, group_id=f"g{i}")
    release = threading.Event()
    seen: dict[str, Message] = {}

    def handler(m: Message) -> None:
        seen[m.body] = m
        if m.body.startswith("hold"):
            assert release.wait(GUARD)

    w = Worker(q, handler, concurrency=4, heartbeat=0).start()
    until(lambda: sorted(seen) == bodies)
    until(lambda: w.in_flight == 4)  # the four holds: done-1 and done-2 have finished
    until(lambda: clock.pending_deadlines() == [clock.time() + 0.2])
    assert w.processed == 0  # done-1 and done-2 wait in one batch
    q.change_visibility(seen["done-1"], 0)  # its receipt handle is now stale
    w.stop(drain=False)
    release.set()
    assert w.processed == 2
    assert w.stats.released == 4
    assert [r.getMessage() for r in caplog.records if "delete of" in r.getMessage()] == [
        f"delete of {seen['done-1'].message_id} failed: The receipt handle has expired"
    ]
    assert sorted(m.body for m in q.peek()) == ["done-1", "hold-3", "hold-4", "hold-5", "hold-6"]


# ---- FIFO ---------------------------------------------------------------------------------


def test_fifo_groups_in_order_and_never_concurrent(broker: Broker) -> None:
    q = broker.create_queue("q.fifo", content_based_deduplication=True)
    groups, per_group = 3, 20
    for i in range(per_group):
        q.send_batch(SendEntry(f"{g}", f"{g}:{i}", group_id=f"g{g}") for g in range(groups))
    lock = threading.Lock()
    running: set[str] = set()
    overlaps: list[str] = []
    order: dict[str, list[int]] = {f"g{g}": [] for g in range(groups)}

    def handler(m: Message) -> None:
        group = m.group_id
        assert group is not None
        with lock:
            if group in running:
                overlaps.append(m.body)
            running.add(group)
            order[group].append(int(m.body.split(":")[1]))
        time.sleep(0.0005)  # widen the window a concurrent run of the group would hit
        with lock:
            running.discard(group)

    with Worker(q, handler, concurrency=4) as w:
        until(lambda: w.processed == groups * per_group)
    assert overlaps == []
    assert all(seq == list(range(per_group)) for seq in order.values())
    assert q.stats().total == 0


@pytest.mark.parametrize("failure", ["raise", "retry"])
def test_fifo_failure_releases_the_rest_of_its_group(failure: str) -> None:
    clock = ManualClock()
    q = Queue("q.fifo", clock=clock, visibility_timeout=30, content_based_deduplication=True)
    for body in ("m1", "m2", "m3"):
        q.send(body, group_id="g")
    calls: list[str] = []

    def handler(m: Message) -> None:
        calls.append(m.body)
        if len(calls) == 1:
            if failure == "retry":
                raise Retry(delay=5)
            raise RuntimeError("boom")

    with Worker(q, handler, concurrency=4, heartbeat=0) as w:
        # m1..m3 come in one receive; m1 fails, so m2 and m3 go back unprocessed.
        until(lambda: w.stats.released == 2)
        assert calls == ["m1"]
        assert q.stats().in_flight == 1  # m1 still blocks the group
        clock.advance(5 if failure == "retry" else 30)
        until(lambda: w.processed == 3)
    assert calls == ["m1", "m1", "m2", "m3"]
    assert q.stats().total == 0


def test_fifo_chain_waits_invisible_behind_a_long_handler() -> None:
    clock = ManualClock()
    q = Queue("q.fifo", clock=clock, visibility_timeout=30, content_based_deduplication=True)
    for body in ("long", "next"):
        q.send(body, group_id="g")
    release = threading.Event()
    seen: list[tuple[str, int]] = []

    def handler(m: Message) -> None:
        seen.append((m.body, m.receive_count))
        if m.body == "long":
            assert release.wait(GUARD)

    with Worker(q, handler, concurrency=2) as w:  # heartbeat every 15 s
        until(lambda: seen == [("long", 1)])
        for i in range(1, 5):  # 60 s: both messages are extended every 15 s
            clock.advance(15)
            until(lambda: w.stats.heartbeats == 2 * i)  # noqa: B023 (called before i changes)
            assert q.stats().in_flight == 2
        release.set()
        until(lambda: w.processed == 2)
    assert seen == [("long", 1), ("next", 1)]
    assert q.stats().total == 0


def test_delete_delay_must_not_be_negative(broker: Broker) -> None:
    with pytest.raises(ValueError, match="delete_delay"):
        Worker(broker.create_queue("q"), lambda m: None, delete_delay=-1)


def test_heartbeat_extends_under_the_worker_lock() -> None:
    # stop() and a finishing handler mark a job under the worker's lock; a heartbeat that
    # extends under the same lock can never land after a release or a retry and hide the
    # message again.
    clock = ManualClock()
    locked: list[bool] = []

    class Watched(Queue):
        def change_visibility(self, handle: str | Message, timeout: float) -> None:
            if timeout > 0:
                locked.append(w._lock.locked())
            super().change_visibility(handle, timeout)

    q = Watched("q", clock=clock, visibility_timeout=30)
    q.send("long")
    started = threading.Event()
    release = threading.Event()

    def handler(m: Message) -> None:
        started.set()
        assert release.wait(GUARD)

    w = Worker(q, handler, concurrency=1)  # heartbeat every 15 s
    with w:
        assert started.wait(GUARD)
        clock.advance(15)
        until(lambda: w.stats.heartbeats == 1)
        release.set()
        until(lambda: w.processed == 1)
    assert locked == [True]


# ---- stop() from inside a handler -----------------------------------------------------------


def _worker_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(name)]


@pytest.mark.parametrize("drain", [True, False])
def test_stop_from_inside_a_handler_returns(drain: bool) -> None:
    q = Queue("q", visibility_timeout=300)
    q.send("stop")
    returned = threading.Event()

    def handler(m: Message) -> None:
        w.stop(drain=drain)
        returned.set()

    w = Worker(q, handler, concurrency=1, name="w-inside")
    w.start()
    assert returned.wait(5)  # before the fix: stop() waited for its own job forever
    # The calling job finishes normally once its handler returns: its message is deleted.
    until(lambda: w.processed == 1)
    for t in _worker_threads("w-inside"):
        t.join(GUARD)
        assert not t.is_alive()
    assert q.stats().total == 0
    assert w.stats.released == 0


def test_stop_from_inside_a_handler_drains_the_others_and_skips_the_rest() -> None:
    q = Queue("q.fifo", visibility_timeout=300, content_based_deduplication=True)
    q.send("other", group_id="b")
    q.send("stop", group_id="a")
    q.send("after-stop", group_id="a")  # same receive, chained behind "stop": never started
    other_running = threading.Event()
    release_other = threading.Event()
    returned = threading.Event()
    handled: list[str] = []

    def handler(m: Message) -> None:
        handled.append(m.body)
        if m.body == "other":
            other_running.set()
            assert release_other.wait(GUARD)
        elif m.body == "stop":
            assert other_running.wait(GUARD)
            threading.Timer(0.01, release_other.set).start()
            w.stop()  # drains "other", releases "after-stop"
            returned.set()

    w = Worker(q, handler, concurrency=3, name="w-drain")
    w.start()
    assert returned.wait(5)
    assert "other" in handled  # drained: it finished before stop() returned
    until(lambda: w.processed == 2)
    for t in _worker_threads("w-drain"):
        t.join(GUARD)
        assert not t.is_alive()
    assert sorted(handled) == ["other", "stop"]
    assert w.stats.released == 1
    assert [m.body for m in q.peek()] == ["after-stop"]
    assert q.stats().in_flight == 0


def test_async_handler_stops_its_worker_through_a_thread() -> None:
    q = Queue("q")
    q.send("stop")
    outcome: list[str] = []
    returned = threading.Event()

    async def handler(m: Message) -> None:
        with pytest.raises(RuntimeError, match="blocks the event loop"):
            w.stop()
        await asyncio.to_thread(w.stop)
        outcome.append("stopped")
        returned.set()

    w = Worker(q, handler, concurrency=2, name="w-async-inside")
    w.start()
    assert returned.wait(5)
    until(lambda: w.processed == 1)
    for t in _worker_threads("w-async-inside"):
        t.join(GUARD)
        assert not t.is_alive()
    assert outcome == ["stopped"]
    assert q.stats().total == 0


def test_failed_receives_are_logged_with_the_queue_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mqlite.worker")

    class Failing(Queue):
        calls = 0

        def receive(
            self,
            max_messages: int = 1,
            *,
            visibility_timeout: float | None = None,
            wait: float | None = None,
            interrupt: Interrupt | None = None,
        ) -> list[Message]:
            Failing.calls += 1
            if Failing.calls <= 3:
                raise QueueDoesNotExist("The specified queue does not exist.")
            return super().receive(
                max_messages, visibility_timeout=visibility_timeout, wait=wait, interrupt=interrupt
            )

    q = Failing("jobs")
    q.send("x")
    with Worker(q, lambda m: None, concurrency=1, poll_interval=0.001) as w:
        until(lambda: w.processed == 1)
    texts = [r.getMessage() for r in caplog.records if "receive from queue jobs" in r.getMessage()]
    assert len(texts) == 3
    # The pause doubles with each failure in a row.
    assert [t.rsplit("retrying in ", 1)[1] for t in texts] == ["0.001 s", "0.002 s", "0.004 s"]


# ---- waiting on an empty queue: a long poll that stop() cuts short ---------------------------


class _CountingReceives(Queue):
    """Counts receive calls and the waits they asked for."""

    waits: list[float | None]

    def receive(
        self,
        max_messages: int = 1,
        *,
        visibility_timeout: float | None = None,
        wait: float | None = None,
        interrupt: Interrupt | None = None,
    ) -> list[Message]:
        self.waits.append(wait)
        return super().receive(
            max_messages, visibility_timeout=visibility_timeout, wait=wait, interrupt=interrupt
        )


def test_idle_worker_long_polls_instead_of_polling_every_few_milliseconds() -> None:
    q = _CountingReceives("idle")
    q.waits = []
    with Worker(q, lambda m: None, concurrency=2) as w:
        assert w.wait_idle(GUARD)
        before = len(q.waits)
        threading.Event().wait(0.3)  # idle: a 20 ms poll would receive ~15 times meanwhile
        assert len(q.waits) == before
        assert q.waits[-1] == 20  # the one receive in progress waits as long as SQS allows
        q.send("wakes it")
        until(lambda: w.processed == 1)


def test_stop_ends_the_long_poll_at_once_even_when_the_clock_stands_still() -> None:
    clock = ManualClock()
    q = Queue("idle", clock=clock)
    w = Worker(q, lambda m: None, concurrency=2).start()
    assert w.wait_idle(GUARD)
    until(lambda: clock.pending_deadlines() == [clock.time() + 20])  # the long poll
    stopper = threading.Thread(target=w.stop)
    stopper.start()
    stopper.join(GUARD)  # the clock never reaches the poll's end: only an interrupt ends it
    assert not stopper.is_alive()
    assert clock.pending_deadlines() == []
    q.send("after stop")
    assert q.stats().visible == 1  # nothing still polls


def test_long_polling_worker_picks_up_a_send_without_the_clock_moving() -> None:
    clock = ManualClock()
    q = Queue("idle", clock=clock)
    seen: list[str] = []
    with Worker(q, lambda m: seen.append(m.body), concurrency=2) as w:
        assert w.wait_idle(GUARD)
        q.send("a")
        assert w.wait_idle(GUARD)
        assert seen == ["a"]
        q.send("b", delay=5)
        clock.advance(5)  # the delay ends inside the long poll: the clock wakes it
        assert w.wait_idle(GUARD)
        assert seen == ["a", "b"]
    assert clock.time() == ManualClock().time() + 5


def test_a_message_that_ends_a_long_poll_counts_from_when_it_was_received() -> None:
    clock = ManualClock()
    q = Queue("idle", clock=clock, visibility_timeout=30)  # heartbeats every 15 s
    release = threading.Event()
    w = Worker(q, lambda m: release.wait(GUARD), concurrency=1).start()
    try:
        assert w.wait_idle(GUARD)
        clock.advance(10)  # inside the worker's long poll, which started at 0
        q.send("hold")
        until(lambda: w.in_flight == 1)
        clock.advance(6)  # 16 s after the poll began, 6 s after the receive
        assert w.wait_idle(GUARD, handlers=False)
        assert w.stats.heartbeats == 0
        clock.advance(9)  # 15 s after the receive
        assert w.wait_idle(GUARD, handlers=False)
        assert w.stats.heartbeats == 1
    finally:
        release.set()
        w.stop()


# ---- wait_idle: deterministic tests on a ManualClock ------------------------------------------


def test_wait_idle_catches_up_with_heartbeats_without_sleeping() -> None:
    clock = ManualClock()
    q = Queue("q", clock=clock, visibility_timeout=30)
    q.send("long")
    started = threading.Event()
    release = threading.Event()

    def handler(m: Message) -> None:
        started.set()
        assert release.wait(GUARD)

    with Worker(q, handler, concurrency=2) as w:  # heartbeat every 15 s
        assert started.wait(GUARD)
        for i in range(1, 9):  # 128 s: past one heartbeat per step, four visibility timeouts
            clock.advance(16)
            # The handler waits for this test, so do not wait for handlers to finish.
            assert w.wait_idle(GUARD, handlers=False)
            assert w.stats.heartbeats == i
            assert w.in_flight == 1
            assert q.stats().in_flight == 1
        release.set()
        assert w.wait_idle(GUARD)
        assert w.processed == 1
        assert q.stats().total == 0


def test_wait_idle_waits_for_sent_messages_and_their_deletes() -> None:
    clock = ManualClock()
    q = Queue("q", clock=clock)
    seen: list[str] = []

    with Worker(q, lambda m: seen.append(m.body), concurrency=3) as w:
        for r in range(4):
            q.send_batch(SendEntry(str(i), f"{r}-{i}") for i in range(7))
            assert w.wait_idle(GUARD)
            assert w.processed == len(seen) == 7 * (r + 1)
            assert w.in_flight == 0
            assert q.stats().total == 0


def test_wait_idle_times_out_on_a_blocked_handler_and_needs_a_started_worker() -> None:
    q = Queue("q", clock=ManualClock())
    q.send("x")
    release = threading.Event()
    w = Worker(q, lambda m: release.wait(GUARD))
    with pytest.raises(RuntimeError, match="not started"):
        w.wait_idle()
    with w:
        assert w.wait_idle(0.05) is False  # its handler has not finished
        assert w.wait_idle(GUARD, handlers=False)
        release.set()
        assert w.wait_idle(GUARD)


# ---- constructor arguments and the lifecycle -------------------------------------------------

_BAD_ARGS: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"handler": "not callable"}, TypeError, r"^handler must be callable, not str$"),
    ({"queue": "jobs"}, TypeError, r"^queue must be a mqlite Queue, not str$"),
    ({"concurrency": 0}, ValueError, r"^concurrency must be from 1 to 1000, not 0$"),
    ({"concurrency": 2.0}, TypeError, r"^concurrency must be an int, not float$"),
    ({"concurrency": True}, TypeError, r"^concurrency must be an int, not bool$"),
    ({"concurrency": 10**400}, ValueError, r"^concurrency must be from 1 to 1000, not 10{400}$"),
    (
        {"visibility_timeout": 10**400},
        ValueError,
        r"^visibility_timeout must be from 0 to 43200, not 10{400}$",
    ),
    (
        {"visibility_timeout": float("nan")},
        ValueError,
        r"^visibility_timeout must be from 0 to 43200, not nan$",
    ),
    ({"visibility_timeout": "30"}, TypeError, r"^visibility_timeout must be a number, not str$"),
    ({"heartbeat": -1}, ValueError, r"^heartbeat must be from 0 to 43200, not -1$"),
    ({"heartbeat": float("inf")}, ValueError, r"^heartbeat must be from 0 to 43200, not inf$"),
    ({"batch_size": 11}, ValueError, r"^batch_size must be from 1 to 10, not 11$"),
    ({"batch_size": 0}, ValueError, r"^batch_size must be from 1 to 10, not 0$"),
    ({"poll_interval": 0}, ValueError, r"^poll_interval must be > 0 and <= 3600, not 0$"),
    (
        {"poll_interval": 10**400},
        ValueError,
        r"^poll_interval must be > 0 and <= 3600, not 10{400}$",
    ),
    ({"delete_delay": -1}, ValueError, r"^delete_delay must be from 0 to 43200, not -1$"),
    ({"delete_delay": 10**400}, ValueError, r"^delete_delay must be from 0 to 43200, not 10{400}$"),
    ({"on_error": 3}, TypeError, r"^on_error must be callable or None, not int$"),
    ({"loop": "loop"}, TypeError, r"^loop must be an asyncio event loop or None, not str$"),
    ({"name": 5}, TypeError, r"^name must be a str, not int$"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), _BAD_ARGS)
def test_bad_constructor_arguments_are_refused(
    broker: Broker, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    args: dict[str, object] = {
        "queue": broker.create_queue("q"),
        "handler": lambda m: None,
        **kwargs,
    }
    queue, handler = args.pop("queue"), args.pop("handler")
    with pytest.raises(error, match=match):
        Worker(queue, handler, **args)  # type: ignore[arg-type]


def test_retry_delay_is_checked() -> None:
    with pytest.raises(ValueError, match=r"^Retry delay must be from 0 to 43200, not -1$"):
        Retry(-1)
    with pytest.raises(ValueError, match=r"^Retry delay must be from 0 to 43200, not 10{400}$"):
        Retry(10**400)
    assert Retry(5).delay == 5.0


def test_a_worker_is_single_use() -> None:
    w = Worker(Queue("q", clock=ManualClock()), lambda m: None)
    w.start()
    with pytest.raises(RuntimeError, match=r"^worker already started$"):
        w.start()
    w.stop()
    w.stop()  # a second stop does nothing
    with pytest.raises(RuntimeError, match=r"^a Worker is single-use: this one was stopped"):
        w.start()


# ---- logs ----------------------------------------------------------------------------------


def _worker_logs(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str, bool]]:
    return [
        (r.levelno, r.getMessage(), r.exc_info is not None)
        for r in caplog.records
        if r.name == "mqlite.worker"
    ]


def test_failure_log_names_queue_and_receive_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mqlite.worker")
    clock = ManualClock()
    q = Queue("orders", clock=clock, visibility_timeout=30)
    q.send("x")

    def handler(m: Message) -> None:
        raise RuntimeError("boom")

    with Worker(q, handler, heartbeat=0) as w:
        assert w.wait_idle(GUARD)
        clock.advance(30)
        assert w.wait_idle(GUARD)
        [m] = q.peek(include_in_flight=True)
    assert _worker_logs(caplog) == [
        (
            logging.ERROR,
            f"handler failed on message {m.message_id} from queue orders (receive count 1)",
            True,
        ),
        (
            logging.ERROR,
            f"handler failed on message {m.message_id} from queue orders (receive count 2)",
            True,
        ),
    ]


def test_failure_handled_by_on_error_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mqlite.worker")
    q = Queue("orders", clock=ManualClock())
    q.send("x")
    errors: list[BaseException] = []

    def handler(m: Message) -> None:
        raise RuntimeError("boom")

    with Worker(q, handler, heartbeat=0, on_error=lambda m, e: errors.append(e)) as w:
        assert w.wait_idle(GUARD)
    [m] = q.peek(include_in_flight=True)
    assert len(errors) == 1
    assert _worker_logs(caplog) == [
        (
            logging.DEBUG,
            f"handler failed on message {m.message_id} from queue orders (receive count 1)",
            True,
        ),
    ]


@pytest.mark.parametrize("failure", ["raise", "retry"])
def test_last_failure_before_the_dlq_is_a_warning(
    failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mqlite.worker")
    clock = ManualClock()
    dlq = Queue("orders-dlq", clock=clock)
    q = Queue(
        "orders", clock=clock, visibility_timeout=30, dead_letter_queue=dlq, max_receive_count=2
    )
    q.send("poison")

    def handler(m: Message) -> None:
        if failure == "retry":
            raise Retry(30)  # a retry counts toward max_receive_count too
        raise RuntimeError("boom")

    with Worker(q, handler, heartbeat=0, on_error=lambda m, e: None) as w:
        assert w.wait_idle(GUARD)
        [m] = q.peek(include_in_flight=True)
        assert not any(level == logging.WARNING for level, _, _ in _worker_logs(caplog))
        clock.advance(30)
        assert w.wait_idle(GUARD)
        assert _worker_logs(caplog) == [
            (
                logging.WARNING,
                f"message {m.message_id} from queue orders failed on receive 2 of"
                " max_receive_count 2: its next receive moves it to dead-letter queue"
                " orders-dlq",
                False,
            )
        ]
        clock.advance(30)
        assert w.wait_idle(GUARD)
    assert [x.body for x in dlq.peek()] == ["poison"]
    assert w.stats.failed + w.stats.retried == 2


# ---- docs/worker.md matches the signatures ---------------------------------------------------

WORKER_MD = Path(__file__).resolve().parent.parent / "docs" / "worker.md"


def _signature_text(cls: type) -> str:
    params = list(inspect.signature(cls).parameters.values())
    parts = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD] + ["*"]
    parts += [f"{p.name}={p.default!r}" for p in params if p.kind is p.KEYWORD_ONLY]
    return f"{cls.__name__}({', '.join(parts)})".replace("'", '"')


def _documented(cls: type) -> tuple[str, dict[str, object]]:
    """The signature block and the keyword table that follow it in docs/worker.md."""
    text = WORKER_MD.read_text()
    start = text.index(f"```\n{cls.__name__}(")
    block, rest = text[start + 4 :].split("```", 1)
    rows: dict[str, object] = {}
    for line in rest.splitlines():
        row = re.match(r"^\| `(\w+)` \| `([^`]*)` \|", line)
        if row:
            rows[row[1]] = ast.literal_eval(row[2])
        elif rows:
            break
    return " ".join(block.split()).replace("( ", "("), rows


@pytest.mark.parametrize("cls", [Worker, AsyncWorker])
def test_worker_page_matches_the_signature(cls: type) -> None:
    block, rows = _documented(cls)
    assert block == _signature_text(cls)
    params = inspect.signature(cls).parameters.values()
    assert rows == {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}


def test_wait_idle_from_a_handler_is_refused_instead_of_waiting_for_itself() -> None:
    q = Queue("q", clock=ManualClock())
    q.send("x")
    outcome: list[str] = []

    def handler(m: Message) -> None:
        try:
            w.wait_idle(GUARD)
        except RuntimeError as exc:
            outcome.append(str(exc))
        outcome.append(f"handlers=False: {w.wait_idle(GUARD, handlers=False)}")

    w = Worker(q, handler, concurrency=2)
    with w:
        assert w.wait_idle(GUARD)
    assert outcome == [
        "wait_idle() from a handler would wait for that handler",
        "handlers=False: True",
    ]


def test_a_worker_refuses_an_autojump_clock() -> None:
    q = Queue("q", clock=ManualClock(autojump=True))
    q.send("x")
    w = Worker(q, lambda m: None)
    with pytest.raises(RuntimeError, match=r"^a Worker cannot run on a ManualClock with autojump"):
        w.start()
    assert q.stats().visible == 1  # nothing was received


def test_leaving_the_with_block_waits_for_a_handler_that_stopped_the_worker() -> None:
    q = Queue("q", visibility_timeout=300)
    q.send("stop")
    returned = threading.Event()

    def handler(m: Message) -> None:
        w.stop()
        returned.set()
        time.sleep(0.05)  # still running when the with block below exits

    w = Worker(q, handler, concurrency=2, name="w-exit")
    with w:
        assert returned.wait(5)
    # __exit__'s stop() waited for the handler that had stopped the worker, and its delete.
    assert w.processed == 1
    assert q.stats().total == 0
