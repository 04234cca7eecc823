"""The dashboard under load: does an open dashboard slow the server down?

``python -m mqlite serve`` runs in its own process with 1,000 queues. A load generator in
this process keeps ``CONNECTIONS`` keep-alive connections busy, each looping over the queues
in turn with SendMessageBatch (10) + ReceiveMessage (10) + DeleteMessageBatch, request bodies
prepared once. Meanwhile, in the "dashboard open" rounds, a second process does what the
page does every 2 seconds: ``GET /api/queues``, ``/api/topics`` and ``/api/history``, and
records how long each poll took (is the page still responsive?).

Wall-clock throughput is only as steady as the machine: other processes on it move it by
tens of percent from one round to the next. So the server's own CPU time per message is
measured too (from ``/proc``, on Linux): the server spends its interpreter on one request at
a time, so when it is the bottleneck its throughput is inversely proportional to that cost,
and the ratio of the two costs is the throughput a saturated server keeps with a dashboard
open, whatever else the machine is doing.

Rounds alternate without and with the dashboard (A B A B ...) so that drift of the machine
falls on both; the figure is the median of the ratios of each pair of neighbouring rounds,
which a busy machine disturbs less than a ratio of means. A measurement to read, not a test:
nothing here fails on a number. Run ``python benchmarks/bench_dashboard.py``
(``--quick`` for a short run); ``run(quick)`` returns the figures for a suite runner.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_server import _call, _free_port, _wait_listening  # noqa: E402

QUEUES = 1_000
CONNECTIONS = 4
#: The page's polling interval (dashboard.js POLL_MS).
POLL_SECONDS = 2.0

# The page's poll, run in a process of its own so that it takes no share of this process's
# interpreter from the load generator. Prints one JSON line of poll times (ms) at the end.
_POLLER = """
import http.client, json, sys, time
port, seconds, every = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
times, sizes = [], []
print("ready", flush=True)
stop = time.monotonic() + seconds
while time.monotonic() < stop:
    t0 = time.perf_counter()
    size = 0
    for path in ("/api/queues", "/api/topics", "/api/history"):
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, body[:200]
        size += len(body)
    times.append((time.perf_counter() - t0) * 1000)
    sizes.append(size)
    time.sleep(max(0.0, every - (time.perf_counter() - t0)))
print(json.dumps({"poll_ms": times, "bytes": sizes[-1] if sizes else 0}), flush=True)
"""


def _create_queues(port: int) -> list[str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        return [
            str(
                _call(conn, "CreateQueue", json.dumps({"QueueName": f"q{i:04d}"}).encode())[
                    "QueueUrl"
                ]
            )
            for i in range(QUEUES)
        ]
    finally:
        conn.close()


def _cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of process *pid* so far (Linux ``/proc``), else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(port: int, urls: list[str], seconds: float) -> tuple[int, float]:
    """Messages (each sent, received and deleted once) done in *seconds*, and the time."""
    prepared = [
        (
            json.dumps(url),
            json.dumps(
                {
                    "QueueUrl": url,
                    "Entries": [{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)],
                }
            ).encode(),
            json.dumps({"QueueUrl": url, "MaxNumberOfMessages": 10}).encode(),
        )
        for url in urls
    ]
    stop = time.monotonic() + seconds
    counts = [0] * CONNECTIONS

    def loop(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        done = 0
        turn = slot
        while time.monotonic() < stop:
            url_json, send, receive = prepared[turn % len(prepared)]
            turn += CONNECTIONS  # each connection walks its own share of the queues
            _call(conn, "SendMessageBatch", send)
            got = _call(conn, "ReceiveMessage", receive).get("Messages", [])
            if got:
                entries = ",".join(
                    f'{{"Id":"{i}","ReceiptHandle":{json.dumps(m["ReceiptHandle"])}}}'
                    for i, m in enumerate(got)
                )
                _call(
                    conn,
                    "DeleteMessageBatch",
                    f'{{"QueueUrl":{url_json},"Entries":[{entries}]}}'.encode(),
                )
                done += len(got)
        counts[slot] = done
        conn.close()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(CONNECTIONS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), time.monotonic() - t0


class _Round:
    """One round's messages per second, server CPU ms per 1,000 messages, and poll times."""

    def __init__(self, messages: int, elapsed: float, cpu: float | None, poll: Any) -> None:
        self.rate = messages / elapsed
        self.cpu_ms_per_1000 = None if cpu is None else cpu * 1000 / max(1, messages) * 1000
        self.poll = poll


