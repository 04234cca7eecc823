"""Run every benchmark side by side in one process and write ``docs/performance.md``.

``python -m benchmarks`` (or ``python benchmarks/run.py``) runs, in one run on one
machine: the queue cycle beside ``queue.Queue`` (``bench_queue``), filter matching beside
a naive loop (``bench_filters``), topic publishing beside moto (``bench_topic``) and the
worker pool beside a ``queue.Queue`` thread pool (``bench_worker``), the wire layers
(``bench_aws``, ``bench_server``, ``bench_remote``, ``bench_dashboard``) and durable queues
beside bare sqlite3 commits and the SQLite-backed queue libraries (``bench_durable``). It
prints each table.
Only with ``--write`` does it also write them, with the machine and Python version, to
``docs/performance-results.md`` and, when matplotlib is installed, plot PNGs into ``docs/``:
those files are tracked, so changing them is an explicit choice. ``--quick`` makes every
part shorter. ``--only NAME`` (repeatable, e.g. ``--only bench_durable``) runs just those
parts; with ``--write`` it replaces only their sections of the results page, each saying
when and where it ran, and leaves the rest of the page and the plots as they were.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Where ``--write`` puts the results page and plots.
DOCS = ROOT / "docs"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: (module, title) in the order they run.
PARTS = [
    ("bench_queue", "Queue cycle: send + receive(10) + delete"),
    ("bench_filters", "Filter matching: FilterIndex vs asking every policy"),
    ("bench_topic", "Topic publish with filtered subscriptions"),
    ("bench_worker", "Worker pool throughput"),
    ("bench_aws", "boto3 under mock_aws: send + receive + delete"),
    ("bench_server", "SQS over HTTP: python -m mqlite serve under load"),
    ("bench_remote", "RemoteQueue over python -m mqlite serve, beside bare boto3"),
    ("bench_dashboard", "Server throughput with and without a dashboard open (1,000 queues)"),
    ("bench_durable", "Durable queues (path=) beside bare sqlite3, persist-queue and litequeue"),
]


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def _table(module: Any, figures: dict[str, Any]) -> str:
    for name in ("report", "format_table"):
        fn = getattr(module, name, None)
        if fn is not None:
            return str(fn(figures))
    return json.dumps(figures, indent=2, default=str)


def _plots(results: dict[str, dict[str, Any]], out: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    queue_figs = results.get("bench_queue")
    if queue_figs:
        depths = sorted(queue_figs["depth"])
        fig, ax = plt.subplots(figsize=(6, 4))
        cost = [queue_figs["depth"][d] / 1000 for d in depths]
        ax.plot(depths, cost, "o-", label="mqlite cycle")
        ax.axhline(queue_figs["stdlib_put_get"] / 1000, color="grey", ls="--", label="queue.Queue")
        ax.set_xscale("log")
        ax.set_xlabel("messages waiting in the queue")
        ax.set_ylabel("µs per message")
        ax.set_ylim(bottom=0)
        ax.set_title("Cost per message vs queue depth")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "perf-depth.png", dpi=100)
        plt.close(fig)
        written.append("perf-depth.png")
    filter_figs = results.get("bench_filters")
    if filter_figs:
        sizes = filter_figs["sizes"]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(
            sizes, [filter_figs["index_ns"][s] / 1000 for s in sizes], "o-", label="mqlite index"
        )
        ax.plot(
            sizes, [filter_figs["naive_ns"][s] / 1000 for s in sizes], "s--", label="every policy"
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("filtered subscriptions")
        ax.set_ylabel("µs per published message (matching)")
        ax.set_title("Matching cost vs number of subscriptions")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "perf-subscriptions.png", dpi=100)
        plt.close(fig)
        written.append("perf-subscriptions.png")
    aws_figs = results.get("bench_aws")
    if aws_figs:
        labels = ["botocore alone"]
        costs = [aws_figs["botocore_us"]]
        for depth, fig in aws_figs["mock"].items():
            labels.append(f"mqlite mock_aws\n[{depth:,}]")
            costs.append(fig["us"])
        labels.append("mqlite Server\n(HTTP)")
        costs.append(aws_figs["server_us"])
        for depth, fig in aws_figs["moto"].items():
            labels.append(f"moto mock_aws\n[{depth:,}]")
            costs.append(fig["us"])
        fig, ax = plt.subplots(figsize=(8.5, 4))
        ax.bar(range(len(costs)), [c / 1000 for c in costs], color="tab:blue")
        ax.set_xticks(range(len(costs)), labels, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("ms per message (log scale)")
        ax.set_title("boto3 send + receive + delete [messages waiting]")
        fig.tight_layout()
        fig.savefig(out / "perf-aws.png", dpi=100)
        plt.close(fig)
        written.append("perf-aws.png")
    return written


def _replace_section(page: str, section: str) -> str:
    """*page* with the ``## `` section of *section*'s title replaced by it (else appended)."""
    title = section.split("\n", 1)[0]
    lines = page.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == title]
    if not starts:
        return page.rstrip("\n") + "\n\n" + section
    start = starts[0]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "".join(lines[end:])
    return "".join(lines[:start]) + section + ("\n" + rest if rest else "")


def main(argv: list[str] | None = None) -> None:
    """Run the suite; see the module docstring."""
    parser = argparse.ArgumentParser(description="mqlite benchmark suite; prints its tables")
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument(
        "--write",
        action="store_true",
        help="also rewrite docs/performance-results.md and the plots in docs/",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[name for name, _ in PARTS],
        metavar="NAME",
        help="run only this part (repeatable); with --write, rewrite only its section",
    )
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    sections = []
    when = datetime.date.today().isoformat()
    for name, title in PARTS:
        if args.only and name not in args.only:
            continue
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ImportError as error:
            print(f"## {title}: not run ({error})\n")
            continue
        print(f"## {title}", flush=True)
        figures = module.run(args.quick)
        results[name] = figures
        table = _table(module, figures)
        print(table + "\n", flush=True)
        if args.only:
            # The rest of the page ran elsewhere: this section says where it ran.
            where = (
                f"`python -m benchmarks --only {name}{' --quick' if args.quick else ''}` on"
                f" {when}; {_machine()}; Python {platform.python_version()}.\n\n"
            )
            sections.append(f"## {title}\n\n{where}```\n{table}\n```\n")
        else:
            sections.append(f"## {title}\n\n```\n{table}\n```\n")
    if not args.write:
        return
    docs = DOCS
    if args.only:
        page = docs / "performance-results.md"
        text = page.read_text() if page.exists() else "# Performance\n\n"
        for section in sections:
            text = _replace_section(text, section)
        page.write_text(text)
        print(f"wrote {len(sections)} section(s) of docs/performance-results.md")
        return
    plots = _plots(results, docs)
    head = (
        "# Performance\n\n"
        "Figures written by `python -m benchmarks"
        + (" --quick" if args.quick else "")
        + f"` on {when}.\n\nMachine: {_machine()}; Python {platform.python_version()}.\n"
        "Every comparison below ran in the same process, one after the other.\n\n"
    )
    body = "\n".join(sections)
    pics = "".join(f"![{p}]({p})\n\n" for p in plots)
    (docs / "performance-results.md").write_text(head + pics + body)
    print(f"wrote docs/performance-results.md and {len(plots)} plot(s)")


if __name__ == "__main__":
    main()
