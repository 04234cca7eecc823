"""Worker (threads): real threads, bounded in time, every message accounted for."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from mqlite import ManualClock, Message, Queue
from mqlite.worker import Retry, Worker

GUARD = 10.0  # wall-clock guard only: a test that needs it has failed


def until(cond: Callable[[], bool]) -> None:
    end = time.monotonic() + GUARD
    while not cond():
        assert time.monotonic() < end, "guard timeout"
        time.sleep(0.002)


def test_exactly_once_under_concurrency() -> None:
    q = Queue("work")
    n = 200
    for i in range(n):
        q.send(str(i))
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(m: Message) -> None:
        with lock:
            seen[m.body] += 1

    with Worker(q, handler, concurrency=8) as w:
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
    calls: list[int] = []
    errors: list[BaseException] = []

    def handler(m: Message) -> None:
        calls.append(m.receive_count)
        if len(calls) == 1:
            raise RuntimeError("boom")

    w = Worker(q, handler, heartbeat=0, on_error=lambda m, e: errors.append(e))
    with w:
        until(lambda: w.failed == 1)
        assert q.stats().in_flight == 1
        clock.advance(29)
        time.sleep(0.05)  # give the fetcher chances to (wrongly) receive
        assert calls == [1]
        clock.advance(1)
        until(lambda: w.processed == 1)
    assert calls == [1, 2]
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
        time.sleep(0.05)
        assert len(calls) == 1
        clock.advance(1)
        until(lambda: w.processed == 1)
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
            until(lambda i=i: w.stats.heartbeats == i)
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
        time.sleep(0.05)
        assert q.stats().in_flight == 1
        release.set()
        until(lambda: w.processed == 1)
    assert q.stats().in_flight == 0


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
