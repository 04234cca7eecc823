"""The demo: a producer and a consumer, a visibility timeout, and a redelivery."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .clock import ManualClock
from .queue import Queue


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m mqlite``; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m mqlite")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the demo")
    parser.parse_args(argv)
    clock = ManualClock()
    q = Queue("jobs", clock=clock, visibility_timeout=30)
    for i in range(3):
        q.send(f"job-{i}")
    print(f"sent 3 jobs: {q.stats()}")
    first = q.receive(max_messages=10)
    print(f"a consumer took {[m.body for m in first]} and crashed before deleting them")
    clock.advance(30)
    again = q.receive(max_messages=10)
    print(f"30 s later they are visible again: {[(m.body, m.receive_count) for m in again]}")
    for m in again:
        q.delete(m)
    print(f"processed and deleted: {q.stats()}")
    return 0
