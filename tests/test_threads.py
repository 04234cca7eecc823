"""Real threads on one queue (SystemClock): every message delivered and deleted exactly once."""

from __future__ import annotations

import threading
from collections import Counter

from mqlite import Queue, SendEntry

GUARD = 30.0  # real seconds; only a guard against hangs


def test_producers_and_consumers_exactly_once() -> None:
    producers, consumers, per_producer = 4, 4, 500
    total = producers * per_producer
    q = Queue("threads", visibility_timeout=60)
    start = threading.Barrier(producers + consumers)
    done_sending = threading.Event()
    seen: Counter[str] = Counter()
    seen_lock = threading.Lock()
    errors: list[BaseException] = []

    def produce(p: int) -> None:
        try:
            start.wait(GUARD)
            for i in range(0, per_producer, 5):
                if i % 10 == 0:
                    res = q.send_batch([SendEntry(f"e{j}", f"p{p}-{i + j}") for j in range(5)])
                    assert not res.failed
                else:
                    for j in range(5):
                        q.send(f"p{p}-{i + j}")
        except BaseException as e:
            errors.append(e)

    def consume() -> None:
        try:
            start.wait(GUARD)
            while True:
                with seen_lock:
                    if sum(seen.values()) >= total:
                        return
                msgs = q.receive(10, wait=0.05)
                if not msgs and done_sending.is_set() and q.stats().visible == 0:
                    with seen_lock:
                        if sum(seen.values()) >= total:
                            return
                    continue
                for m in msgs:
                    assert m.receive_count == 1
                    q.delete(m)
                with seen_lock:
                    seen.update(m.body for m in msgs)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=produce, args=(p,), daemon=True) for p in range(producers)]
    readers = [threading.Thread(target=consume, daemon=True) for _ in range(consumers)]
    for t in threads + readers:
        t.start()
    for t in threads:
        t.join(GUARD)
        assert not t.is_alive()
    done_sending.set()
    for t in readers:
        t.join(GUARD)
        assert not t.is_alive()
    assert errors == []
    expected = {f"p{p}-{i}" for p in range(producers) for i in range(per_producer)}
    assert set(seen) == expected
    assert all(n == 1 for n in seen.values())
    s = q.stats()
    assert (s.visible, s.in_flight, s.delayed) == (0, 0, 0)
    q.check_invariants()


def test_long_pollers_woken_by_concurrent_senders() -> None:
    n = 1000
    q = Queue("threads2")
    ready = threading.Barrier(3)
    got: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def consume() -> None:
        ready.wait(GUARD)
        while not stop.is_set():
            for m in q.receive(10, wait=1):
                q.delete(m)
                with lock:
                    got.append(m.body)
                    if len(got) == n:
                        stop.set()

    readers = [threading.Thread(target=consume, daemon=True) for _ in range(2)]
    for t in readers:
        t.start()
    ready.wait(GUARD)
    for i in range(n):
        q.send(str(i))
    assert stop.wait(GUARD)
    for t in readers:
        t.join(GUARD)
        assert not t.is_alive()
    assert sorted(got, key=int) == [str(i) for i in range(n)]
    s = q.stats()
    assert (s.visible, s.in_flight, s.delayed) == (0, 0, 0)
