"""``connect()``: what mqlite's API costs on top of boto3, against ``python -m mqlite serve``.

Two comparisons on the same endpoint (a server in its own process, so its work does not
share this process's interpreter):

* **Per-call overhead** — ``RemoteQueue.send`` against the bare ``sqs.send_message`` it
  makes, and ``RemoteQueue.receive(10)`` against the bare ``receive_message`` (same
  parameters; ``VisibilityTimeout=0`` so the queue's state does not change between calls).
  The two alternate call by call and the median call counts, so load hits both alike.
  On a loaded machine that difference is mostly noise, so the client's own work is also
  timed alone: the same calls on a client whose methods return a recorded answer at once.
  Target: at most 10 % over boto3.
* **Worker throughput** — a ``Worker`` (concurrency 10, so each receive asks for 10) with a
  no-op handler draining a pre-filled queue, against a bare loop of boto3 ``receive_message``
  (10) + ``delete_message_batch`` on the same endpoint. Target: at least half the bare
  loop's messages per second.

Run ``python benchmarks/bench_remote.py`` (``--quick`` for a short run); ``run(quick)``
returns the figures for the suite runner.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402  (after the path fix above, for direct runs)
from botocore.config import Config  # noqa: E402

from benchmarks.bench_server import _free_port, _wait_listening  # noqa: E402
from mqlite import Message, SendEntry, Worker  # noqa: E402
from mqlite.aws import RemoteQueue, connect  # noqa: E402

_SESSION = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench")
_CONFIG = Config(retries={"total_max_attempts": 1}, max_pool_connections=64)


@contextmanager
def _server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mqlite", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _rounds(
    bare: Callable[[], object], ours: Callable[[], object], calls: int, rounds: int
) -> tuple[float, float]:
    """Median seconds of one call of each, the two alternating call by call.

    Alternating every call puts both under the same load; the median of single calls
    ignores the spikes a busy machine adds to a few of them.
    """
    bare_times: list[float] = []
    our_times: list[float] = []
    clock = time.perf_counter
    for _ in range(rounds * calls):
        started = clock()
        bare()
        middle = clock()
        ours()
        bare_times.append(middle - started)
        our_times.append(clock() - middle)
    return statistics.median(bare_times), statistics.median(our_times)


def per_call(endpoint: str, calls: int, rounds: int) -> dict[str, float]:
    """Seconds per call, bare boto3 and through ``RemoteQueue``, for send and receive."""
    broker = connect(endpoint, session=_SESSION, config=_CONFIG)
    sqs = broker.sqs
    queue = broker.create_queue("bench-calls")
    url = queue.url
    body = "x" * 200
    send_bare, send_ours = _rounds(
        lambda: sqs.send_message(QueueUrl=url, MessageBody=body),
        lambda: queue.send(body),
        calls,
        rounds,
    )
    receive_bare, receive_ours = _rounds(
        lambda: sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ),
        lambda: queue.receive(10, visibility_timeout=0, wait=0),
        calls,
        rounds,
    )
    return {
        "send_bare_us": send_bare * 1e6,
        "send_remote_us": send_ours * 1e6,
        "send_overhead": send_ours / send_bare - 1,
        "receive_bare_us": receive_bare * 1e6,
        "receive_remote_us": receive_ours * 1e6,
        "receive_overhead": receive_ours / receive_bare - 1,
    }


class _Recorded:
    """A stand-in for the boto3 client that answers at once with a recorded response."""

    def __init__(self, sent: dict[str, Any], received: dict[str, Any]) -> None:
        self._sent = sent
        self._received = received

    def send_message(self, **_: Any) -> dict[str, Any]:
        return self._sent

    def receive_message(self, **_: Any) -> dict[str, Any]:
        return self._received


def client_work(endpoint: str, calls: int) -> dict[str, float]:
    """Microseconds ``RemoteQueue`` spends per call outside the boto3 call it makes."""
    broker = connect(endpoint, session=_SESSION, config=_CONFIG)
    queue = broker.create_queue("bench-client")
    body = "x" * 200
    sent = broker.sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    for _ in range(9):
        broker.sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    received = broker.sqs.receive_message(
        QueueUrl=queue.url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    queue._sqs = _Recorded(sent, received)
    started = time.perf_counter()
    for _ in range(calls):
        queue.send(body)
    send = (time.perf_counter() - started) / calls
    started = time.perf_counter()
    for _ in range(calls):
        queue.receive(10, visibility_timeout=0, wait=0)
    receive = (time.perf_counter() - started) / calls
    return {
        "send_client_us": send * 1e6,
        "receive_client_us": receive * 1e6,
        "received_per_call": len(received.get("Messages", [])),
    }


def _fill(queue: RemoteQueue, count: int) -> None:
    for start in range(0, count, 10):
        queue.send_batch([SendEntry(str(i), f"m{i}") for i in range(start, start + 10)])


def bare_loop(endpoint: str, count: int) -> float:
    """Messages per second of a boto3 receive(10) + delete_message_batch loop."""
    broker = connect(endpoint, session=_SESSION, config=_CONFIG)
    queue = broker.create_queue("bench-bare")
    _fill(queue, count)
    sqs, url = broker.sqs, queue.url
    done = 0
    started = time.perf_counter()
    while done < count:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if messages:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
            done += len(messages)
    return count / (time.perf_counter() - started)


def worker(endpoint: str, count: int) -> float:
    """Messages per second of a ``Worker`` draining the same number of messages."""
    broker = connect(endpoint, session=_SESSION, config=_CONFIG)
    queue = broker.create_queue("bench-worker")
    _fill(queue, count)
    finished = threading.Event()
    seen = 0
    lock = threading.Lock()

    def handle(_: Message) -> None:
        nonlocal seen
        with lock:
            seen += 1
            if seen == count:
                finished.set()

    pool = Worker(queue, handle, concurrency=10, batch_size=10)
    started = time.perf_counter()
    pool.start()
    finished.wait(120)
    pool.stop()  # sends the last deletes
    return count / (time.perf_counter() - started)


def run(quick: bool = False) -> dict[str, Any]:
    """Every figure of this benchmark."""
    calls, rounds, count = (50, 5, 500) if quick else (200, 9, 3000)
    with _server() as endpoint:
        figures: dict[str, Any] = per_call(endpoint, calls, rounds)
        figures.update(client_work(endpoint, calls * 20))
        bare = bare_loop(endpoint, count)
        pooled = worker(endpoint, count)
    figures.update(
        {
            "send_client_share": figures["send_client_us"] / figures["send_bare_us"],
            "receive_client_share": figures["receive_client_us"] / figures["receive_bare_us"],
            "messages": count,
            "bare_msgs_per_s": bare,
            "worker_msgs_per_s": pooled,
            "worker_over_bare": pooled / bare,
        }
    )
    return figures


def report(results: dict[str, Any]) -> str:
    """The figures as a short table."""
    return "\n".join(
        [
            "Per call (median of alternating calls), against python -m mqlite serve:",
            f"  send:        boto3 {results['send_bare_us']:7.0f} us,"
            f" RemoteQueue {results['send_remote_us']:7.0f} us"
            f" ({results['send_overhead']:+.1%}; target <= +10%)",
            f"  receive(10): boto3 {results['receive_bare_us']:7.0f} us,"
            f" RemoteQueue {results['receive_remote_us']:7.0f} us"
            f" ({results['receive_overhead']:+.1%}; target <= +10%)",
            "Client-side work alone (a recorded answer instead of the request):",
            f"  send:        {results['send_client_us']:5.1f} us"
            f" ({results['send_client_share']:.1%} of the boto3 call)",
            f"  receive(10): {results['receive_client_us']:5.1f} us for"
            f" {results['received_per_call']} messages, MD5s checked"
            f" ({results['receive_client_share']:.1%} of the boto3 call)",
            f"Draining {results['messages']} messages, batches of 10:",
            f"  boto3 receive + delete_batch loop: {results['bare_msgs_per_s']:7.0f} msg/s",
            f"  Worker on a RemoteQueue:           {results['worker_msgs_per_s']:7.0f} msg/s"
            f" ({results['worker_over_bare']:.2f}x the bare loop; target >= 0.5x)",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    args = parser.parse_args()
    print(report(run(args.quick)))
