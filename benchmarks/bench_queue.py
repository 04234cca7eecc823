"""Queue cycle cost: mqlite's send + receive(10) + delete beside ``queue.Queue`` put + get.

Measures, in one run and on one machine:

* ns per message of ``queue.Queue`` put + get (the baseline);
* ns per message of mqlite's cycle on a standard queue (10 sends, one receive of 10,
  10 deletes) at queue depths 1 k, 100 k and 1 M (depth held constant while measuring);
* the same cycle on a FIFO queue with 1, 100 and 10 000 message groups;
* FIFO send cost with the dedup window holding 1 k and 1 M ids.

All of these run in turn, round after round, and each keeps its best round
(:func:`interleaved`), so a busy neighbour slows every case alike and the ratios hold.

Run ``python benchmarks/bench_queue.py`` (``--quick`` for a short run). ``run(quick)``
returns the figures for the suite runner.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import queue as stdlib_queue
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script from a checkout: make the package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mqlite import Queue
from mqlite.clock import ManualClock

_BODY = "x" * 100


def interleaved(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Run every case once per round, in turn, and keep each case's best round.

    Each case returns ns per message for one chunk of work. Taking the cases in turn
    spreads whatever else the machine is doing over all of them alike, so the ratios
    between cases measured together hold even when absolute figures wander.
    """
    best = dict.fromkeys(cases, math.inf)
    for _ in range(rounds):
        for name, case in cases.items():
            best[name] = min(best[name], case())
    return best


