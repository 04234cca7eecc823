"""Real threads on one queue (SystemClock): every message delivered and deleted exactly once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

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


def _poison(body: str) -> bool:
    return int(body.split("-")[1]) % 7 == 0


def _released_once(body: str) -> bool:
    return int(body.split("-")[1]) % 5 == 0


@pytest.mark.parametrize("fifo", [False, True])
def test_releases_and_dead_letters_account_for_every_message(fifo: bool) -> None:
    """Consumers release some messages and never finish "poison" ones: every message
    ends deleted exactly once or in the dead-letter queue exactly once, never both."""
    suffix = ".fifo" if fifo else ""
    dlq = Queue(f"dead{suffix}")
    q = Queue(f"work{suffix}", visibility_timeout=60, dead_letter_queue=dlq, max_receive_count=3)
    producers, consumers, per_producer = 3, 4, 300
    total = producers * per_producer
    start = threading.Barrier(producers + consumers)
    deleted: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def finished() -> bool:
        with lock:
            return sum(deleted.values()) + dlq.stats().visible >= total

    def produce(p: int) -> None:
        try:
            start.wait(GUARD)
            for i in range(per_producer):
                body = f"p{p}-{i}"
                ids = {"group_id": f"g{i % 8}", "deduplication_id": body} if fifo else {}
                q.send(body, **ids)  # type: ignore[arg-type]
        except BaseException as e:
            errors.append(e)

    def consume() -> None:
        try:
            start.wait(GUARD)
            while not finished():
                for m in q.receive(10, wait=0.02):
                    assert m.receive_count <= 3  # a fourth receive moves it instead
                    if _poison(m.body) or (_released_once(m.body) and m.receive_count == 1):
                        q.change_visibility(m, 0)  # give it back now
                        continue
                    q.delete(m)
                    with lock:
                        deleted[m.body] += 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=produce, args=(p,), daemon=True) for p in range(producers)]
    threads += [threading.Thread(target=consume, daemon=True) for _ in range(consumers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(GUARD)
        assert not t.is_alive(), "guard timeout"
    assert errors == []
    bodies = {f"p{p}-{i}" for p in range(producers) for i in range(per_producer)}
    dead = Counter(m.body for m in dlq.peek())
    assert set(dead) == {b for b in bodies if _poison(b)}
    assert all(n == 1 for n in dead.values())
    assert set(deleted) == bodies - set(dead)
    assert all(n == 1 for n in deleted.values())
    assert all(m.receive_count == 3 for m in dlq.peek())
    assert q.stats() == type(q.stats())(0, 0, 0)
    q.check_invariants()
    dlq.check_invariants()
