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
timeout brings that job back and another worker finishes it. A live table shows each
subscriber's counts (delivered after its filter, visible, in flight, delayed, done, dead-lettered) —
redrawn in place on a terminal, printed about once a second otherwise — and a summary
closes the run.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import random
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

import attrs

from .broker import Broker
from .clock import Clock, ManualClock, SystemClock
from .message import Message, Notification, PublishEntry
from .worker import Worker

__all__ = ["LiveView", "Row", "main", "render_table", "run"]

_PREFIXES = ["images/", "images/raw/", "docs/", "logs/", "videos/"]
_POISON_KEY = "images/corrupt.png"
_LARGE = 50_000_000
#: Real seconds between turns of the demo's control loop (and clock steps with --manual-clock).
_TICK = 0.01
_GIVE_UP_AFTER = 120.0


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thumbnails = 0
        self.audited = 0
        self.large = 0
        self.poison_failures = 0
        # What the bucket has handed to the topic so far, per subscriber.
        self.published = 0
        self.published_thumbnails = 0
        self.published_large = 0

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + amount)


def _events(count: int, rng: random.Random) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(count - 1):
        prefix = rng.choice(_PREFIXES)
        kind = "created" if rng.random() < 0.8 else "removed"
        size = int(rng.lognormvariate(14, 2.5)) if kind == "created" else 0
        events.append({"event": kind, "key": f"{prefix}object-{i}.bin", "size": size})
    events.insert(count // 2, {"event": "created", "key": _POISON_KEY, "size": 1_024})
    return events


def _is_thumbnail(event: dict[str, Any]) -> bool:
    return event["event"] == "created" and str(event["key"]).startswith("images/")


def _is_large(event: dict[str, Any]) -> bool:
    return int(event["size"]) >= _LARGE


# --- the live view ---------------------------------------------------------------------------


@attrs.frozen
class Row:
    """One line of the live table: a subscriber's counts.

    ``visible``, ``in_flight`` and ``delayed`` come from :meth:`Queue.stats`; they, and
    ``dlq`` (the depth of the subscriber's dead-letter queue), are ``None`` where they do
    not apply (a function subscriber; a queue without a dead-letter queue) and show as
    ``-``.
    """

    name: str
    delivered: int
    visible: int | None
    in_flight: int | None
    delayed: int | None
    done: int
    dlq: int | None


HEADERS = ("subscriber", "delivered", "visible", "in flight", "delayed", "done", "dlq")
"""The live table's column headers, in order."""


def render_table(
    rows: Sequence[Row], *, elapsed: float, published: int, total: int, processed: int
) -> list[str]:
    """The live view as lines of plain text (no ANSI codes, no newlines).

    A header, one line per row — names left-aligned, numbers (with thousands separators)
    right-aligned under their headers — then a footer: *elapsed* seconds, *published*
    of *total* events with their rate, and the rate of *processed* events (handled end
    to end), rates being whole-run averages (per second of *elapsed*, labelled "avg").
    A pure function of its arguments.
    """

    def cell(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    table = [list(HEADERS)] + [
        [row.name]
        + [
            cell(value)
            for value in (row.delivered, row.visible, row.in_flight, row.delayed, row.done, row.dlq)
        ]
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(HEADERS))]
    lines = [
        "  "
        + "  ".join(
            text.ljust(width) if i == 0 else text.rjust(width)
            for i, (text, width) in enumerate(zip(cells, widths, strict=True))
        )
        for cells in table
    ]

    def rate(count: int) -> str:
        return f"{count / elapsed if elapsed > 0 else 0.0:,.0f}/s"

    lines.append(
        f"  elapsed {elapsed:.1f} s · published {published:,}/{total:,}"
        f" (avg {rate(published)}) · handled avg {rate(processed)}"
    )
    return lines


class LiveView:
    """Shows frames (lists of lines, as :func:`render_table` makes them) on *out*.

    On a terminal (``tty=True``) each frame replaces the previous one in place — ANSI
    cursor-up and erase, no curses — and a frame is due every ``interval`` seconds
    (default 0.2). Otherwise (pipes, CI, tests) no ANSI code is ever written, each frame
    is printed after a blank line, and a frame is due every ``interval`` seconds (default
    1), so a log holds a handful. On a terminal, frame lines are cut to ``width - 1``
    columns (when *width* is given) so that none wraps and the redraw stays in place.
    The caller passes the time in; the view never reads a clock and never waits.
    """

    def __init__(
        self,
        out: TextIO,
        *,
        tty: bool,
        interval: float | None = None,
        width: int | None = None,
    ) -> None:
        self.out = out
        self.tty = tty
        self.interval = (0.2 if tty else 1.0) if interval is None else interval
        self.width = width
        self.frames = 0
        self._last_at: float | None = None
        self._lines: list[str] = []

    def due(self, now: float) -> bool:
        """True when a frame should be drawn at time *now* (the first one always is)."""
        return self._last_at is None or now - self._last_at >= self.interval

    def draw(self, lines: Sequence[str], now: float) -> None:
        """Show *lines* as the current frame, due or not, and remember *now* as its time."""
        if self.tty:
            self._erase()
        elif self.frames:
            self.out.write("\n")
        if self.tty and self.width is not None:
            lines = [line[: max(self.width - 1, 1)] for line in lines]
        self._lines = list(lines)
        self._write(self._lines)
        self.frames += 1
        self._last_at = now

    def note(self, text: str) -> None:
        """Print *text* on a line of its own; on a terminal, above the frame."""
        if self.tty:
            self._erase()
            self._write([text, *self._lines])
        else:
            self._write([text])

    def _erase(self) -> None:
        if self._lines:
            # Up to the frame's first line, then erase from there to the end of the screen.
            self.out.write(f"\x1b[{len(self._lines)}A\r\x1b[J")

    def _write(self, lines: Sequence[str]) -> None:
        self.out.write("".join(line + "\n" for line in lines))
        self.out.flush()


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


# --- the run ---------------------------------------------------------------------------------


def run(
    events: int = 2_000,
    workers: int = 4,
    manual: bool = False,
    seed: int = 7,
    *,
    out: TextIO | None = None,
    tty: bool | None = None,
) -> int:
    """Run the demo; returns 0 when every event was accounted for.

    Writes to *out* (default: ``sys.stdout``). The live table is redrawn in place when
    *tty* is true — by default, when *out* is a terminal — and printed about once a
    second, without ANSI codes, otherwise.
    """
    if events < 1 or workers < 1:
        raise ValueError("events and workers must be at least 1")
    stream = sys.stdout if out is None else out
    live = _is_terminal(stream) if tty is None else tty
    width = shutil.get_terminal_size().columns if live else None
    view = LiveView(stream, tty=live, width=width)
    # The demo reports handler failures itself; keep mqlite's log quiet while it runs.
    log = logging.getLogger("mqlite")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        return _run(events, workers, manual, seed, view)
    finally:
        log.setLevel(level)


def _run(events: int, workers: int, manual: bool, seed: int, view: LiveView) -> int:
    out = view.out
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
    wake = threading.Event()  # set when the last event is handled: ends the wait at once
    notes: collections.deque[str] = collections.deque()  # lines from worker threads

    rng = random.Random(seed)
    batch = _events(events, rng)
    expected_thumbs = sum(1 for e in batch if _is_thumbnail(e))
    expected_large = sum(1 for e in batch if _is_large(e))

    def finished() -> bool:
        return counters.thumbnails >= expected_thumbs and counters.audited >= len(batch)

    topic.subscribe(
        thumbnails,
        filter_policy={"key": [{"prefix": "images/"}], "event": ["created"]},
        filter_policy_scope="MessageBody",
    )
    topic.subscribe(audit, raw_message_delivery=True)

    def cost_control(note: Notification) -> None:
        counters.add("large")

    topic.subscribe(cost_control, filter_policy={"size": [{"numeric": [">=", _LARGE]}]})

    def make_thumbnail(message: Message) -> None:
        event = json.loads(json.loads(message.body)["Message"])
        if event["key"] == _POISON_KEY and not fixed.is_set():
            counters.add("poison_failures")
            notes.append(
                f"thumbnail worker failed on {event['key']} (receive {message.receive_count})"
            )
            raise ValueError(f"cannot decode {event['key']}")
        counters.add("thumbnails")
        if finished():
            wake.set()

    def audit_event(message: Message) -> None:
        counters.add("audited")
        if finished():
            wake.set()

    def publish(chunk: int) -> None:
        """Publish the *chunk*-th ten events (the bucket's side)."""
        ten = batch[chunk * 10 : chunk * 10 + 10]
        # Counted first: cost-control runs inside publish_batch, and "done" must not run
        # ahead of "published".
        counters.add("published", len(ten))
        counters.add("published_thumbnails", sum(1 for e in ten if _is_thumbnail(e)))
        counters.add("published_large", sum(1 for e in ten if _is_large(e)))
        topic.publish_batch(
            PublishEntry(
                id=f"e{chunk * 10 + i}",
                message=json.dumps(event),
                attributes={"size": int(event["size"])},
            )
            for i, event in enumerate(ten)
        )

    started = time.perf_counter()

    def frame() -> list[str]:
        thumbs, audited = thumbnails.stats(), audit.stats()
        rows = [
            Row(
                "thumbnails",
                counters.published_thumbnails,
                thumbs.visible,
                thumbs.in_flight,
                thumbs.delayed,
                counters.thumbnails,
                dlq.stats().total,
            ),
            Row(
                "audit",
                counters.published,
                audited.visible,
                audited.in_flight,
                audited.delayed,
                counters.audited,
                None,
            ),
            Row("cost-control", counters.published_large, None, None, None, counters.large, None),
        ]
        return render_table(
            rows,
            elapsed=time.perf_counter() - started,
            published=counters.published,
            total=len(batch),
            processed=counters.audited,
        )

    print(f"publishing {len(batch):,} object events to {topic.name} ...", file=out)
    for chunk in range((len(batch) + 9) // 10):
        publish(chunk)
        now = time.perf_counter()
        if view.due(now):
            view.draw(frame(), now)
    view.draw(frame(), time.perf_counter())

    # A worker takes a thumbnail job and crashes before deleting it.
    crashed = thumbnails.receive()
    view.note(f"a worker crashed holding {len(crashed)} thumbnail job(s); the visibility timeout")
    view.note("will bring it back to another worker")

    pools = [
        Worker(thumbnails, make_thumbnail, concurrency=workers),
        Worker(audit, audit_event, concurrency=workers),
    ]
    for pool in pools:
        pool.start()
    redriven = False
    try:
        while True:
            while notes:
                view.note(notes.popleft())
            if finished():
                break
            if not redriven and dlq.stats().visible == 1 and thumbnails.stats().total == 0:
                # Show the frame with the poison message in the dlq column before it leaves.
                view.draw(frame(), time.perf_counter())
                fixed.set()
                moved = dlq.redrive()
                redriven = True
                view.note(f"the poison image landed in the DLQ; bug fixed, redrove {moved} message")
            now = time.perf_counter()
            if view.due(now):
                view.draw(frame(), now)
            if now - started > _GIVE_UP_AFTER:
                view.note(f"gave up after {_GIVE_UP_AFTER:.0f} s")
                return 1
            if isinstance(clock, ManualClock):
                clock.advance(0.05)
            wake.wait(_TICK)  # paces the loop; set as soon as the last event is handled
    finally:
        for pool in pools:
            pool.stop()
    view.draw(frame(), time.perf_counter())
    elapsed = time.perf_counter() - started
    print(
        f"\nsummary: {len(batch):,} events in {elapsed:.2f} s —"
        f" {counters.thumbnails:,} thumbnails (expected {expected_thumbs:,}),"
        f" {counters.audited:,} audited, {counters.large:,} large objects flagged"
        f" (expected {expected_large:,}), poison failed {_times(counters.poison_failures)}"
        " before the fix",
        file=out,
    )
    ok = (
        counters.thumbnails == expected_thumbs
        and counters.audited == len(batch)
        and counters.large == expected_large
        and all(q.stats().total == 0 for q in (thumbnails, dlq, audit))
    )
    print(
        "every event accounted for" if ok else "MISMATCH: some events were not accounted for",
        file=out,
    )
    return 0 if ok else 1


def _times(count: int) -> str:
    """``"1 time"``, ``"2 times"``: a count of occurrences, thousands separated."""
    return f"{count:,} time" + ("" if count == 1 else "s")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m mqlite``; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m mqlite")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run the object-events demo",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument("--events", type=int, default=2_000, help="how many events to publish")
    demo.add_argument("--workers", type=int, default=4, help="workers per pool")
    demo.add_argument("--manual-clock", action="store_true", help="drive time by hand")
    demo.add_argument("--seed", type=int, default=7, help="random seed for the events")
    args = parser.parse_args(argv)
    if args.events < 1 or args.workers < 1:
        parser.error("--events and --workers must be at least 1")
    return run(args.events, args.workers, args.manual_clock, args.seed)
