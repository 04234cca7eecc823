"""boto3 against mqlite beside moto: one send + receive + delete per message.

Each figure is the cost, in microseconds per message, of a boto3 ``send_message``, a
``receive_message`` and a ``delete_message`` on a queue that already holds ``DEPTH``
messages:

* **botocore alone** — the same three calls answered by canned responses from a
  ``before-send`` hook: what botocore's serialising, signing and parsing cost, the floor
  for any in-process mock;
* **mqlite mock_aws** — ``mqlite.aws.mock_aws``;
* **moto mock_aws** — ``moto.mock_aws`` (skipped when moto is not installed);
* **mqlite Server** — the same client over HTTP to ``mqlite.aws.Server`` on localhost.

Run ``python benchmarks/bench_aws.py`` (``--quick`` for a short run). ``run(quick)``
returns the figures for the suite runner.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from botocore.awsrequest import AWSResponse

from mqlite.aws import Server, mock_aws

DEPTH = 1_000
REGION = "us-east-1"


def _client(**kwargs: Any) -> Any:
    return boto3.client(
        "sqs",
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        **kwargs,
    )


def _cycle(sqs: Any, url: str, n: int) -> float:
    """Microseconds per send + receive + delete, over *n* messages."""
    t0 = time.perf_counter()
    for i in range(n):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        [message] = sqs.receive_message(QueueUrl=url)["Messages"]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return (time.perf_counter() - t0) / n * 1e6


def _fill(sqs: Any, url: str) -> None:
    for start in range(0, DEPTH, 10):
        entries = [{"Id": str(i), "MessageBody": f"d{i}"} for i in range(start, start + 10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Any:
        yield self._body


_CANNED = {
    "SendMessage": {"MessageId": "0" * 36, "MD5OfMessageBody": "0" * 32},
    "ReceiveMessage": {
        "Messages": [
            {"MessageId": "0" * 36, "ReceiptHandle": "h", "MD5OfBody": "0" * 32, "Body": "m"}
        ]
    },
    "DeleteMessage": {},
}


def botocore_alone(n: int) -> float:
    """The floor: botocore's own work per cycle, answered by canned responses."""
    sqs = _client()
    url = f"https://sqs.{REGION}.amazonaws.com/000000000000/q"

    def answer(request: Any, **_kwargs: Any) -> AWSResponse:
        op = request.headers["X-Amz-Target"].decode().split(".", 1)[1]
        body = json.dumps(_CANNED[op]).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 200, headers, _Raw(body))  # type: ignore[arg-type]

    sqs.meta.events.register("before-send.sqs", answer)
    return _cycle(sqs, url, n)


def mqlite_mock(n: int) -> float:
    """mqlite.aws.mock_aws at depth DEPTH."""
    with mock_aws():
        sqs = _client()
        url = sqs.create_queue(QueueName="bench")["QueueUrl"]
        _fill(sqs, url)
        return _cycle(sqs, url, n)


def moto_mock(n: int) -> float | None:
    """moto.mock_aws at depth DEPTH, or None without moto."""
    try:
        from moto import mock_aws as moto_mock_aws
    except ImportError:
        return None
    with moto_mock_aws():
        sqs = _client()
        url = sqs.create_queue(QueueName="bench")["QueueUrl"]
        _fill(sqs, url)
        return _cycle(sqs, url, n)


def mqlite_server(n: int) -> float:
    """mqlite.aws.Server on localhost at depth DEPTH."""
    with Server(port=0) as server:
        sqs = _client(endpoint_url=server.endpoint_url)
        url = sqs.create_queue(QueueName="bench")["QueueUrl"]
        _fill(sqs, url)
        return _cycle(sqs, url, n)


def _best(fn: Callable[[int], float | None], n: int, rounds: int) -> float | None:
    results = [fn(n) for _ in range(rounds)]
    known = [r for r in results if r is not None]
    return min(known) if known else None


def run(quick: bool = False) -> dict[str, Any]:
    """Microseconds per message for each, and the ratios that matter."""
    n = 100 if quick else 1_000
    moto_n = 30 if quick else 200  # moto is slow at this depth: fewer messages suffice
    rounds = 1 if quick else 3
    floor = _best(botocore_alone, n, rounds)
    mock = _best(mqlite_mock, n, rounds)
    server = _best(mqlite_server, n, rounds)
    moto = _best(moto_mock, moto_n, 1)
    assert floor is not None
    assert mock is not None
    assert server is not None
    return {
        "depth": DEPTH,
        "botocore_us": floor,
        "mqlite_mock_us": mock,
        "mqlite_server_us": server,
        "moto_mock_us": moto,
        "mock_over_floor": mock / floor,
        "moto_over_mock": (moto / mock) if moto is not None else None,
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        f"boto3 send + receive + delete per message, queue depth {results['depth']:,}:",
        f"  botocore alone (canned answers): {results['botocore_us']:9.0f} µs",
        f"  mqlite mock_aws:                 {results['mqlite_mock_us']:9.0f} µs"
        f" ({results['mock_over_floor']:.2f}x botocore alone)",
        f"  mqlite Server (HTTP, localhost): {results['mqlite_server_us']:9.0f} µs",
    ]
    if results["moto_mock_us"] is not None:
        lines.append(
            f"  moto mock_aws:                   {results['moto_mock_us']:9.0f} µs"
            f" ({results['moto_over_mock']:.0f}x mqlite mock_aws)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    args = parser.parse_args()
    print(report(run(args.quick)))