def _round(pid: int, port: int, urls: list[str], seconds: float, dashboard: bool) -> _Round:
    cpu0 = _cpu_seconds(pid)
    if not dashboard:
        messages, elapsed = _load(port, urls, seconds)
        cpu1 = _cpu_seconds(pid)
        cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
        return _Round(messages, elapsed, cpu, None)
    poller = subprocess.Popen(
        [sys.executable, "-c", _POLLER, str(port), str(seconds), str(POLL_SECONDS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert poller.stdout is not None
        # Started and connected before the clock starts: its start-up is not the dashboard's.
        assert poller.stdout.readline().strip() == "ready"
        cpu0 = _cpu_seconds(pid)
        messages, elapsed = _load(port, urls, seconds)
        cpu1 = _cpu_seconds(pid)
        out, _ = poller.communicate(timeout=seconds + 60)
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return _Round(messages, elapsed, cpu, json.loads(out))


def run(quick: bool = False) -> dict[str, Any]:
    """Throughput and server CPU per message without and with a dashboard polling."""
    seconds, rounds = (2.0, 3) if quick else (5.0, 8)
    port = _free_port()
    without: list[_Round] = []
    with_dashboard: list[_Round] = []
    server = subprocess.Popen(
        [sys.executable, "-m", "mqlite", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        _wait_listening(port, server)
        urls = _create_queues(port)
        _load(port, urls, 1.0)  # warm-up: connections, caches, the first samples
        for _ in range(rounds):
            without.append(_round(server.pid, port, urls, seconds, dashboard=False))
            with_dashboard.append(_round(server.pid, port, urls, seconds, dashboard=True))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    polls = [ms for r in with_dashboard for ms in r.poll["poll_ms"]]
    cpu_a = [r.cpu_ms_per_1000 for r in without if r.cpu_ms_per_1000 is not None]
    cpu_b = [r.cpu_ms_per_1000 for r in with_dashboard if r.cpu_ms_per_1000 is not None]
    ratios = [b.rate / a.rate for a, b in zip(without, with_dashboard, strict=True)]
    return {
        "queues": QUEUES,
        "connections": CONNECTIONS,
        "seconds": seconds,
        "rounds": rounds,
        "without_msgs_per_s": [r.rate for r in without],
        "with_msgs_per_s": [r.rate for r in with_dashboard],
        "ratio": statistics.median(ratios),
        "pair_ratios": ratios,
        "cpu_ms_per_1000_without": statistics.median(cpu_a) if cpu_a else None,
        "cpu_ms_per_1000_with": statistics.median(cpu_b) if cpu_b else None,
        "cpu_ratio": statistics.median(cpu_a) / statistics.median(cpu_b)
        if cpu_a and cpu_b
        else None,
        "poll_ms_median": statistics.median(polls) if polls else None,
        "poll_ms_max": max(polls) if polls else None,
        "polls": len(polls),
        "poll_bytes": with_dashboard[-1].poll["bytes"] if with_dashboard else 0,
    }


def report(results: dict[str, Any]) -> str:
    def rates(values: list[float]) -> str:
        return ", ".join(f"{v:.0f}" for v in values)

    drop = (1 - results["ratio"]) * 100
    lines = [
        f"{results['queues']} queues, {results['connections']} keep-alive connections over"
        " them, SendMessageBatch(10) + ReceiveMessage(10) + DeleteMessageBatch,"
        f" {results['rounds']} rounds of {results['seconds']:.0f} s each way:",
        f"  no dashboard:       {statistics.mean(results['without_msgs_per_s']):8.0f} msg/s"
        f"  ({rates(results['without_msgs_per_s'])})",
        f"  dashboard polling:  {statistics.mean(results['with_msgs_per_s']):8.0f} msg/s"
        f"  ({rates(results['with_msgs_per_s'])})",
        f"  ratio with/without: {results['ratio']:.3f}, median of the pairs"
        f" ({', '.join(f'{r:.2f}' for r in results['pair_ratios'])}):"
        + (f" throughput {drop:.1f} % lower" if drop >= 0 else " no measurable drop"),
    ]
    if results["cpu_ratio"] is not None:
        lines.append(
            f"  server CPU per 1,000 messages: {results['cpu_ms_per_1000_without']:.0f} ms"
            f" without, {results['cpu_ms_per_1000_with']:.0f} ms with (medians): a saturated"
            f" server keeps {results['cpu_ratio'] * 100:.1f} % of its throughput"
        )
    if results["poll_ms_median"] is not None:
        lines.append(
            f"  one page poll (/api/queues + /api/topics + /api/history,"
            f" {results['poll_bytes'] / 1024:.0f} KiB): median"
            f" {results['poll_ms_median']:.0f} ms, max {results['poll_ms_max']:.0f} ms"
            f" over {results['polls']} polls"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    args = parser.parse_args()
    print(report(run(args.quick)))
