"""Worker throughput: 8 workers on a no-op handler beside ``queue.Queue`` + 8 threads.

Measures messages per second of:

* a plain ``queue.Queue`` consumed by 8 threads calling a no-op (the baseline);
* ``mqlite.worker.Worker(concurrency=8)`` draining a pre-filled standard queue
  (receives of up to 10 messages, the hand-off to the handler threads, deletes batched
  10 to a ``delete_batch``, heartbeat bookkeeping).

The machine is usually noisy: each figure is the best of several runs, interleaved.

Run ``python benchmarks/bench_worker.py`` (``--quick`` for a short run). ``run(quick)``
returns the figures for the suite runner.
"""

from __future__ import annotations

import argparse
import queue as stdlib_queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mqlite import Message, Queue
from mqlite.worker import Worker

THREADS = 8


def stdlib_pool(n: int) -> float:
    """Messages per second through queue.Queue + 8 threads on a no-op."""
    q: stdlib_queue.Queue[str | None] = stdlib_queue.Queue()
    for i in range(n):
        q.put(str(i))
    for _ in range(THREADS):
        q.put(None)

    def consume() -> None:
        while True:
            item = q.get()
            if item is None:
                return

    threads = [threading.Thread(target=consume) for _ in range(THREADS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return n / (time.perf_counter() - t0)


def mqlite_worker(n: int) -> float:
    """Messages per second through Worker(concurrency=8) on a no-op handler."""
    q = Queue("bench-worker")
    for start in range(0, n, 10):
        for i in range(start, min(n, start + 10)):
            q.send(str(i))
    done = threading.Event()
    count = [0]
    lock = threading.Lock()

    def handler(m: Message) -> None:
        with lock:
            count[0] += 1
            if count[0] == n:
                done.set()

    w = Worker(q, handler, concurrency=THREADS, poll_interval=0.001)
    t0 = time.perf_counter()
    w.start()
    done.wait()
    w.stop()
    elapsed = time.perf_counter() - t0
    assert q.stats().visible == 0
    return n / elapsed


def run(quick: bool = False) -> dict[str, Any]:
    """Returns messages per second for both, and their ratio."""
    n = 5_000 if quick else 50_000
    base = worker = 0.0
    for _ in range(2 if quick else 4):  # interleaved, so both see the same noise
        base = max(base, stdlib_pool(n))
        worker = max(worker, mqlite_worker(n))
    return {
        "n": n,
        "stdlib_pool_msgs_per_s": base,
        "worker_msgs_per_s": worker,
        "ratio": worker / base,
    }


def report(results: dict[str, Any]) -> str:
    return (
        f"queue.Queue + {THREADS} threads: {results['stdlib_pool_msgs_per_s']:10.0f} msg/s\n"
        f"mqlite Worker({THREADS}):        {results['worker_msgs_per_s']:10.0f} msg/s"
        f" ({results['ratio']:.3f}x)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    args = parser.parse_args()
    print(report(run(args.quick)))
