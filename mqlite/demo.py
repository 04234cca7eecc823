"""``python -m mqlite demo``: object-storage events routed by filter policies to worker pools.

The story: a bucket publishes "object created" / "object removed" events to a topic.

* ``thumbnails`` — a queue subscribed with a filter on ``images/`` keys of created objects;
  a worker pool makes thumbnails. One event is poison (a corrupt image): its handler
  fails until the queue's ``max_receive_count`` moves it to ``thumbnails-dlq``; after the
  "bug fix" it is redriven and succeeds.
* ``audit`` — a queue that gets every event, raw (no SNS envelope).
* ``cost-control`` — a plain function subscribed with a numeric filter: objects of 50 MB
  or more.

Before the pools start, one worker "crashes" holding a thumbnail job; the visibility
timeout brings that job back and another worker finishes it. A live line shows the
counts; a summary closes the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

from .broker import Broker
from .clock import Clock, ManualClock, SystemClock
from .message import Message, Notification, PublishEntry
from .queue import Queue
from .worker import Worker

_PREFIXES = ["images/", "images/raw/", "docs/", "logs/", "videos/"]
_POISON_KEY = "images/corrupt.png"


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thumbnails = 0
        self.audited = 0
        self.large = 0
        self.poison_failures = 0

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


def _events(count: int, rng: random.Random) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(count - 1):
        prefix = rng.choice(_PREFIXES)
        kind = "created" if rng.random() < 0.8 else "removed"
        size = int(rng.lognormvariate(14, 2.5)) if kind == "created" else 0
        events.append({"event": kind, "key": f"{prefix}object-{i}.bin", "size": size})
    events.insert(count // 2, {"event": "created", "key": _POISON_KEY, "size": 1_024})
    return events


def _status(queues: dict[str, Queue], counters: _Counters) -> str:
    parts = []
    for name, q in queues.items():
        s = q.stats()
        parts.append(f"{name}: {s.visible:>5} ready {s.in_flight:>3} in flight")
    return (
        " | ".join(parts)
        + f" | thumbs {counters.thumbnails} audited {counters.audited} large {counters.large}"
    )


def run(events: int = 2_000, workers: int = 4, manual: bool = False, seed: int = 7) -> int:
    """Run the demo; returns 0 when every event was accounted for."""
    # The demo reports handler failures itself; keep mqlite's log quiet while it runs.
    log = logging.getLogger("mqlite")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        return _run(events, workers, manual, seed)
    finally:
        log.setLevel(level)


def _run(events: int, workers: int, manual: bool, seed: int) -> int:
    clock: Clock = ManualClock() if manual else SystemClock()
    broker = Broker(clock=clock)
    topic = broker.create_topic("object-events")
    dlq = broker.create_queue("thumbnails-dlq")
    thumbnails = broker.create_queue(
        "thumbnails", visibility_timeout=1, dead_letter_queue=dlq, max_receive_count=2
    )
    audit = broker.create_queue("audit")
    counters = _Counters()
    fixed = threading.Event()

    topic.subscribe(
        thumbnails,
        filter_policy={"key": [{"prefix": "images/"}], "event": ["created"]},
        filter_policy_scope="MessageBody",
    )
    topic.subscribe(audit, raw_message_delivery=True)

    def cost_control(note: Notification) -> None:
        counters.add("large")

    topic.subscribe(cost_control, filter_policy={"size": [{"numeric": [">=", 50_000_000]}]})

    def make_thumbnail(message: Message) -> None:
        event = json.loads(json.loads(message.body)["Message"])
        if event["key"] == _POISON_KEY and not fixed.is_set():
            counters.add("poison_failures")
            print(f"\nthumbnail worker failed on {event['key']} (receive {message.receive_count})")
            raise ValueError(f"cannot decode {event['key']}")
        counters.add("thumbnails")

    def audit_event(message: Message) -> None:
        counters.add("audited")

    rng = random.Random(seed)
    batch = _events(events, rng)
    expected_thumbs = sum(
        1 for e in batch if e["event"] == "created" and str(e["key"]).startswith("images/")
    )
    expected_large = sum(1 for e in batch if int(e["size"]) >= 50_000_000)

    print(f"publishing {len(batch):,} object events to {topic.name} ...")
    started = time.perf_counter()
    for start in range(0, len(batch), 10):
        entries = [
            PublishEntry(
                id=f"e{start + i}",
                message=json.dumps(event),
                attributes={"size": int(event["size"])},
            )
            for i, event in enumerate(batch[start : start + 10])
        ]
        topic.publish_batch(entries)

    # A worker takes a thumbnail job and crashes before deleting it.
    crashed = thumbnails.receive()
    print(f"a worker crashed holding {len(crashed)} thumbnail job(s); the visibility timeout")
    print("will bring it back to another worker")

    queues = {"thumbnails": thumbnails, "dlq": dlq, "audit": audit}
    pools = [
        Worker(thumbnails, make_thumbnail, concurrency=workers),
        Worker(audit, audit_event, concurrency=workers),
    ]
    for pool in pools:
        pool.start()
    redriven = False
    last_print = 0.0
    try:
        while True:
            done = counters.thumbnails >= expected_thumbs and counters.audited >= len(batch)
            if done:
                break
            if not redriven and dlq.stats().visible == 1 and thumbnails.stats().total == 0:
                fixed.set()
                moved = dlq.redrive()
                redriven = True
                print(f"\nthe poison image landed in the DLQ; bug fixed, redrove {moved} message")
            now = time.perf_counter()
            if now - last_print > 0.25:
                print("\r" + _status(queues, counters), end="", flush=True)
                last_print = now
            if now - started > 120:
                print("\ngave up after 120 s")
                return 1
            if isinstance(clock, ManualClock):
                clock.advance(0.05)
            time.sleep(0.01)
    finally:
        for pool in pools:
            pool.stop()
    print("\r" + _status(queues, counters))
    elapsed = time.perf_counter() - started
    print(
        f"\nsummary: {len(batch):,} events in {elapsed:.2f} s —"
        f" {counters.thumbnails} thumbnails (expected {expected_thumbs}),"
        f" {counters.audited} audited, {counters.large} large objects flagged"
        f" (expected {expected_large}), poison failed {counters.poison_failures} times"
        " before the fix"
    )
    ok = (
        counters.thumbnails == expected_thumbs
        and counters.audited == len(batch)
        and counters.large == expected_large
        and all(q.stats().total == 0 for q in queues.values())
    )
    print("every event accounted for" if ok else "MISMATCH: some events were not accounted for")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m mqlite``; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m mqlite")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the object-events demo")
    demo.add_argument("--events", type=int, default=2_000, help="how many events to publish")
    demo.add_argument("--workers", type=int, default=4, help="workers per pool")
    demo.add_argument("--manual-clock", action="store_true", help="drive time by hand")
    demo.add_argument("--seed", type=int, default=7, help="random seed for the events")
    args = parser.parse_args(argv)
    return run(args.events, args.workers, args.manual_clock, args.seed)
