"""Publish cost on a topic with 10, 100 and 1,000 filtered subscriptions: mqlite vs moto.

Every subscription is a queue with its own filter policy (``{"customer": [c_i, c_i+1,
c_i+2], "type": ["order"]}``), so each published message matches exactly three of them
whatever the topic's size. mqlite publishes through ``Topic.publish`` (envelope built and
sent to the three matching queues), the three sizes measured in turn, round after round,
keeping each size's best round; moto publishes through its SNS backend object directly
(``moto.sns.models.sns_backends``, delivering into moto's SQS backend) — no HTTP, no boto3,
so the figures compare the two engines, not their transports. moto is skipped when it
cannot be imported.

A second figure is ``python -m mqlite demo``'s fan-out: batches of ten object events
published to the demo's three subscriptions (a body-filtered queue with the envelope, a
raw queue for every event, a callable behind a numeric filter), per event.

Run it as ``python benchmarks/bench_topic.py [--quick]``, or call :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_queue import interleaved
from mqlite.broker import Broker
from mqlite.demo import _LARGE, _events
from mqlite.message import PublishEntry
from mqlite.queue import Queue
from mqlite.topic import Topic

SIZES = (10, 100, 1_000)
MATCHES_PER_MESSAGE = 3


def _policy(i: int) -> dict[str, Any]:
    return {"customer": [f"c{i + k}" for k in range(MATCHES_PER_MESSAGE)], "type": ["order"]}


def _time_per_call(fn: Callable[[int], object], budget: float) -> float:
    """Mean nanoseconds per call of fn(i), calling it for about *budget* seconds."""
    calls = 0
    start = time.perf_counter_ns()
    deadline = start + int(budget * 1e9)
    now = start
    while now < deadline:
        for _ in range(20):
            fn(calls)
            calls += 1
        now = time.perf_counter_ns()
    return (now - start) / calls


def mqlite_case(size: int, calls: int) -> Callable[[], float]:
    """A topic with *size* filtered queue subscriptions; each call of the result publishes
    *calls* messages and returns mean nanoseconds per publish."""
    topic = Topic(f"bench{size}")
    queues = [Queue(f"q{size}-{i}") for i in range(size)]
    for i, queue in enumerate(queues):
        topic.subscribe(queue, filter_policy=_policy(i))

    # Customer c_j is named by subscriptions j-2, j-1 and j: every message matches three.
    def publish(n: int) -> None:
        customer = f"c{MATCHES_PER_MESSAGE - 1 + n % (size - MATCHES_PER_MESSAGE + 1)}"
        topic.publish('{"order": 1}', attributes={"customer": customer, "type": "order"})

    publish(0)
    matched = sum(q.stats().total for q in queues)
    if matched != MATCHES_PER_MESSAGE:
        raise AssertionError(f"mqlite delivered {matched} copies, expected {MATCHES_PER_MESSAGE}")
    sent = 1

    def once() -> float:
        nonlocal sent
        start = time.perf_counter_ns()
        for n in range(sent, sent + calls):
            publish(n)
        elapsed = time.perf_counter_ns() - start
        sent += calls
        return elapsed / calls

    return once


def bench_moto(size: int, budget: float) -> float | None:
    try:
        from moto.sns.models import sns_backends
        from moto.sqs.models import sqs_backends
    except Exception:  # moto missing or broken: skip it
        return None
    account = f"{100000000000 + size}"
    sns = sns_backends[account]["us-east-1"]
    sqs = sqs_backends[account]["us-east-1"]
    topic = sns.create_topic(f"bench{size}")
    queues = []
    for i in range(size):
        queue = sqs.create_queue(f"q{size}-{i}")
        queues.append(queue)
        sub = sns.subscribe(topic.arn, queue.queue_arn, "sqs")
        sns.set_subscription_attributes(sub.arn, "FilterPolicy", json.dumps(_policy(i)))

    def publish(n: int) -> None:
        customer = f"c{MATCHES_PER_MESSAGE - 1 + n % (size - MATCHES_PER_MESSAGE + 1)}"
        sns.publish(
            '{"order": 1}',
            topic.arn,
            message_attributes={
                "customer": {"Type": "String", "Value": customer},
                "type": {"Type": "String", "Value": "order"},
            },
        )

    publish(0)
    matched = sum(len(q.messages) for q in queues)
    if matched != MATCHES_PER_MESSAGE:
        raise AssertionError(f"moto delivered {matched} copies, expected {MATCHES_PER_MESSAGE}")
    return _time_per_call(publish, budget)


def bench_demo(budget: float) -> float:
    """Mean nanoseconds per event of the demo's publishing (``publish_batch`` of ten)."""
    broker = Broker()
    topic = broker.create_topic("object-events")
    dlq = broker.create_queue("thumbnails-dlq")
    thumbnails = broker.create_queue(
        "thumbnails", visibility_timeout=1, dead_letter_queue=dlq, max_receive_count=2
    )
    audit = broker.create_queue("audit")
    topic.subscribe(
        thumbnails,
        filter_policy={"key": [{"prefix": "images/"}], "event": ["created"]},
        filter_policy_scope="MessageBody",
    )
    topic.subscribe(audit, raw_message_delivery=True)
    topic.subscribe(lambda note: None, filter_policy={"size": [{"numeric": [">=", _LARGE]}]})
    events = _events(10_000, random.Random(7))
    batches = [
        [
            PublishEntry(id=f"e{i}", message=json.dumps(e), attributes={"size": int(e["size"])})
            for i, e in enumerate(events[k : k + 10], start=k)
        ]
        for k in range(0, len(events), 10)
    ]

    def publish(n: int) -> None:
        topic.publish_batch(batches[n % len(batches)])

    # The queues fill up as the demo's do (it publishes everything before it consumes);
    # per event, so the figure compares with a single publish.
    return _time_per_call(publish, budget) / 10


