"""``Server`` and ``python -m mqlite serve``: real HTTP on a free port, real boto3 clients."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from mqlite import ManualClock, QueueStats
from mqlite.aws import Server
from mqlite.aws._server import serve


def _client(server: Server, region: str = "us-east-1", service: str = "sqs") -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=server.endpoint_url,
        region_name=region,
        aws_access_key_id="any",
        aws_secret_access_key="any",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=20),
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(clock: ManualClock) -> Iterator[Server]:
    with Server(port=0, clock=clock) as running:
        yield running


def _until_waiting(clock: ManualClock, count: int = 1) -> None:
    for _ in range(5_000):
        if len(clock.pending_deadlines()) >= count:
            return
        threading.Event().wait(0.001)
    raise AssertionError("nothing started waiting on the clock")


def test_round_trip_and_urls(server: Server) -> None:
    sqs = _client(server)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    assert url == f"{server.endpoint_url}/000000000000/jobs"
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert m["Body"] == "hello"
    assert m["MD5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert server.broker().get_queue("jobs").stats().visible == 0


def test_region_comes_from_the_signature(server: Server) -> None:
    _client(server, "ap-southeast-2").create_queue(QueueName="far")
    assert server.broker("ap-southeast-2").get_queue("far").arn == (
        "arn:aws:sqs:ap-southeast-2:000000000000:far"
    )
    assert "QueueUrls" not in _client(server, "us-east-1").list_queues()


def test_errors_arrive_as_aws_errors(server: Server) -> None:
    sqs = _client(server)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as error:
        sqs.get_queue_url(QueueName="missing")
    assert error.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_long_poll_holds_up_nobody_else(server: Server, clock: ManualClock) -> None:
    sqs = _client(server)
    idle = sqs.create_queue(QueueName="idle")["QueueUrl"]
    busy = sqs.create_queue(QueueName="busy")["QueueUrl"]
    got: list[Any] = []
    poller = threading.Thread(
        target=lambda: got.append(sqs.receive_message(QueueUrl=idle, WaitTimeSeconds=20))
    )
    poller.start()
    _until_waiting(clock)
    other = _client(server)
    for i in range(20):  # served while the long poll is still waiting
        other.send_message(QueueUrl=busy, MessageBody=str(i))
    assert server.broker().get_queue("busy").stats().visible == 20
    assert poller.is_alive()
    clock.advance(20)
    poller.join(timeout=5)
    assert not poller.is_alive()
    assert "Messages" not in got[0]


def test_many_concurrent_clients_lose_nothing(server: Server) -> None:
    url = _client(server).create_queue(QueueName="q")["QueueUrl"]
    threads, per_thread = 6, 40
    received: list[str] = []
    lock = threading.Lock()

    def produce(n: int) -> None:
        sqs = _client(server)
        for i in range(per_thread):
            sqs.send_message(QueueUrl=url, MessageBody=f"{n}-{i}")

    def consume() -> None:
        sqs = _client(server)
        while True:
            with lock:
                if len(received) >= threads * per_thread:
                    return
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            for m in got.get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                with lock:
                    received.append(m["Body"])

    workers = [threading.Thread(target=produce, args=(n,)) for n in range(threads)]
    workers += [threading.Thread(target=consume) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not any(w.is_alive() for w in workers)
    assert sorted(received) == sorted(f"{n}-{i}" for n in range(threads) for i in range(per_thread))
    assert server.broker().get_queue("q").stats() == QueueStats(0, 0, 0)


def _raw(server: Server, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    host = server.endpoint_url.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=10)
    try:
        conn.request(
            "POST",
            "/",
            body=body,
            headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
        )
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_unknown_action_and_bad_json_are_client_errors(server: Server) -> None:
    status, headers, body = _raw(server, "AmazonSQS.NoSuchThing", b"{}")
    assert status == 400
    assert json.loads(body)["__type"].endswith("UnsupportedOperation")
    assert headers["x-amzn-query-error"].endswith(";Sender")
    status, _, body = _raw(server, "AmazonSQS.ListQueues", b"{not json")
    assert status == 400
    assert "JSON" in json.loads(body)["message"]


def test_stop_frees_the_port_and_is_idempotent(clock: ManualClock) -> None:
    server = Server(port=0, clock=clock).start()
    port = int(server.endpoint_url.rsplit(":", 1)[1])
    server.stop()
    server.stop()
    with Server(port=port, clock=clock) as again:  # the same port binds again
        assert again.endpoint_url.endswith(f":{port}")
    with pytest.raises(RuntimeError):
        _ = server.endpoint_url


def test_command_line_serves_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mqlite", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        endpoint = first.split(" on ")[1].split(" ")[0]
        assert endpoint.startswith("http://127.0.0.1:")
        sqs = boto3.client(
            "sqs",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="any",
            aws_secret_access_key="any",
        )
        assert sqs.create_queue(QueueName="cli")["QueueUrl"] == f"{endpoint}/000000000000/cli"
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_command_line_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    # In this process: `python -m mqlite serve` reaching serve() is the test above's.
    with pytest.raises(SystemExit) as done:
        serve(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--port PORT" in out
    assert "9324" in out


def _post(server: Server, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    """Status and the legacy error code (x-amzn-query-error) of a raw POST."""
    host = server.endpoint_url.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=10)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("x-amzn-query-error") or ""
    finally:
        conn.close()


_JSON = {"Content-Type": "application/x-amz-json-1.0"}


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        ("AmazonSQS.SendMessage", b"{not json", "InvalidParameterValue"),
        ("AmazonSQS.SendMessage", b"[1, 2]", "InvalidParameterValue"),
        ("AmazonSQS.SendMessage", b"\xff\xfe{}", "InvalidParameterValue"),
        ("AmazonSQS.SendMessage", b'{"QueueUrl": "/000000000000/q"}', "MissingParameter"),
        ("AmazonSQS.SendMessage", b'{"QueueUrl": 5, "MessageBody": "x"}', "InvalidParameterValue"),
        (
            "AmazonSQS.SendMessage",
            b'{"QueueUrl": "/000000000000/q", "MessageBody": "x", "DelaySeconds": "5"}',
            "InvalidParameterValue",
        ),
        (
            "AmazonSQS.SendMessage",
            b'{"QueueUrl": "/000000000000/q", "MessageBody": "x", "Bogus": 1}',
            "InvalidParameterValue",
        ),
        (
            "AmazonSQS.SendMessageBatch",
            b'{"QueueUrl": "/000000000000/q", "Entries": {"Id": "1"}}',
            "InvalidParameterValue",
        ),
        (
            "AmazonSQS.SendMessage",
            b'{"QueueUrl": "/000000000000/q", "MessageBody": "x", "MessageAttributes":'
            b' {"a": {"DataType": "Binary", "BinaryValue": "not base64!"}}}',
            "InvalidParameterValue",
        ),
        (
            "AmazonSQS.SendMessage",
            b'{"QueueUrl": "/000000000000/q", "MessageBody": "' + b"x" * (10 * 1024 * 1024) + b'"}',
            "InvalidParameterValue",
        ),
        ("", b"{}", "AWS.SimpleQueueService.UnsupportedOperation"),
    ],
)
def test_bad_wire_input_is_a_400_and_changes_nothing(
    server: Server, target: str, body: bytes, code: str
) -> None:
    queue = server.broker().create_queue("q")
    headers = {**_JSON, "X-Amz-Target": target} if target else dict(_JSON)
    status, legacy = _post(server, headers, body)
    assert status == 400
    assert legacy.startswith(f"{code};Sender") or legacy.endswith(f"{code};Sender")
    assert queue.stats() == QueueStats(0, 0, 0)
    # ... and the server is still up.
    assert _client(server).list_queues()["QueueUrls"] == [f"{server.endpoint_url}/000000000000/q"]


def test_a_bad_content_length_is_refused_without_reading(server: Server) -> None:
    host = server.endpoint_url.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=10)
    try:
        conn.putrequest("POST", "/")
        conn.putheader("Content-Length", str(100 * 1024 * 1024))
        conn.endheaders()
        assert conn.getresponse().status == 413
    finally:
        conn.close()
    assert "QueueUrls" not in _client(server).list_queues()


def test_one_debug_log_line_per_request(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.DEBUG, logger="mqlite.aws.server"):
        _client(server).list_queues()
    lines = [r.getMessage() for r in caplog.records if r.name == "mqlite.aws.server"]
    assert len(lines) == 1
    assert "AmazonSQS.ListQueues" in lines[0]
    assert " 200 " in lines[0]


def test_stop_takes_open_connections_with_it(clock: ManualClock) -> None:
    server = Server(port=0, clock=clock).start()
    host = server.endpoint_url.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=10)
    headers = {**_JSON, "X-Amz-Target": "AmazonSQS.ListQueues"}
    try:
        conn.request("POST", "/", body=b"{}", headers=headers)
        first = conn.getresponse()
        first.read()
        assert first.status == 200
        server.stop()

        # The same keep-alive connection: the stopped endpoint does not answer on it.
        def again() -> None:
            conn.request("POST", "/", body=b"{}", headers=headers)
            conn.getresponse().read()

        with pytest.raises((http.client.HTTPException, ConnectionError)):
            again()
    finally:
        conn.close()
        server.stop()
