"""Worker throughput: 8 workers on a no-op handler beside ``queue.Queue`` + 8 threads.

Measures messages per second of:

* a plain ``queue.Queue`` consumed by 8 threads, each taking one item per ``get`` and
  calling the handler on it (the baseline, a bare pool);
* ``mqlite.worker.Worker(concurrency=8)`` draining a pre-filled standard queue
  (receives of up to 10 messages, deletes batched 10 to a ``delete_batch``, heartbeat
  bookkeeping);
* ``mqlite.worker.AsyncWorker(concurrency=8)`` on the same queue, its handler an
  ``async def`` doing the same;
* a bare mqlite loop: one thread calling ``receive(10)``, the handler on each message and
  one ``delete_batch`` — the queue's own cost for the same work, so the Worker's figure
  against it is the cost of the pool itself (its threads or tasks, hand-offs and
  bookkeeping).

Both sides run the same handler, which counts the message under a lock and notes when the
last one is in: so the per-message work outside the consuming machinery is the same, and
the clock stops for both once every message is handled and the pool is shut down (for the
worker: ``stop()`` has returned, so every delete has been sent).

The bare pool's rate swings several-fold from run to run on a busy machine (whether its 8
threads convoy on the queue's lock is luck), so the runs are interleaved — each worker
run right after a bare one, seeing the same noise — and the figures are medians: of each
side's rate, and of the ratio within each pair.

Run ``python benchmarks/bench_worker.py`` (``--quick`` for a short run). ``run(quick)``
returns the figures for the suite runner.
"""

from __future__ import annotations

import argparse
import asyncio
import queue as stdlib_queue
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mqlite import Message, Queue
from mqlite.message import DeleteEntry
from mqlite.worker import AsyncWorker, Worker

THREADS = 8


class _Handler:
    """The handler both pools run: count each message; set ``done`` at the *n*-th."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self.lock = threading.Lock()
        self.done = threading.Event()

    def __call__(self, item: object) -> None:
        with self.lock:
            self.count += 1
            if self.count == self.n:
                self.done.set()


def stdlib_pool(n: int) -> float:
    """Messages per second through queue.Queue + 8 threads running the handler."""
    q: stdlib_queue.Queue[str | None] = stdlib_queue.Queue()
    for i in range(n):
        q.put(str(i))
    for _ in range(THREADS):
        q.put(None)
    handler = _Handler(n)

    def consume() -> None:
        while True:
            item = q.get()
            if item is None:
                return
            handler(item)

    threads = [threading.Thread(target=consume) for _ in range(THREADS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert handler.count == n
    return n / elapsed


def mqlite_worker(n: int) -> float:
    """Messages per second through Worker(concurrency=8) running the handler."""
    q = Queue("bench-worker")
    for i in range(n):
        q.send(str(i))
    handler = _Handler(n)

    def handle(m: Message) -> None:
        handler(m)

    w = Worker(q, handle, concurrency=THREADS)
    t0 = time.perf_counter()
    w.start()
    handler.done.wait()
    w.stop()
    elapsed = time.perf_counter() - t0
    stats = q.stats()
    assert stats.visible == stats.in_flight == 0
    return n / elapsed


def mqlite_async_worker(n: int) -> float:
    """Messages per second through AsyncWorker(concurrency=8) running the handler."""
    q = Queue("bench-async-worker")
    for i in range(n):
        q.send(str(i))
    handler = _Handler(n)

    async def drain() -> float:
        finished = asyncio.Event()

        async def handle(m: Message) -> None:
            handler(m)
            if handler.done.is_set():
                finished.set()

        w = AsyncWorker(q, handle, concurrency=THREADS)
        t0 = time.perf_counter()
        await w.start()
        await finished.wait()
        await w.stop()
        return time.perf_counter() - t0

    elapsed = asyncio.run(drain())
    stats = q.stats()
    assert stats.visible == stats.in_flight == 0
    return n / elapsed


def mqlite_loop(n: int) -> float:
    """Messages per second through one thread's receive(10) + handler + delete_batch loop."""
    q = Queue("bench-loop")
    for i in range(n):
        q.send(str(i))
    handler = _Handler(n)
    t0 = time.perf_counter()
    while messages := q.receive(10):
        for m in messages:
            handler(m)
        q.delete_batch(DeleteEntry(str(i), m.receipt_handle or "") for i, m in enumerate(messages))
    elapsed = time.perf_counter() - t0
    assert handler.count == n
    assert q.stats().total == 0
    return n / elapsed


def run(quick: bool = False) -> dict[str, Any]:
    """Median messages per second of each, and the median ratios within each run."""
    n = 5_000 if quick else 50_000
    repeats = 3 if quick else 7
    base: list[float] = []
    loop: list[float] = []
    worker: list[float] = []
    aworker: list[float] = []
    for _ in range(repeats):  # interleaved, so all four see the same noise
        base.append(stdlib_pool(n))
        loop.append(mqlite_loop(n))
        worker.append(mqlite_worker(n))
        aworker.append(mqlite_async_worker(n))
    ratios = [w / b for w, b in zip(worker, base, strict=True)]
    to_loop = [w / b for w, b in zip(worker, loop, strict=True)]
    async_to_loop = [w / b for w, b in zip(aworker, loop, strict=True)]
    return {
        "n": n,
        "repeats": repeats,
        "stdlib_pool_msgs_per_s": statistics.median(base),
        "mqlite_loop_msgs_per_s": statistics.median(loop),
        "worker_msgs_per_s": statistics.median(worker),
        "async_worker_msgs_per_s": statistics.median(aworker),
        "ratio": statistics.median(ratios),
        "ratio_range": (min(ratios), max(ratios)),
        "loop_ratio": statistics.median(to_loop),
        "loop_ratio_range": (min(to_loop), max(to_loop)),
        "async_loop_ratio": statistics.median(async_to_loop),
        "async_loop_ratio_range": (min(async_to_loop), max(async_to_loop)),
    }


def report(results: dict[str, Any]) -> str:
    rows = [
        (f"queue.Queue + {THREADS} threads", results["stdlib_pool_msgs_per_s"]),
        ("mqlite receive + delete_batch loop", results["mqlite_loop_msgs_per_s"]),
        (f"mqlite Worker({THREADS})", results["worker_msgs_per_s"]),
        (f"mqlite AsyncWorker({THREADS})", results["async_worker_msgs_per_s"]),
    ]
    lines = [f"median of {results['repeats']} interleaved runs of {results['n']:,} messages"]
    lines += [f"{label + ':':36} {rate:9.0f} msg/s" for label, rate in rows]
    for label, key in (
        ("Worker / bare pool", "ratio"),
        ("Worker / mqlite loop", "loop_ratio"),
        ("AsyncWorker / mqlite loop", "async_loop_ratio"),
    ):
        low, high = results[f"{key}_range"]
        lines.append(
            f"{label + ', per run:':36} {results[key]:9.2f}x median ({low:.2f}-{high:.2f}x)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    args = parser.parse_args()
    print(report(run(args.quick)))
