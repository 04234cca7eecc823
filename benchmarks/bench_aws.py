"""boto3 against mqlite beside moto: one send + receive + delete per message.

Each figure is the cost, in microseconds per message, of a boto3 ``send_message``, a
``receive_message`` and a ``delete_message`` on a queue that already holds some messages
(10 and 10,000 for mqlite; 10 and 1,000 for moto, which slows down with depth):

* **botocore alone** — the same three calls answered by canned responses from a
  ``before-send`` hook: what botocore's serialising, signing and parsing cost, the floor
  for any in-process mock;
* **mqlite mock_aws** — ``mqlite.aws.mock_aws``;
* **moto mock_aws** — ``moto.mock_aws`` (skipped when moto is not installed);
* **mqlite Server** — the same client over HTTP to ``mqlite.aws.Server`` on localhost.

And the cost of entering and leaving ``mock_aws`` (an empty ``with`` block), beside moto's.

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

DEPTHS = (10, 10_000)
MOTO_DEPTHS = (10, 1_000)
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


def _fill(sqs: Any, url: str, depth: int) -> None:
    for start in range(0, depth, 10):
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


def mqlite_mock(n: int, depth: int) -> float:
    """mqlite.aws.mock_aws with *depth* messages waiting."""
    with mock_aws():
        sqs = _client()
        url = sqs.create_queue(QueueName="bench")["QueueUrl"]
        _fill(sqs, url, depth)
        return _cycle(sqs, url, n)


def _moto() -> Any:
    try:
        from moto import mock_aws as moto_mock_aws
    except ImportError:
        return None
    return moto_mock_aws


def moto_mock(n: int, depth: int) -> float | None:
    """moto.mock_aws with *depth* messages waiting, or None without moto."""
    moto_mock_aws = _moto()
    if moto_mock_aws is None:
        return None
    with moto_mock_aws():
        sqs = _client()
        url = sqs.create_queue(QueueName="bench")["QueueUrl"]
        _fill(sqs, url, depth)
        return _cycle(sqs, url, n)


def mqlite_server(n: int, depth: int) -> float:
    """mqlite.aws.Server on localhost with *depth* messages waiting."""
    with Server(port=0) as server:
        sqs = _client(endpoint_url=server.endpoint_url)
        url = sqs.create_queue(QueueName="bench")["QueueUrl"]
        _fill(sqs, url, depth)
        return _cycle(sqs, url, n)


def enter_exit(mock: Callable[[], Any], n: int) -> float:
    """Microseconds to enter and leave an empty ``with mock():`` block."""
    t0 = time.perf_counter()
    for _ in range(n):
        with mock():
            pass
    return (time.perf_counter() - t0) / n * 1e6


def run(quick: bool = False) -> dict[str, Any]:
    """Microseconds per message for each, at each depth, and the ratios that matter."""
    n = 100 if quick else 1_000
    moto_n = 30 if quick else 200  # moto is slow: fewer messages give a stable figure
    rounds = 1 if quick else 3
    floor = min(botocore_alone(n) for _ in range(rounds))
    out: dict[str, Any] = {"botocore_us": floor, "mock": {}, "moto": {}}
    for depth in DEPTHS:
        mock = min(mqlite_mock(n, depth) for _ in range(rounds))
        out["mock"][depth] = {"us": mock, "over_floor": mock / floor}
    out["server_us"] = min(mqlite_server(n, DEPTHS[0]) for _ in range(rounds))
    for depth in MOTO_DEPTHS:
        moto = moto_mock(moto_n, depth)
        if moto is not None:
            out["moto"][depth] = {"us": moto, "over_floor": moto / floor}
    out["mock_enter_exit_us"] = enter_exit(mock_aws, 200 if quick else 2_000)
    moto_cm = _moto()
    out["moto_enter_exit_us"] = enter_exit(moto_cm, 20 if quick else 100) if moto_cm else None
    return out


def report(results: dict[str, Any]) -> str:
    floor = results["botocore_us"]
    lines = [
        "boto3 send + receive + delete, µs per message (queue depth in brackets):",
        f"  botocore alone (canned answers):  {floor:9.0f}",
    ]
    for depth, fig in results["mock"].items():
        lines.append(
            f"  mqlite mock_aws [{depth:>6,}]:        {fig['us']:9.0f}"
            f"  ({fig['over_floor']:.2f}x botocore alone)"
        )
    lines.append(f"  mqlite Server, HTTP [{DEPTHS[0]:>6,}]:    {results['server_us']:9.0f}")
    for depth, fig in results["moto"].items():
        lines.append(
            f"  moto mock_aws [{depth:>6,}]:          {fig['us']:9.0f}"
            f"  ({fig['over_floor']:.0f}x botocore alone)"
        )
    lines.append(f"entering + leaving mock_aws: mqlite {results['mock_enter_exit_us']:.0f} µs")
    if results["moto_enter_exit_us"] is not None:
        ratio = results["moto_enter_exit_us"] / results["mock_enter_exit_us"]
        lines[-1] += f", moto {results['moto_enter_exit_us']:.0f} µs ({ratio:.0f}x)"
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    args = parser.parse_args()
    print(report(run(args.quick)))
