"""The dashboard's JSON API over real HTTP, against queues made by real boto3 clients."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from mqlite import ManualClock
from mqlite.aws import Server
from mqlite.aws._dashboard import SAMPLE_INTERVAL, is_dashboard_path

ACTION = {"X-Mqlite-Dashboard": "1"}


def _client(server: Server, region: str = "us-east-1") -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=server.endpoint_url,
        region_name=region,
        aws_access_key_id="any",
        aws_secret_access_key="any",
        config=Config(retries={"max_attempts": 1}),
    )


def _request(
    server: Server,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    host = server.endpoint_url.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=5)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _get(server: Server, path: str, status: int = 200) -> Any:
    code, headers, body = _request(server, "GET", path)
    assert code == status, body
    assert headers["Content-Type"].startswith("application/json")
    return json.loads(body)


def _post(server: Server, path: str, body: object = None, status: int = 200) -> Any:
    code, _, raw = _request(server, "POST", path, body if body is not None else {}, ACTION)
    assert code == status, raw
    return json.loads(raw)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(clock: ManualClock) -> Iterator[Server]:
    with Server(port=0, clock=clock) as running:
        yield running


def _rows(server: Server) -> dict[tuple[str, str], dict[str, Any]]:
    return {(q["region"], q["name"]): q for q in _get(server, "/api/queues")["queues"]}


def test_queue_list_shows_what_boto3_made_in_every_region(server: Server) -> None:
    east, west = _client(server), _client(server, "eu-west-1")
    dlq = east.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_arn = east.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    jobs = east.create_queue(
        QueueName="jobs",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
        },
    )["QueueUrl"]
    fifo = west.create_queue(
        QueueName="orders.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for i in range(3):
        east.send_message(QueueUrl=jobs, MessageBody=f"m{i}")
    east.send_message(QueueUrl=jobs, MessageBody="later", DelaySeconds=60)
    east.receive_message(QueueUrl=jobs, MaxNumberOfMessages=1)
    east.send_message(QueueUrl=dlq, MessageBody="dead")
    west.send_message(QueueUrl=fifo, MessageBody="a", MessageGroupId="g1")
    west.send_message(QueueUrl=fifo, MessageBody="b", MessageGroupId="g2")

    answer = _get(server, "/api/queues")
    assert answer["account_id"] == "000000000000"
    assert answer["read_only"] is False
    rows = _rows(server)
    assert set(rows) == {
        ("us-east-1", "jobs"),
        ("us-east-1", "jobs-dlq"),
        ("eu-west-1", "orders.fifo"),
    }
    job = rows[("us-east-1", "jobs")]
    assert (job["visible"], job["in_flight"], job["delayed"], job["messages"]) == (2, 1, 1, 4)
    assert (job["sent"], job["received"], job["deleted"]) == (4, 1, 0)
    assert job["fifo"] is False
    assert job["groups"] is None
    assert job["dead_letter_queue"] == {
        "name": "jobs-dlq",
        "arn": dlq_arn,
        "messages": 1,
        "max_receive_count": 3,
    }
    assert job["is_dead_letter_queue"] is False
    assert rows[("us-east-1", "jobs-dlq")]["is_dead_letter_queue"] is True
    orders = rows[("eu-west-1", "orders.fifo")]
    assert orders["fifo"] is True
    assert orders["groups"] == 2
    assert orders["arn"] == "arn:aws:sqs:eu-west-1:000000000000:orders.fifo"


def test_reads_make_no_region_and_change_nothing(server: Server) -> None:
    _client(server).create_queue(QueueName="jobs")
    _get(server, "/api/queues")
    _get(server, "/api/topics")
    _get(server, "/api/queues/ap-south-1/jobs", status=404)
    assert [b.region for b in server.dashboard.brokers()] == ["us-east-1"]  # type: ignore[union-attr]


def test_oldest_age_and_totals_follow_the_clock(server: Server, clock: ManualClock) -> None:
    sqs = _client(server)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    assert _rows(server)[("us-east-1", "jobs")]["oldest_age"] is None
    sqs.send_message(QueueUrl=url, MessageBody="first")
    clock.advance(30)
    sqs.send_message(QueueUrl=url, MessageBody="second")
    clock.advance(5)
    assert _rows(server)[("us-east-1", "jobs")]["oldest_age"] == pytest.approx(35)
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
        if m["Body"] == "first":
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    row = _rows(server)[("us-east-1", "jobs")]
    assert row["oldest_age"] == pytest.approx(5)
    assert (row["sent"], row["received"], row["deleted"]) == (2, 2, 1)


def test_rates_come_from_samples_on_the_servers_clock(server: Server, clock: ManualClock) -> None:
    sqs = _client(server)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    assert _rows(server)[("us-east-1", "jobs")]["send_rate"] is None  # nothing to compare yet
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(10)]
    )
    clock.advance(SAMPLE_INTERVAL)
    row = _rows(server)[("us-east-1", "jobs")]
    assert row["send_rate"] == pytest.approx(10 / SAMPLE_INTERVAL)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=4)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    clock.advance(SAMPLE_INTERVAL)
    row = _rows(server)[("us-east-1", "jobs")]
    assert row["send_rate"] == pytest.approx(10 / (2 * SAMPLE_INTERVAL))
    assert row["receive_rate"] == pytest.approx(4 / (2 * SAMPLE_INTERVAL))
    assert row["delete_rate"] == pytest.approx(1 / (2 * SAMPLE_INTERVAL))

    history = _get(server, "/api/queues/us-east-1/jobs/history")
    assert history["interval"] == SAMPLE_INTERVAL
    assert [p["visible"] for p in history["samples"]] == [0, 10, 6]
    assert [p["send_rate"] for p in history["samples"]] == [None, 10 / SAMPLE_INTERVAL, 0.0]
    totals = _get(server, "/api/history")["samples"]
    assert [p["in_flight"] for p in totals] == [0, 0, 3]
    assert totals[-1]["receive_rate"] == pytest.approx(4 / SAMPLE_INTERVAL)


def test_a_queue_made_again_starts_a_fresh_history(server: Server, clock: ManualClock) -> None:
    sqs = _client(server)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    _get(server, "/api/queues")
    sqs.delete_queue(QueueUrl=url)
    clock.advance(61)  # SQS refuses the name for 60 seconds
    sqs.create_queue(QueueName="jobs")
    samples = _get(server, "/api/queues/us-east-1/jobs/history")["samples"]
    assert [p["visible"] for p in samples] == [0]


def test_queue_detail_settings_sources_and_groups(server: Server) -> None:
    broker = server.broker()
    dlq = broker.create_queue("dead.fifo")
    source = broker.create_queue(
        "work.fifo", dead_letter_queue=dlq, max_receive_count=2, content_based_deduplication=True
    )
    source.send("a", group_id="g1")
    source.send("b", group_id="g1")
    source.send("c", group_id="g2")
    detail = _get(server, "/api/queues/us-east-1/work.fifo")["queue"]
    assert detail["settings"]["dead_letter_queue"] == dlq.arn
    assert detail["settings"]["max_receive_count"] == 2
    assert detail["settings"]["content_based_deduplication"] is True
    assert detail["group_counts"] == [
        {"group_id": "g1", "messages": 2},
        {"group_id": "g2", "messages": 1},
    ]
    assert _get(server, "/api/queues/us-east-1/dead.fifo")["queue"]["dead_letter_sources"] == [
        "work.fifo"
    ]
    source.send("d", group_id="g1")
    got = source.receive(2)  # the first two of g1
    assert [m.body for m in got] == ["a", "b"]
    source.delete(got[1])  # gone from the middle of its group: "a" in flight, "d" waiting
    counts = _get(server, "/api/queues/us-east-1/work.fifo")["queue"]["group_counts"]
    assert counts == [{"group_id": "g1", "messages": 2}, {"group_id": "g2", "messages": 1}]
    _get(server, "/api/queues/us-east-1/nope", status=404)


def test_peek_changes_no_receive_count(server: Server, clock: ManualClock) -> None:
    sqs = _client(server)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="<b>hi</b>",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    sqs.send_message(QueueUrl=url, MessageBody="wait", DelaySeconds=30)
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=10, MaxNumberOfMessages=1)
    for _ in range(3):
        peeked = _get(server, "/api/queues/us-east-1/jobs/messages")
        assert peeked["total"] == 2
        first, second = peeked["messages"]
        assert first["body"] == "<b>hi</b>"
        assert first["state"] == "in_flight"
        assert first["receive_count"] == 1
        assert first["attributes"] == {
            "kind": {"data_type": "String", "value": "order"},
            "blob": {"data_type": "Binary", "base64": "AAE="},
        }
        assert second["state"] == "delayed"
    clock.advance(10)
    assert _get(server, "/api/queues/us-east-1/jobs/messages")["messages"][0]["state"] == "visible"
    [again] = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])[
        "Messages"
    ]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert len(_get(server, "/api/queues/us-east-1/jobs/messages?limit=1")["messages"]) == 1
    _get(server, "/api/queues/us-east-1/jobs/messages?limit=0", status=400)
    _get(server, "/api/queues/us-east-1/jobs/messages?limit=x", status=400)


def test_purge_and_send_through_the_api(server: Server) -> None:
    sqs = _client(server)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    sent = _post(
        server,
        "/api/queues/us-east-1/jobs/messages",
        {"body": "test <script>", "attributes": {"kind": "probe"}},
    )
    assert _rows(server)[("us-east-1", "jobs")]["visible"] == 2
    assert _post(server, "/api/queues/us-east-1/jobs/purge") == {"purged": True}
    assert _rows(server)[("us-east-1", "jobs")]["messages"] == 0
    again = _post(server, "/api/queues/us-east-1/jobs/purge", status=409)
    assert again["error"]["code"] == "PurgeQueueInProgress"
    _post(server, "/api/queues/us-east-1/jobs/messages", {"body": "test <script>"})
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert m["Body"] == "test <script>"
    assert isinstance(sent["message_id"], str)
    bad = _post(server, "/api/queues/us-east-1/jobs/messages", {"body": 5}, status=400)
    assert bad["error"]["code"] == "InvalidParameter"
    code, _, _ = _request(server, "POST", "/api/queues/us-east-1/jobs/messages", None, ACTION)
    assert code == 400
    fifo = server.broker().create_queue("f.fifo")
    refused = _post(server, "/api/queues/us-east-1/f.fifo/messages", {"body": "x"}, status=400)
    assert refused["error"]["code"] == "MissingParameter"
    assert fifo.stats().total == 0


def test_changes_need_the_header(server: Server) -> None:
    queue = server.broker().create_queue("jobs")
    queue.send("keep")
    code, _, raw = _request(server, "POST", "/api/queues/us-east-1/jobs/purge", {})
    assert code == 403
    assert json.loads(raw)["error"]["code"] == "MissingHeader"
    assert queue.stats().visible == 1


def test_read_only_refuses_every_change(clock: ManualClock) -> None:
    with Server(port=0, clock=clock, read_only=True) as server:
        queue = server.broker().create_queue("jobs")
        queue.send("keep")
        assert _get(server, "/api/queues")["read_only"] is True
        for action, body in (("purge", {}), ("messages", {"body": "x"}), ("redrive", {})):
            answer = _post(server, f"/api/queues/us-east-1/jobs/{action}", body, status=403)
            assert answer["error"]["code"] == "ReadOnly"
        assert queue.stats().visible == 1
        assert queue._state.sent == 1


def test_redrive_with_progress(server: Server, clock: ManualClock) -> None:
    broker = server.broker()
    dlq = broker.create_queue("dlq")
    source = broker.create_queue("work", dead_letter_queue=dlq, max_receive_count=1)
    for i in range(3):
        source.send(f"m{i}")
    source.receive(10, visibility_timeout=1)
    clock.advance(1)
    assert source.receive(10) == []  # the second receive moved them all
    assert dlq.stats().visible == 3
    not_dlq = _post(server, "/api/queues/us-east-1/work/redrive", {"rate": 1}, status=400)
    assert not_dlq["error"]["code"] == "InvalidParameterValue"
    task = _post(server, "/api/queues/us-east-1/dlq/redrive", {"rate": 1})["task"]
    assert (task["status"], task["moved"], task["to_move"]) == ("RUNNING", 0, 3)
    clock.advance(1)
    running = broker.get_queue("dlq").redrive_tasks()[0]
    assert running.wait_until_idle(timeout=5)
    [shown] = _get(server, "/api/queues/us-east-1/dlq")["queue"]["redrive_tasks"]
    assert (shown["status"], shown["moved"]) == ("RUNNING", 1)
    clock.advance(2)
    assert running.wait_until_idle(timeout=5)
    running.join(timeout=5)
    [shown] = _get(server, "/api/queues/us-east-1/dlq")["queue"]["redrive_tasks"]
    assert (shown["status"], shown["moved"], shown["to_move"]) == ("COMPLETED", 3, 3)
    assert source.stats().visible == 3
    assert dlq.stats().total == 0


def test_topics_with_policies_and_counts(server: Server) -> None:
    broker = server.broker()
    topic = broker.create_topic("events")
    orders = broker.create_queue("orders")
    everything = broker.create_queue("everything")
    filtered = topic.subscribe(orders, filter_policy={"kind": ["order"]})
    topic.publish("before")  # everything subscribes after this one
    topic.subscribe(everything)
    topic.publish("o1", attributes={"kind": "order"})
    topic.publish("r1", attributes={"kind": "refund"})
    topic.publish("r2", attributes={"kind": "refund"})

    def failing(_: object) -> None:
        raise RuntimeError("down <b>")

    topic.subscribe(failing)
    [row] = _get(server, "/api/topics")["topics"]
    assert (row["name"], row["region"], row["published"]) == ("events", "us-east-1", 4)
    subs = {s["endpoint"]: s for s in row["subscriptions"]}
    first = subs[orders.arn]
    assert first["arn"] == filtered.arn
    assert (first["delivered"], first["filtered"], first["failed"]) == (1, 3, 0)
    assert json.loads(first["filter_policy"]) == {"kind": ["order"]}
    assert "\n" in first["filter_policy"]  # pretty-printed
    second = subs[everything.arn]
    assert (second["delivered"], second["filtered"], second["filter_policy"]) == (3, 0, None)
    assert second["protocol"] == "sqs"


def test_another_account_is_refused(server: Server) -> None:
    dlq = server.broker().create_queue("dlq")
    server.broker().create_queue("work", dead_letter_queue=dlq)
    for path in ("/api/queues?account=111122223333", "/api/topics?account=111122223333"):
        answer = _get(server, path, status=403)
        assert answer["error"]["code"] == "AccessDenied"
    assert _get(server, "/api/queues?account=000000000000")["queues"]
    other = "arn:aws:sqs:us-east-1:111122223333:work"
    refused = _post(server, "/api/queues/us-east-1/dlq/redrive", {"destination": other}, 403)
    assert refused["error"]["code"] == "AccessDenied"
    assert dlq.redrive_tasks(10) == []


def test_api_errors_are_json(server: Server) -> None:
    server.broker().create_queue("jobs")
    assert _get(server, "/api/nothing", status=404)["error"]["code"] == "NotFound"
    assert _get(server, "/api/queues/us-east-1/jobs/purge", status=404)["error"]["code"] == (
        "NotFound"
    )
    code, _, _ = _request(server, "POST", "/api/queues/us-east-1/jobs/messages", None, {**ACTION})
    assert code == 400
    conn = http.client.HTTPConnection(server.endpoint_url.removeprefix("http://"), timeout=5)
    conn.request("POST", "/api/queues/us-east-1/jobs/messages", body=b"{nope", headers=ACTION)
    response = conn.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["error"]["code"] == "InvalidJson"
    conn.close()


def test_no_dashboard_leaves_those_paths_to_aws(clock: ManualClock) -> None:
    with Server(port=0, clock=clock, dashboard=False) as server:
        server.broker().create_queue("jobs")
        assert server.dashboard is None
        for path in ("/", "/api/queues", "/metrics"):
            code, _, body = _request(server, "GET", path)
            assert code >= 400
            assert b"jobs" not in body


def test_dashboard_paths_leave_the_query_protocol_alone() -> None:
    assert is_dashboard_path("GET", "/")
    assert is_dashboard_path("GET", "/api/queues?x=1")
    assert is_dashboard_path("POST", "/api/queues/r/q/purge")
    assert is_dashboard_path("GET", "/metrics")
    assert not is_dashboard_path("GET", "/?Action=ListQueues")
    assert not is_dashboard_path("POST", "/")
    assert not is_dashboard_path("GET", "/000000000000/jobs")
    assert not is_dashboard_path("POST", "/metrics")


def test_sqs_still_answers_beside_the_dashboard(server: Server) -> None:
    sqs = _client(server)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "x"
    code, headers, _ = _request(server, "GET", "/")
    assert code == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]


def _serve(*options: str) -> tuple[subprocess.Popen[str], list[str]]:
    """``python -m mqlite serve --port 0 *options*`` and its start-up lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mqlite", "serve", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline()]
    while lines[-1] and "e.g." not in lines[-1]:  # the example line ends the start-up
        lines.append(proc.stdout.readline())
    return proc, lines


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize(
    ("options", "shown", "api_status", "read_only"),
    [
        ((), "dashboard: http://127.0.0.1:", 200, False),
        (("--read-only",), "(read-only)", 200, True),
        (("--no-dashboard",), "e.g. aws", 400, None),
    ],
)
def test_serve_prints_the_dashboard_and_takes_its_options(
    options: tuple[str, ...], shown: str, api_status: int, read_only: bool | None
) -> None:
    proc, lines = _serve(*options)
    try:
        endpoint = lines[0].split(" on ")[1].split(" ")[0]
        assert shown in lines[1]
        assert len(lines) == (3 if read_only is not None else 2)
        if api_status == 200:
            assert lines[1].strip().startswith(f"dashboard: {endpoint}/")
        status, body = _fetch(endpoint + "/api/queues")
        assert status == api_status
        if read_only is not None:
            assert json.loads(body)["read_only"] is read_only
        page_status, _ = _fetch(endpoint + "/")
        assert (page_status == 200) is (read_only is not None)
    finally:
        _stop(proc)