def run(quick: bool = False) -> dict[str, Any]:
    """Measure and return the figures.

    ``sizes``; ``mqlite_ns`` and ``moto_ns`` (mean ns per publish by size; ``moto_ns`` is
    None when moto is unavailable); ``ratio_1000_to_10`` (mqlite at 1,000 subscriptions
    over mqlite at 10) and ``moto_ratio_1000_to_10``; ``demo_ns`` (mean ns per event of
    the demo's fan-out); ``python``, ``machine``.
    """
    budget = 0.1 if quick else 1.0
    # The sizes in turn, round after round, best round each: a busy neighbour slows all
    # of them alike, so the ratio between sizes holds.
    cases = {str(size): mqlite_case(size, 200 if quick else 1_000) for size in SIZES}
    best = interleaved(cases, 3 if quick else 15)
    mqlite_ns = {size: best[str(size)] for size in SIZES}
    demo_ns = bench_demo(budget)
    moto_raw = {size: bench_moto(size, budget / 2 if size >= 1000 else budget) for size in SIZES}
    moto_ns: dict[int, float] | None = (
        None
        if any(v is None for v in moto_raw.values())
        else {k: float(v) for k, v in moto_raw.items() if v is not None}
    )
    return {
        "sizes": list(SIZES),
        "matches_per_message": MATCHES_PER_MESSAGE,
        "mqlite_ns": mqlite_ns,
        "moto_ns": moto_ns,
        "ratio_1000_to_10": mqlite_ns[1_000] / mqlite_ns[10],
        "moto_ratio_1000_to_10": None if moto_ns is None else moto_ns[1_000] / moto_ns[10],
        "demo_ns": demo_ns,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}".strip(),
    }


def format_table(figures: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    moto = figures["moto_ns"]
    lines = [
        f"Python {figures['python']} on {figures['machine']}; each message matches"
        f" {figures['matches_per_message']} subscriptions",
        "",
        "| subscriptions | mqlite ns/publish | moto ns/publish | moto / mqlite |",
        "|---:|---:|---:|---:|",
    ]
    for size in figures["sizes"]:
        ours = figures["mqlite_ns"][size]
        if moto is None:
            lines.append(f"| {size:,} | {ours:,.0f} | (moto not available) | |")
        else:
            lines.append(
                f"| {size:,} | {ours:,.0f} | {moto[size]:,.0f} | {moto[size] / ours:,.1f}x |"
            )
    lines.append("")
    lines.append(
        f"mqlite publish time at 1,000 subscriptions / at 10: {figures['ratio_1000_to_10']:.2f}"
    )
    if figures["moto_ratio_1000_to_10"] is not None:
        lines.append(
            f"moto publish time at 1,000 subscriptions / at 10: "
            f"{figures['moto_ratio_1000_to_10']:.2f}"
        )
    if figures.get("demo_ns") is not None:
        lines.append(
            f"mqlite, the demo's fan-out (3 subscriptions, batches of 10):"
            f" {figures['demo_ns']:,.0f} ns per event"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short measurements")
    print(format_table(run(quick=parser.parse_args().quick)))


if __name__ == "__main__":
    main()
