"""Helpers shared by the durability tests: a kill's leftovers, and dead letters to redrive."""

from __future__ import annotations

import shutil
from pathlib import Path

from mqlite import Broker, ManualClock, Queue


def copy_as_killed(path: Path, to: Path) -> Path:
    """Copy the file at *path* to *to* as a kill at this instant would leave it: the file
    and its WAL, copied while open (no checkpoint). Returns *to*."""
    to.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{to}{suffix}")
    return to


def dead_lettered(
    clock: ManualClock, n: int, *, broker: Broker | None = None
) -> tuple[Queue, Queue]:
    """Queues "src" and "dlq" (in *broker*, else standalone in memory), with *n* messages
    sent to "src" a millisecond apart and moved to "dlq" at their second receive."""
    if broker is None:
        dlq = Queue("dlq", clock=clock)
        src = Queue("src", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    else:
        dlq = broker.create_queue("dlq")
        src = broker.create_queue("src", dead_letter_queue=dlq, max_receive_count=1)
    for i in range(n):
        src.send(f"m{i}")
        clock.advance(0.001)
    for _ in range(n):
        src.receive(10, visibility_timeout=0)
    assert src.receive(10) == []
    assert dlq.stats().visible == n
    return src, dlq