def test_polls_and_samples_at_once_are_safe(
    server: Server, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages polling while samples are appended: rates read the samples under their lock."""
    dashboard = server.dashboard
    assert dashboard is not None
    # Rates over the whole history, and thread switches as often as possible: a read that
    # walked the samples without the lock would meet an append in the middle.
    monkeypatch.setattr("mqlite.aws._dashboard.RATE_WINDOW", 1e9)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    queues = [server.broker().create_queue(f"q{i}") for i in range(50)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def poll() -> None:
        try:
            while not stop.is_set():
                dashboard.api_queues()
                dashboard.api_history()
        except BaseException as error:  # reported below
            errors.append(error)
            stop.set()

    pollers = [threading.Thread(target=poll) for _ in range(3)]
    for t in pollers:
        t.start()
    try:
        for step in range(300):
            queues[step % 50].send("x")
            clock.advance(SAMPLE_INTERVAL)
            dashboard.sample()
            if stop.is_set():
                break
    finally:
        stop.set()
        for t in pollers:
            t.join(timeout=5)
        sys.setswitchinterval(switch)
    assert not any(t.is_alive() for t in pollers)
    assert errors == []
    rows = {q["name"]: q for q in dashboard.api_queues()["queues"]}
    assert sum(q["sent"] for q in rows.values()) == 300


def test_topics_list_endpoint_subscriptions_once(server: Server) -> None:
    sns: Any = boto3.client(
        "sns",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
    )
    arn = sns.create_topic(Name="hooks")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@example.com")
    # An http endpoint nobody listens on: its confirmation POST fails, harmlessly.
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="http://127.0.0.1:9/hook")
    from mqlite.aws._sns import confirmation_token

    [http_sub] = [
        s
        for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        if s["Protocol"] == "http"
    ]
    topic = server.broker().get_topic("hooks")
    [pending_http] = [
        e for e in server.regions.topic_extras(topic).endpoints.values() if e.protocol == "http"
    ]
    token = confirmation_token(server.regions, pending_http.arn)
    assert token is not None
    assert http_sub["SubscriptionArn"] == "PendingConfirmation"
    confirmed = sns.confirm_subscription(TopicArn=arn, Token=token)["SubscriptionArn"]
    [row] = _get(server, "/api/topics")["topics"]
    subs = {s["protocol"]: s for s in row["subscriptions"]}
    assert len(row["subscriptions"]) == 2  # the http delivery is not listed a second time
    assert subs["email"]["endpoint"] == "ops@example.com"
    assert subs["email"]["pending"] is True
    assert subs["http"]["arn"] == confirmed
    assert subs["http"]["endpoint"] == "http://127.0.0.1:9/hook"
    assert subs["http"]["pending"] is False
