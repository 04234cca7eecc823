"""How publish-time filter matching scales with the number of subscriptions.

Builds a FilterIndex of 10, 100, 1,000 and 10,000 distinct filter policies (a mix of
exact, prefix, numeric-range, anything-but and exists conditions, some on the message
body) and measures the time of one ``match`` for a fixed set of messages that each match a
handful of policies, next to the naive loop that asks every policy in turn.

Run it as ``python benchmarks/bench_filters.py [--quick]``, or call :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script from a checkout: make the package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mqlite._attribute import Attribute
from mqlite._filter_index import FilterIndex
from mqlite.filters import FilterPolicy

SIZES = (10, 100, 1_000, 10_000)


def make_policy(i: int) -> FilterPolicy:
    """The *i*-th policy: six shapes in turn, each made distinct by *i*."""
    shape = i % 6
    if shape == 0:
        return FilterPolicy({"customer": [f"c{i}"], "type": ["order", "refund"]})
    if shape == 1:
        return FilterPolicy({"sku": [{"prefix": f"sku-{i}-"}], "type": ["order"]})
    if shape == 2:
        return FilterPolicy(
            {"amount": [{"numeric": [">=", i * 10, "<", i * 10 + 5]}], "currency": ["EUR"]}
        )
    if shape == 3:
        return FilterPolicy(
            {"customer": [f"c{i}"], "status": [{"anything-but": ["cancelled", "refunded"]}]}
        )
    if shape == 4:
        return FilterPolicy({"region": [f"r{i}", f"r{i}-b"], "coupon": [{"exists": False}]})
    return FilterPolicy(
        {"order": {"id": [f"o{i}"], "total": [{"numeric": [">", 0]}]}}, "MessageBody"
    )


def _attributes(**values: str) -> dict[str, Attribute]:
    return {
        name: Attribute("Number" if name == "amount" else "String", value)
        for name, value in values.items()
    }


# Each message matches a few of the first twelve policies (present at every size) and
# nothing else.
MESSAGES: list[dict[str, Any]] = [
    {
        "attributes": _attributes(
            customer="c0",
            type="order",
            sku="sku-1-red",
            amount="24",
            currency="EUR",
            status="paid",
            region="r4",
        ),
        "body": json.dumps({"order": {"id": "o5", "total": 24, "lines": [1, 2, 3]}}),
    },
    {
        "attributes": _attributes(customer="c3", status="open", region="r10-b", type="order"),
        "body": json.dumps({"order": {"id": "o11", "total": 7}}),
    },
    {
        "attributes": _attributes(
            customer="c6",
            type="refund",
            sku="sku-7-blue",
            amount="80",
            currency="EUR",
            coupon="SPRING",
        ),
        "body": "plain text, not JSON",
    },
    {
        "attributes": _attributes(customer="nobody", type="audit", amount="-1", region="x"),
        "body": json.dumps({"order": {"id": "none", "total": 1}}),
    },
]


def _time_per_call(call: Callable[[], object], budget: float) -> float:
    """Nanoseconds per call: the best of five rounds, each about budget/5 seconds."""
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    loops = max(1, int(budget / 5 / once))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(loops):
            call()
        best = min(best, (time.perf_counter_ns() - start) / loops)
    return best


def _naive(policies: dict[int, FilterPolicy], message: dict[str, Any]) -> list[int]:
    """What the index replaces: ask every policy in turn."""
    return [key for key, policy in policies.items() if policy.matches(**message)]


def run(quick: bool = False) -> dict[str, Any]:
    """Measure and return the figures.

    The result holds ``sizes``, ``index_ns`` and ``naive_ns`` (mean nanoseconds per
    message, by size), ``matches`` (policies matched per message), ``ratio_1000_to_10``
    (index time at 1,000 policies over time at 10), ``python`` and ``machine``.
    *quick* shortens every measurement (for smoke runs).
    """
    budget = 0.05 if quick else 0.5
    index_ns: dict[int, float] = {}
    naive_ns: dict[int, float] = {}
    matches: dict[int, list[int]] = {}
    for size in SIZES:
        policies = {i: make_policy(i) for i in range(size)}
        index = FilterIndex()
        for key, policy in policies.items():
            index.add(key, policy)
        per_message_index = []
        per_message_naive = []
        counts = []
        for message in MESSAGES:
            found = index.match(**message)
            expected = _naive(policies, message)
            if found != expected:
                raise AssertionError(f"index and policies disagree at {size}: {found} {expected}")
            counts.append(len(found))
            per_message_index.append(_time_per_call(partial(index.match, **message), budget))
            per_message_naive.append(
                _time_per_call(
                    partial(_naive, policies, message), budget if size <= 1_000 else budget / 5
                )
            )
        index_ns[size] = sum(per_message_index) / len(per_message_index)
        naive_ns[size] = sum(per_message_naive) / len(per_message_naive)
        matches[size] = counts
    return {
        "sizes": list(SIZES),
        "index_ns": index_ns,
        "naive_ns": naive_ns,
        "matches": matches,
        "ratio_1000_to_10": index_ns[1_000] / index_ns[10],
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}".strip(),
    }


def format_table(figures: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    lines = [
        f"Python {figures['python']} on {figures['machine']}",
        "",
        "| policies | FilterIndex.match | naive loop | speed-up | matches per message |",
        "|---:|---:|---:|---:|---|",
    ]
    for size in figures["sizes"]:
        index_us = figures["index_ns"][size] / 1000
        naive_us = figures["naive_ns"][size] / 1000
        counts = ", ".join(str(count) for count in figures["matches"][size])
        lines.append(
            f"| {size:,} | {index_us:,.1f} µs | {naive_us:,.1f} µs "
            f"| {naive_us / index_us:,.1f}x | {counts} |"
        )
    lines.append("")
    lines.append(f"FilterIndex time at 1,000 policies / at 10: {figures['ratio_1000_to_10']:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short measurements")
    print(format_table(run(quick=parser.parse_args().quick)))


if __name__ == "__main__":
    main()
