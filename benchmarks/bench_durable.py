"""Durable queues (``path=``) beside bare sqlite3 and the SQLite-backed queue libraries.

Measures, in one run and on one machine, every file on the same disk:

* ``send`` on a durable queue, ``durability="crash"`` and ``"power"``, beside a bare
  sqlite3 ``INSERT`` of one 100-byte row committed on its own, with the settings mqlite
  uses (WAL, the same ``synchronous``, ``locking_mode=EXCLUSIVE``): what mqlite's
  bookkeeping costs over the commit it cannot avoid. The same commit with SQLite's
  default (shared) locking, as an application's own file would have it, is shown too,
  and the same send on a queue in memory: with the bare commit, the floor;
* ``send_batch`` of 10 beside one such single-row commit (and beside a 10-row commit, and
  beside the same ``send_batch`` on a queue in memory: the part no file can save);
* the cycle — 10 sends, one ``receive(10)``, 10 deletes, each call its own commit —
  beside persist-queue's file-backed ``SQLiteAckQueue`` (put + get + ack) and litequeue's
  file-backed ``LiteQueue`` (put + pop + done);
* 8 threads sending on one ``"crash"`` queue beside one thread doing the same sends
  (commit per send): how far group commit lets throughput grow with threads; beside
  it, bare sqlite3 rows sent the same two ways (one thread committing each row, and 8
  threads sharing commits through the simplest group commit): what the runtime allows;
* reopening a file holding 1,000,000 messages (fewer with ``--quick``, as reported).

The single-thread cases run in turn, round after round, each keeping its best round
(:func:`~benchmarks.bench_queue.interleaved`); the thread cases alternate one thread and
eight the same way. Ratios are the targets' terms: below 1 means mqlite is cheaper.

Run ``python benchmarks/bench_durable.py`` (``--quick`` for a short run). ``run(quick)``
returns the figures for the suite runner.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_queue import interleaved
from mqlite import Queue
from mqlite.message import SendEntry

_BODY = "x" * 100
THREADS = 8
#: The ``synchronous`` setting each durability uses in WAL mode (docs/durability.md); the
#: bare sqlite3 baselines use the same, so the comparison is commit for commit.
SYNCHRONOUS = {"crash": "NORMAL", "power": "FULL"}


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    #: Sends (or messages cycled) per round, single-thread cases in "crash" mode.
    n: int
    #: The same in "power" mode, where every commit waits for the disk.
    n_power: int
    rounds: int
    #: Sends per thread per round in the thread cases.
    per_thread: int
    #: Messages in the file that is reopened.
    reopen: int


FULL = Sizes(n=2_000, n_power=200, rounds=7, per_thread=500, reopen=1_000_000)
QUICK = Sizes(n=1_000, n_power=100, rounds=3, per_thread=250, reopen=100_000)


@contextmanager
def _scratch() -> Iterator[Path]:
    """A directory on the disk under test (``TMPDIR``), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="mqlite-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- bare sqlite3 -----------------------------------------------------------------------


def _bare_connection(path: Path, durability: str, exclusive: bool = True) -> sqlite3.Connection:
    """A WAL connection with *durability*'s ``synchronous``; *exclusive*: mqlite's own
    ``locking_mode=EXCLUSIVE`` (no shared-memory index), else SQLite's default."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    if exclusive:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={SYNCHRONOUS[durability]}")
    conn.execute("CREATE TABLE IF NOT EXISTS m (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    return conn


def bare_insert_case(
    path: Path, durability: str, n: int, exclusive: bool = True
) -> Callable[[], float]:
    """ns per ``INSERT`` of one 100-byte row, committed on its own (autocommit: SQLite
    commits a lone statement, as mqlite does), *durability*'s settings."""
    conn = _bare_connection(path, durability, exclusive)

    def once() -> float:
        execute = conn.execute
        row = (_BODY,)
        start = time.perf_counter_ns()
        for _ in range(n):
            execute("INSERT INTO m (body) VALUES (?)", row)
        return (time.perf_counter_ns() - start) / n

    return once