def stdlib_put_get(n: int) -> float:
    """ns per message of ``queue.Queue`` put then get, in batches of 10."""
    q: stdlib_queue.Queue[str] = stdlib_queue.Queue()
    start = time.perf_counter_ns()
    for _ in range(n // 10):
        for _ in range(10):
            q.put(_BODY)
        for _ in range(10):
            q.get()
    return (time.perf_counter_ns() - start) / n


def _fill(q: Queue, depth: int, groups: int = 0) -> None:
    for i in range(depth):
        if groups:
            q.send(_BODY, group_id=f"g{i % groups}", deduplication_id=f"fill-{i}")
        else:
            q.send(_BODY)


def mqlite_cycle(q: Queue, n: int) -> float:
    """ns per message of 10 sends + receive(10) + 10 deletes on a standard queue."""
    send, receive, delete = q.send, q.receive, q.delete
    received = 0
    start = time.perf_counter_ns()
    for _ in range(n // 10):
        for _ in range(10):
            send(_BODY)
        got = receive(10)
        received += len(got)
        for m in got:
            delete(m)
    elapsed = time.perf_counter_ns() - start
    # Every message sent must have come back, or the figure would flatter the cycle.
    assert received == n // 10 * 10, (received, n)
    return elapsed / n


def fifo_cycle(q: Queue, ids: list[tuple[str, str]]) -> float:
    """ns per message of the same cycle on a FIFO queue, one (group, dedup id) per send.

    The ids are made before timing starts, as a caller would already hold them.
    """
    send, receive, delete = q.send, q.receive, q.delete
    received = 0
    it = iter(ids)
    start = time.perf_counter_ns()
    for _ in range(len(ids) // 10):
        for _ in range(10):
            group, dedup = next(it)
            send(_BODY, group_id=group, deduplication_id=dedup)
        got = receive(10)
        received += len(got)
        for m in got:
            delete(m)
    elapsed = time.perf_counter_ns() - start
    assert received == len(ids) // 10 * 10, (received, len(ids))
    return elapsed / len(ids)


def _standard_case(depth: int, n: int) -> Callable[[], float]:
    """The standard cycle with *depth* messages waiting (held constant while measuring)."""
    q = Queue(f"bench-{depth}", visibility_timeout=300)
    _fill(q, depth)
    return lambda: mqlite_cycle(q, n)


def _fifo_case(groups: int, n: int, rounds: int) -> Callable[[], float]:
    """The FIFO cycle over *groups* groups, with unique dedup ids for every round."""
    q = Queue(f"bench-{groups}.fifo", visibility_timeout=300, clock=ManualClock())
    # A little backlog per group so receives find ready groups.
    _fill(q, max(1_000, groups * 2), groups)
    ids = [(f"g{i % groups}", f"c{i}") for i in range(n * rounds)]
    chunks = iter([ids[i : i + n] for i in range(0, len(ids), n)])
    return lambda: fifo_cycle(q, next(chunks))


def _dedup_case(window: int, n: int, rounds: int) -> Callable[[], float]:
    """FIFO sends with the dedup window already holding *window* ids."""
    q = Queue(f"dedup-{window}.fifo", clock=ManualClock(), retention=60)
    for i in range(window):
        q.send("x", group_id="g", deduplication_id=f"w{i}")
    chunks = iter([[f"n{r}-{i}" for i in range(n)] for r in range(rounds)])

    def once() -> float:
        send = q.send
        dedup_ids = next(chunks)
        start = time.perf_counter_ns()
        for dedup in dedup_ids:
            send("x", group_id="g", deduplication_id=dedup)
        return (time.perf_counter_ns() - start) / n

    return once


def moto_backend_cycle(depth: int, n: int) -> float | None:
    """The cycle against moto's SQS backend objects (no HTTP), or None without moto."""
    try:
        from moto import mock_aws
        from moto.sqs.models import sqs_backends
    except ImportError:
        return None
    with mock_aws():
        backend = sqs_backends["123456789012"]["us-east-1"]
        backend.create_queue("bench", VisibilityTimeout="300")
        for _ in range(depth):
            backend.send_message("bench", _BODY)
        start = time.perf_counter_ns()
        for _ in range(n // 10):
            for _ in range(10):
                backend.send_message("bench", _BODY)
            for m in backend.receive_message("bench", 10, 0, 300):
                assert m.receipt_handle is not None
                backend.delete_message("bench", m.receipt_handle)
        return (time.perf_counter_ns() - start) / n


def moto_boto3_cycle(depth: int, n: int) -> float | None:
    """The cycle through boto3 against moto (request/response path), or None without it."""
    try:
        import boto3  # type: ignore[import-untyped, unused-ignore]  # typed only with boto3-stubs
        from moto import mock_aws
    except ImportError:
        return None
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="bench", Attributes={"VisibilityTimeout": "300"})[
            "QueueUrl"
        ]
        for _ in range(depth):
            sqs.send_message(QueueUrl=url, MessageBody=_BODY)
        start = time.perf_counter_ns()
        for _ in range(n // 10):
            for _ in range(10):
                sqs.send_message(QueueUrl=url, MessageBody=_BODY)
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            for m in got.get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return (time.perf_counter_ns() - start) / n


def persist_queue_cycle(n: int) -> float | None:
    """persist-queue's in-memory SQLite queue: put + get + ack, or None when not installed."""
    try:
        from persistqueue import SQLiteAckQueue
    except ImportError:
        return None
    q = SQLiteAckQueue(path=":memory:", multithreading=True, auto_commit=True)
    start = time.perf_counter_ns()
    for _ in range(n // 10):
        for _ in range(10):
            q.put(_BODY)
        for _ in range(10):
            item = q.get(raw=True)
            q.ack(id=item["pqid"])
    return (time.perf_counter_ns() - start) / n


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_per_message(n: int) -> float:
    """Resident bytes per queued 100-byte message, measured over *n* messages."""
    gc.collect()
    q = Queue("memory")
    before = _rss_bytes()
    _fill(q, n)
    gc.collect()
    used = _rss_bytes() - before
    assert q.stats().visible == n
    return used / n


def run(quick: bool = False) -> dict[str, Any]:
    """Run every measurement; returns a dict of figures (ns per message)."""
    n = 10_000 if quick else 20_000
    rounds = 5 if quick else 15
    depths = [1_000, 100_000] if quick else [1_000, 100_000, 1_000_000]
    groups = (1, 100, 10_000)
    windows = [1_000, 100_000] if quick else [1_000, 1_000_000]
    # Each comparison is measured as one interleaved set, with only its own queues alive:
    # the dedup cases hold a million stored messages that would otherwise share the CPU
    # cache with the cycles they are not compared with.
    cases: dict[str, Callable[[], float]] = {"stdlib": lambda: stdlib_put_get(n)}
    cases.update({f"depth {d}": _standard_case(d, n) for d in depths})
    cases.update({f"fifo {g}": _fifo_case(g, n, rounds) for g in groups})
    gc.collect()
    best = interleaved(cases, rounds)
    del cases
    gc.collect()
    dedup_cases = {f"dedup {w}": _dedup_case(w, n // 2, rounds) for w in windows}
    best.update(interleaved(dedup_cases, rounds))
    del dedup_cases
    gc.collect()
    results: dict[str, Any] = {"n": n, "rounds": rounds, "stdlib_put_get": best["stdlib"]}
    results["depth"] = {d: best[f"depth {d}"] for d in depths}
    results["fifo_groups"] = {g: best[f"fifo {g}"] for g in groups}
    results["dedup_send"] = {w: best[f"dedup {w}"] for w in windows}
    # Peers at a small depth: moto's paths are linear in queue size, with large constants.
    peers = {
        "moto backend (depth 100)": moto_backend_cycle(100, 100 if quick else 300),
        "moto via boto3 (depth 100)": moto_boto3_cycle(100, 100 if quick else 300),
        "persist-queue SQLiteAckQueue": persist_queue_cycle(2_000 if quick else 10_000),
    }
    results["peers"] = {k: v for k, v in peers.items() if v is not None}
    if os.path.exists("/proc/self/statm"):
        count = 200_000 if quick else 1_000_000
        per = memory_per_message(count)
        results["memory"] = {"messages": count, "bytes_per_message": per}
    return results


def report(results: dict[str, Any]) -> str:
    """A plain-text table of *results* with the ratios the targets are stated in."""
    base = results["stdlib_put_get"]
    lines = [f"queue.Queue put+get: {base:8.0f} ns/msg (1.00x)"]
    depths = results["depth"]
    first = depths[min(depths)]
    for d, ns in depths.items():
        lines.append(
            f"mqlite cycle, depth {d:>9,}: {ns:8.0f} ns/msg ({ns / base:5.2f}x queue.Queue,"
            f" {ns / first:4.2f}x depth {min(depths):,})"
        )
    standard = first
    for g, ns in results["fifo_groups"].items():
        lines.append(
            f"mqlite FIFO cycle, {g:>6,} groups: {ns:8.0f} ns/msg ({ns / standard:4.2f}x standard)"
        )
    windows = results["dedup_send"]
    small = windows[min(windows)]
    for w, ns in windows.items():
        lines.append(
            f"FIFO send, dedup window {w:>9,} ids: {ns:8.0f} ns/msg ({ns / small:4.2f}x smallest)"
        )
    mine = first
    for peer, ns in results.get("peers", {}).items():
        lines.append(
            f"{peer}: {ns:8.0f} ns/msg ({ns / base:6.1f}x queue.Queue;"
            f" mqlite's cycle is {ns / mine:,.0f}x faster)"
        )
    memory = results.get("memory")
    if memory:
        total = memory["bytes_per_message"] * 1_000_000 / 2**20
        lines.append(
            f"memory: {memory['bytes_per_message']:.0f} bytes per queued 100-byte message"
            f" (measured over {memory['messages']:,}; 1 M messages = {total:.0f} MiB)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    args = parser.parse_args()
    print(report(run(args.quick)))