def bare_batch_case(path: Path, n: int) -> Callable[[], float]:
    """ns per commit of 10 rows (one ``executemany``), "crash" settings."""
    conn = _bare_connection(path, "crash")
    rows = [(_BODY,)] * 10

    def once() -> float:
        execute = conn.execute
        start = time.perf_counter_ns()
        for _ in range(n // 10):
            execute("BEGIN")
            conn.executemany("INSERT INTO m (body) VALUES (?)", rows)
            execute("COMMIT")
        return (time.perf_counter_ns() - start) / (n // 10)

    return once


# --- mqlite -------------------------------------------------------------------------------


def send_case(q: Queue, n: int) -> Callable[[], float]:
    """ns per ``send`` of one 100-byte message (each its own commit)."""

    def once() -> float:
        send = q.send
        start = time.perf_counter_ns()
        for _ in range(n):
            send(_BODY)
        return (time.perf_counter_ns() - start) / n

    return once


def send_batch_case(q: Queue, n: int) -> Callable[[], float]:
    """ns per ``send_batch`` of 10 messages (one commit each)."""
    entries = [SendEntry(id=str(i), body=_BODY) for i in range(10)]

    def once() -> float:
        send_batch = q.send_batch
        start = time.perf_counter_ns()
        for _ in range(n // 10):
            result = send_batch(entries)
        elapsed = time.perf_counter_ns() - start
        assert not result.failed, result.failed
        return elapsed / (n // 10)

    return once


def cycle_case(q: Queue, n: int) -> Callable[[], float]:
    """ns per message of 10 sends + ``receive(10)`` + 10 deletes, every call committed."""

    def once() -> float:
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

    return once


# --- peers ----------------------------------------------------------------------------------


def persist_queue_case(
    path: Path, n: int, synchronous: str | None = None
) -> Callable[[], float] | None:
    """persist-queue's file-backed ``SQLiteAckQueue``: put + get + ack, or None without it
    (or, with *synchronous*, without the two connections it keeps in ``_conn`` and
    ``_putter``).

    By default it runs with its own settings: WAL and SQLite's default
    ``synchronous=FULL`` (a sync per commit, as mqlite's "power"), a commit per put, get
    and ack. *synchronous* (``"NORMAL"``: mqlite's "crash") is set on both connections.
    """
    try:
        from persistqueue import SQLiteAckQueue
    except ImportError:
        return None
    q = SQLiteAckQueue(path=str(path), multithreading=True, auto_commit=True)
    if synchronous is not None:
        connections = [getattr(q, name, None) for name in ("_conn", "_putter")]
        if not all(isinstance(c, sqlite3.Connection) for c in connections):
            return None
        for conn in connections:
            conn.execute(f"PRAGMA synchronous={synchronous}")  # type: ignore[union-attr]

    def once() -> float:
        start = time.perf_counter_ns()
        for _ in range(n // 10):
            for _ in range(10):
                q.put(_BODY)
            for _ in range(10):
                item = q.get(raw=True, block=False)
                q.ack(id=item["pqid"])
        return (time.perf_counter_ns() - start) / n

    return once


def litequeue_case(path: Path, n: int) -> Callable[[], float] | None:
    """litequeue's file-backed ``LiteQueue``: put + pop + done, or None without it.

    Its own settings: WAL and ``synchronous=NORMAL`` (as mqlite's "crash"), a commit per
    put, pop and done.
    """
    try:
        from litequeue import LiteQueue  # type: ignore[import-untyped, unused-ignore]  # untyped
    except ImportError:
        return None
    q = LiteQueue(str(path))

    def once() -> float:
        start = time.perf_counter_ns()
        for _ in range(n // 10):
            for _ in range(10):
                q.put(_BODY)
            for _ in range(10):
                message = q.pop()
                q.done(message.message_id)
        return (time.perf_counter_ns() - start) / n

    return once


# --- threads ---------------------------------------------------------------------------------


def threads_rate(q: Queue, threads: int, per_thread: int) -> float:
    """Sends per second of *threads* threads sending *per_thread* messages each on *q*."""
    return _calls_per_second(threads, per_thread, lambda: q.send(_BODY))


def _calls_per_second(threads: int, per_thread: int, call: Callable[[], object]) -> float:
    """Calls per second of *threads* threads each making *call* *per_thread* times, all
    started together."""
    barrier = threading.Barrier(threads + 1)

    def produce() -> None:
        barrier.wait()
        for _ in range(per_thread):
            call()

    workers = [threading.Thread(target=produce) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    return threads * per_thread / (time.perf_counter() - start)


def thread_rates(path: Path, sizes: Sizes, durability: str) -> dict[str, float]:
    """Best sends/s of one thread and of :data:`THREADS` threads, taken in turn."""
    total = THREADS * sizes.per_thread
    if durability == "power":
        total = max(THREADS, total * sizes.n_power // sizes.n)
    with Queue("threads", path=path, durability=durability) as q:
        best = {"one": 0.0, "many": 0.0}
        for _ in range(sizes.rounds):
            best["one"] = max(best["one"], threads_rate(q, 1, total))
            best["many"] = max(best["many"], threads_rate(q, THREADS, total // THREADS))
    return best


def bare_threads_rate(conn: sqlite3.Connection, threads: int, per_thread: int) -> float:
    """Rows per second of *threads* threads each inserting *per_thread* 100-byte rows on
    *conn*, each returning once its row is committed. One thread commits each row; more
    share commits through the simplest group commit: the first to find no commit running
    commits every pending row in one transaction and wakes the threads it covered."""
    guard = threading.Lock()
    pending: list[tuple[str]] = []
    covered: list[threading.Lock] = []
    leading = [False]
    row = (_BODY,)

    def insert() -> None:
        if threads == 1:
            conn.execute("INSERT INTO m (body) VALUES (?)", row)
            return
        mine = threading.Lock()
        mine.acquire()
        with guard:
            pending.append(row)
            if leading[0]:
                covered.append(mine)
                follow = True
            else:
                leading[0] = True
                follow = False
        if follow:
            mine.acquire()  # released by the leader whose commit holds the row
            return
        while True:
            with guard:
                batch, wake = pending[:], covered[:]
                pending.clear()
                covered.clear()
                if not batch:
                    leading[0] = False
                    return
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO m (body) VALUES (?)", batch)
            conn.execute("COMMIT")
            for lock in wake:
                lock.release()

    return _calls_per_second(threads, per_thread, insert)


def bare_thread_rates(path: Path, sizes: Sizes) -> dict[str, float]:
    """Best rows/s of one thread and of :data:`THREADS` threads on bare sqlite3, "crash"
    settings, taken in turn."""
    total = THREADS * sizes.per_thread
    conn = _bare_connection(path, "crash")
    try:
        best = {"one": 0.0, "many": 0.0}
        for _ in range(sizes.rounds):
            best["one"] = max(best["one"], bare_threads_rate(conn, 1, total))
            best["many"] = max(best["many"], bare_threads_rate(conn, THREADS, total // THREADS))
    finally:
        conn.close()
    return best


# --- reopening ------------------------------------------------------------------------------


def reopen_seconds(path: Path, count: int) -> dict[str, float]:
    """Fill a file with *count* messages (batches of 10), close it, time reopening it."""
    entries = [SendEntry(id=str(i), body=_BODY) for i in range(10)]
    start = time.perf_counter()
    with Queue("reopen", path=path) as q:
        send_batch = q.send_batch
        for _ in range(count // 10):
            send_batch(entries)
    filled = time.perf_counter() - start
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        q = Queue("reopen", path=path)
        opened = time.perf_counter() - start
        visible = q.stats().visible
        q.close()
        assert visible == count // 10 * 10, (visible, count)
        best = min(best, opened)
    return {
        "messages": count // 10 * 10,
        "fill_s": filled,
        "reopen_s": best,
        # What a closed file takes on disk (a WAL left beside it counts too).
        "file_bytes": float(
            sum(os.path.getsize(f) for f in (path, Path(f"{path}-wal")) if f.exists())
        ),
    }


# --- the run ----------------------------------------------------------------------------------


def run(quick: bool = False, sizes: Sizes | None = None) -> dict[str, Any]:
    """Run every measurement; returns the figures (ns per call or message, sends/s, s)."""
    sizes = sizes or (QUICK if quick else FULL)
    n, n_power = sizes.n, sizes.n_power
    results: dict[str, Any] = {"sizes": sizes.__dict__, "synchronous": SYNCHRONOUS}
    with _scratch() as d:
        crash_q = Queue("send-crash", path=d / "send-crash.mqlite", durability="crash")
        power_q = Queue("send-power", path=d / "send-power.mqlite", durability="power")
        batch_q = Queue("batch", path=d / "batch.mqlite", durability="crash")
        memory_q = Queue("batch-memory")
        cycle_q = Queue("cycle", path=d / "cycle.mqlite", visibility_timeout=300)
        cycle_power_q = Queue(
            "cycle-power", path=d / "cycle-power.mqlite", durability="power", visibility_timeout=300
        )
        cases: dict[str, Callable[[], float]] = {
            "bare crash": bare_insert_case(d / "bare-crash.db", "crash", n),
            "bare crash shared": bare_insert_case(
                d / "bare-crash-shared.db", "crash", n, exclusive=False
            ),
            "send crash": send_case(crash_q, n),
            "send memory": send_case(memory_q, n),
            "bare power": bare_insert_case(d / "bare-power.db", "power", n_power),
            "send power": send_case(power_q, n_power),
            "bare batch": bare_batch_case(d / "bare-batch.db", n),
            "send_batch": send_batch_case(batch_q, n),
            "send_batch memory": send_batch_case(memory_q, n),
            "cycle crash": cycle_case(cycle_q, n),
            "cycle power": cycle_case(cycle_power_q, n_power),
        }
        peers = {
            "persist-queue": persist_queue_case(d / "persist-queue", n_power),
            "persist-queue normal": persist_queue_case(
                d / "persist-queue-normal", n_power, SYNCHRONOUS["crash"]
            ),
            "litequeue": litequeue_case(d / "litequeue.db", n),
        }
        cases.update({name: case for name, case in peers.items() if case is not None})
        try:
            best = interleaved(cases, sizes.rounds)
        finally:
            for q in (crash_q, power_q, batch_q, memory_q, cycle_q, cycle_power_q):
                q.close()
        results["ns"] = best
        results["threads"] = {
            "crash": thread_rates(d / "threads-crash.mqlite", sizes, "crash"),
            "power": thread_rates(d / "threads-power.mqlite", sizes, "power"),
        }
        results["bare threads"] = bare_thread_rates(d / "threads-bare.db", sizes)
        results["reopen"] = reopen_seconds(d / "reopen.mqlite", sizes.reopen)
    return results


def report(results: dict[str, Any]) -> str:
    """A plain-text table of *results*, with each ratio beside its target."""
    ns = results["ns"]
    sync = results["synchronous"]
    us = {name: value / 1000 for name, value in ns.items()}
    lines = [
        f"durable send, crash (WAL, synchronous={sync['crash']}):"
        f" {us['send crash']:7.1f} µs; bare INSERT committed alone, same settings"
        f" (locking_mode=EXCLUSIVE) {us['bare crash']:7.1f} µs"
        f" -> {ns['send crash'] / ns['bare crash']:.2f}x (target <= 1.5x);"
        f" with shared locking {us['bare crash shared']:7.1f} µs"
        f" -> {ns['send crash'] / ns['bare crash shared']:.2f}x;"
        f" the same send in memory {us['send memory']:7.1f} µs: with the bare commit"
        f" {(ns['send memory'] + ns['bare crash']) / ns['bare crash']:.2f}x",
        f"durable send, power (WAL, synchronous={sync['power']}):"
        f" {us['send power']:7.1f} µs; bare INSERT committed alone {us['bare power']:7.1f} µs"
        f" -> {ns['send power'] / ns['bare power']:.2f}x",
        f"send_batch of 10, crash: {us['send_batch']:7.1f} µs per batch;"
        f" one single-row commit {us['bare crash']:7.1f} µs"
        f" -> {ns['send_batch'] / ns['bare crash']:.2f}x (target <= 2x);"
        f" a bare 10-row commit {us['bare batch']:7.1f} µs"
        f" -> {ns['send_batch'] / ns['bare batch']:.2f}x;"
        f" the same send_batch in memory {us['send_batch memory']:7.1f} µs"
        f" -> {ns['send_batch memory'] / ns['bare crash']:.2f}x the single-row commit",
        f"cycle (10 sends + receive(10) + 10 deletes), per message:"
        f" crash {us['cycle crash']:7.1f} µs, power {us['cycle power']:7.1f} µs",
    ]
    if "persist-queue" in ns:
        pq = ns["persist-queue"]
        lines.append(
            f"  persist-queue SQLiteAckQueue (WAL, synchronous=FULL) put+get+ack:"
            f" {pq / 1000:7.1f} µs -> mqlite crash {pq / ns['cycle crash']:.1f}x faster"
            f" (target >= 10x), power {pq / ns['cycle power']:.1f}x faster"
        )
    if "persist-queue normal" in ns:
        pq = ns["persist-queue normal"]
        lines.append(
            f"  persist-queue SQLiteAckQueue set to synchronous=NORMAL (as crash):"
            f" {pq / 1000:7.1f} µs -> mqlite crash {pq / ns['cycle crash']:.1f}x faster"
        )
    if "litequeue" in ns:
        lq = ns["litequeue"]
        lines.append(
            f"  litequeue LiteQueue (WAL, synchronous=NORMAL) put+pop+done:"
            f" {lq / 1000:7.1f} µs -> mqlite crash {lq / ns['cycle crash']:.1f}x faster"
            " (target > 1x)"
        )
    for durability, rates in results["threads"].items():
        target = " (target >= 4x)" if durability == "crash" else ""
        lines.append(
            f"{THREADS} threads sending, {durability}: {rates['many']:8.0f} sends/s;"
            f" one thread {rates['one']:8.0f} sends/s"
            f" -> {rates['many'] / rates['one']:.2f}x{target};"
            # The other reading of "single-thread commit-per-send": bare sqlite3's rate.
            f" bare sqlite3, a commit per row: {1e9 / ns[f'bare {durability}']:8.0f} rows/s"
            f" -> {rates['many'] * ns[f'bare {durability}'] / 1e9:.2f}x"
        )
    bare = results["bare threads"]
    lines.append(
        f"  bare sqlite3, crash: {THREADS} threads sharing commits {bare['many']:8.0f} rows/s;"
        f" one thread committing each row {bare['one']:8.0f} rows/s"
        f" -> {bare['many'] / bare['one']:.2f}x (what the runtime allows)"
    )
    reopen = results["reopen"]
    lines.append(
        f"reopen a file of {reopen['messages']:,} messages"
        f" ({reopen['file_bytes'] / 2**20:.0f} MiB, filled in {reopen['fill_s']:.1f} s"
        f" with send_batch): {reopen['reopen_s']:.2f} s"
        + (
            " (target <= 3 s)"
            if reopen["messages"] >= 1_000_000
            else " (the target, <= 3 s, is for 1,000,000: this run used fewer)"
        )
    )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    args = parser.parse_args()
    print(report(run(args.quick)))
