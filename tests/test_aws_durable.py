"""``Server(path=...)`` and ``serve --data``: durable state across server restarts, via boto3."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from mqlite import Broker, ManualClock, MqliteError
from mqlite.aws import Regions, Server
from mqlite.aws._server import serve
from mqlite.aws._sns import confirmation_token
from mqlite.errors import Closed, StorageError


def _client(endpoint: str, service: str = "sqs", region: str = "us-east-1") -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="any",
        aws_secret_access_key="any",
        config=Config(retries={"max_attempts": 1}),
    )


def _bodies(sqs: Any, url: str) -> list[str]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [m["Body"] for m in got.get("Messages", [])]


def test_a_new_server_on_the_directory_serves_the_queues_the_last_one_left(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    data = tmp_path / "state"
    with Server(port=0, clock=clock, path=data) as server:
        sqs = _client(server.endpoint_url)
        jobs = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "60"})[
            "QueueUrl"
        ]
        orders = sqs.create_queue(
            QueueName="orders.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )["QueueUrl"]
        for body in ("direct", "in flight"):
            sqs.send_message(QueueUrl=jobs, MessageBody=body)
        for body in ("first", "second", "third"):
            sqs.send_message(QueueUrl=orders, MessageBody=body, MessageGroupId="g")
        eu = _client(server.endpoint_url, region="eu-west-1")
        eu.send_message(QueueUrl=eu.create_queue(QueueName="far")["QueueUrl"], MessageBody="eu")
        [held] = sqs.receive_message(QueueUrl=jobs)["Messages"]
    # One file per region, beside the directory's lock.
    assert sorted(p.name for p in data.iterdir()) == [
        "eu-west-1.mqlite",
        "server.lock",
        "us-east-1.mqlite",
    ]

    with Server(port=0, clock=clock, path=data) as server:
        # Every stored region is open from the start: the dashboard lists both before any
        # request has named them.
        assert server.dashboard is not None
        assert [b.region for b in server.dashboard.brokers()] == ["eu-west-1", "us-east-1"]
        sqs = _client(server.endpoint_url)
        base = f"{server.endpoint_url}/000000000000"
        assert sorted(sqs.list_queues()["QueueUrls"]) == [f"{base}/jobs", f"{base}/orders.fifo"]
        jobs = f"{base}/jobs"
        assert sqs.get_queue_attributes(QueueUrl=jobs, AttributeNames=["VisibilityTimeout"])[
            "Attributes"
        ] == {"VisibilityTimeout": "60"}
        # The message received before the restart is still in flight, and its receipt
        # handle still deletes it.
        [other] = _bodies(sqs, jobs)
        assert {other, held["Body"]} == {"direct", "in flight"}
        sqs.delete_message(QueueUrl=jobs, ReceiptHandle=held["ReceiptHandle"])
        clock.advance(60)
        assert _bodies(sqs, jobs) == [other]
        assert _bodies(sqs, f"{base}/orders.fifo") == ["first", "second", "third"]
        eu = _client(server.endpoint_url, region="eu-west-1")
        assert _bodies(eu, f"{base}/far") == ["eu"]


def test_a_new_server_on_the_directory_serves_the_topics_the_last_one_left(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        sns = _client(server.endpoint_url, "sns")
        jobs = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        topic = sns.create_topic(Name="news")["TopicArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint="arn:aws:sqs:us-east-1:000000000000:jobs",
            Attributes={"RawMessageDelivery": "true", "FilterPolicy": '{"kind": ["job"]}'},
        )
        job = {"kind": {"DataType": "String", "StringValue": "job"}}
        sns.publish(TopicArn=topic, Message="published", MessageAttributes=job)

    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        sns = _client(server.endpoint_url, "sns")
        [topic] = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
        assert topic == "arn:aws:sns:us-east-1:000000000000:news"
        [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert subscription["Endpoint"] == "arn:aws:sqs:us-east-1:000000000000:jobs"
        # The restored subscription still delivers, raw, and still filters.
        sns.publish(TopicArn=topic, Message="again", MessageAttributes=job)
        sns.publish(TopicArn=topic, Message="filtered out")
        assert sorted(_bodies(sqs, jobs)) == ["again", "published"]


def test_a_subscription_keeps_its_arn_across_a_restart(tmp_path: Path) -> None:
    with Server(port=0, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        sns = _client(server.endpoint_url, "sns")
        sqs.create_queue(QueueName="jobs")
        topic = sns.create_topic(Name="news")["TopicArn"]
        arn = sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint="arn:aws:sqs:us-east-1:000000000000:jobs",
            Attributes={"RawMessageDelivery": "true"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
    with Server(port=0, path=tmp_path) as server:
        sns = _client(server.endpoint_url, "sns")
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert attributes["RawMessageDelivery"] == "true"
        sns.unsubscribe(SubscriptionArn=arn)
        assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_stop_closes_the_files_and_start_opens_them_again(tmp_path: Path) -> None:
    clock = ManualClock()
    server = Server(port=0, clock=clock, path=tmp_path).start()
    sqs = _client(server.endpoint_url)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    held = server.broker()
    server.stop()
    assert held.closed
    # Closed, the directory is free for another server.
    with Server(port=0, clock=clock, path=tmp_path) as other:
        assert other.broker().get_queue("jobs").stats().visible == 1
    server.start()
    try:
        assert server.broker() is not held
        assert server.broker().get_queue("jobs").stats().visible == 1
    finally:
        server.stop()


def test_stop_during_a_long_poll_closes_the_files_without_waiting(tmp_path: Path) -> None:
    clock = ManualClock()
    server = Server(port=0, clock=clock, path=tmp_path).start()
    try:
        sqs = _client(server.endpoint_url)
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        outcome: list[object] = []

        def poll() -> None:
            try:
                outcome.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20))
            except Exception as error:  # the stopped server drops the connection
                outcome.append(error)

        poller = threading.Thread(target=poll)
        poller.start()
        for _ in range(5_000):  # until the receive waits on the clock
            if clock.pending_deadlines():
                break
            threading.Event().wait(0.001)
        assert clock.pending_deadlines()
        held = server.broker()
    finally:
        server.stop()
    # The waiting receive was woken by the close, not by the clock: nothing advanced it.
    poller.join(10)
    assert not poller.is_alive()
    assert held.closed
    assert len(outcome) == 1
    # The directory is free again at once.
    with Server(port=0, clock=clock, path=tmp_path) as again:
        assert again.broker().get_queue("jobs").stats().visible == 0


def test_serve_refuses_a_data_path_it_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state"
    path.write_text("mine")
    assert serve(["--port", "0", "--data", str(path)]) == 1
    assert "is not a directory" in capsys.readouterr().err
    assert path.read_text() == "mine"


def test_a_second_server_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    with Server(port=0, path=tmp_path) as server:
        server.broker().create_queue("jobs")
        with pytest.raises(StorageError, match="in use by another mqlite server") as error:
            Server(port=0, path=tmp_path)
        assert error.value.code == "InvalidStorage"
        # The first one is untouched.
        assert server.broker().get_queue("jobs").name == "jobs"


def test_a_region_file_open_elsewhere_is_refused(tmp_path: Path) -> None:
    # The region files lock themselves too: a plain Broker holding one keeps a server off.
    with Broker(path=tmp_path / "us-east-1.mqlite") as broker:
        broker.create_queue("jobs")
        with pytest.raises(StorageError, match="already open"):
            Server(port=0, path=tmp_path)
    # Refused without taking the directory: once the file is free, a server opens it.
    with Server(port=0, path=tmp_path) as server:
        assert server.broker().get_queue("jobs").name == "jobs"


def test_a_path_that_is_a_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_bytes(b"not a directory")
    with pytest.raises(StorageError, match="is not a directory") as error:
        Server(port=0, path=path)
    assert error.value.code == "InvalidStorage"
    assert path.read_bytes() == b"not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_a_bad_durability_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    with pytest.raises(MqliteError, match="durability must be 'crash' or 'power'") as error:
        Server(port=0, path=tmp_path / "state", durability="disk")
    assert error.value.code == "InvalidParameterValue"
    assert list(tmp_path.iterdir()) == []


def test_only_region_names_become_files(tmp_path: Path) -> None:
    regions = Regions(path=tmp_path)
    try:
        with pytest.raises(MqliteError, match="not a valid region name") as error:
            regions.broker("x" * 65)
        assert error.value.code == "InvalidParameterValue"
        assert regions.broker("ap-south-2").region == "ap-south-2"
    finally:
        regions.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ap-south-2.mqlite", "server.lock"]
    # Closed, a region is no longer made.
    with pytest.raises(Closed, match="closed"):
        regions.broker("eu-west-1")


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_a_bad_region_over_the_wire_is_a_client_error(tmp_path: Path, protocol: str) -> None:
    region = "x" * 70
    headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=any/20260101/{region}/sqs/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    if protocol == "json":
        headers["X-Amz-Target"] = "AmazonSQS.ListQueues"
        headers["Content-Type"] = "application/x-amz-json-1.0"
        body = b"{}"
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = b"Action=ListQueues&Version=2012-11-05"
    with Server(port=0, path=tmp_path) as server:
        conn = http.client.HTTPConnection(server.endpoint_url.removeprefix("http://"))
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read().decode()
        conn.close()
    assert response.status == 400
    assert "InvalidParameterValue" in answer
    assert "not a valid region name" in answer
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server.lock"]


def _serve(data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mqlite", "serve", "--port", "0", "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    # The line after the endpoint's says where the data is.
    assert proc.stdout.readline() == f"  data: {data} (durability=crash)\n"
    return proc, first.split(" on ")[1].split(" ")[0]


def _terminate(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    return out


def test_serve_data_keeps_messages_across_two_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, endpoint = _serve(data)
    try:
        sqs = _client(endpoint)
        url = sqs.create_queue(QueueName="cli")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
        _terminate(proc)
        proc, endpoint = _serve(data)
        sqs = _client(endpoint)
        url = sqs.get_queue_url(QueueName="cli")["QueueUrl"]
        assert _bodies(sqs, url) == ['{"n": 1}']
        assert _terminate(proc).endswith("mqlite: stopped\n")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- what the AWS layer keeps beside the core: stored in the region's file ---------------------


def _queue_view(sqs: Any, url: str) -> tuple[dict[str, str], dict[str, str]]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return attributes, sqs.list_queue_tags(QueueUrl=url).get("Tags", {})


def test_queue_tags_policies_and_timestamps_survive_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(1_000)
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        allow = json.dumps({"redrivePermission": "denyAll"})
        url = sqs.create_queue(
            QueueName="jobs",
            Attributes={"KmsMasterKeyId": "alias/jobs", "RedriveAllowPolicy": allow},
            tags={"team": "a", "gone": "x"},
        )["QueueUrl"]
        plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
        clock.advance(50)
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsDataKeyReusePeriodSeconds": "600"})
        sqs.add_permission(QueueUrl=url, Label="l1", AWSAccountIds=["111"], Actions=["Send*"])
        sqs.tag_queue(QueueUrl=url, Tags={"env": "prod"})
        sqs.untag_queue(QueueUrl=url, TagKeys=["gone"])
        sqs.set_queue_attributes(QueueUrl=plain, Attributes={"SqsManagedSseEnabled": "false"})
        before = _queue_view(sqs, url)
        plain_before = _queue_view(sqs, plain)
        doomed = sqs.create_queue(QueueName="doomed", tags={"old": "1"})["QueueUrl"]
        sqs.delete_queue(QueueUrl=doomed)
    assert before[0]["CreatedTimestamp"] == "1000"
    assert before[0]["LastModifiedTimestamp"] == "1050"
    assert before[1] == {"team": "a", "env": "prod"}
    assert json.loads(before[0]["Policy"])["Statement"][0]["Sid"] == "l1"
    clock.advance(100)
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        assert _queue_view(sqs, url) == before
        assert _queue_view(sqs, plain) == plain_before
        sqs.remove_permission(QueueUrl=url, Label="l1")
        # The queue deleted before the restart took its tags with it.
        doomed = sqs.create_queue(QueueName="doomed")["QueueUrl"]
        assert _queue_view(sqs, doomed)[1] == {}
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        assert "Policy" not in _queue_view(sqs, url)[0]


def _topic_view(sns: Any, topic: str) -> dict[str, Any]:
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return {
        "attributes": sns.get_topic_attributes(TopicArn=topic)["Attributes"],
        "tags": sns.list_tags_for_resource(ResourceArn=topic)["Tags"],
        "subscriptions": subscriptions,
        "each": [
            sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"]
            for s in subscriptions
            if s["SubscriptionArn"].startswith("arn:")
        ],
    }


def test_topic_attributes_tags_and_endpoint_subscriptions_survive_a_restart(
    tmp_path: Path,
) -> None:
    with Server(port=0, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        sns = _client(server.endpoint_url, "sns")
        sqs.create_queue(QueueName="jobs")
        sqs.create_queue(QueueName="dead")
        topic = sns.create_topic(
            Name="news", Attributes={"DisplayName": "News"}, Tags=[{"Key": "k", "Value": "v"}]
        )["TopicArn"]
        sns.set_topic_attributes(
            TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue='{"http": {}}'
        )
        sns.add_permission(TopicArn=topic, Label="p", AWSAccountId=["111"], ActionName=["Publish"])
        queue_sub = sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint="arn:aws:sqs:us-east-1:000000000000:jobs",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dead"}
                ),
            },
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        sns.set_subscription_attributes(
            SubscriptionArn=queue_sub,
            AttributeName="DeliveryPolicy",
            AttributeValue='{"healthyRetryPolicy": {"numRetries": 3}}',
        )
        mail = sns.subscribe(
            TopicArn=topic,
            Protocol="email",
            Endpoint="someone@example.com",
            Attributes={"FilterPolicy": '{"kind": ["mail"]}'},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        token = confirmation_token(server.regions, mail)
        gone = sns.subscribe(
            TopicArn=topic, Protocol="sms", Endpoint="+15555550100", ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        sns.unsubscribe(SubscriptionArn=gone)
        lambda_sub = sns.subscribe(
            TopicArn=topic,
            Protocol="lambda",
            Endpoint="arn:aws:lambda:us-east-1:000000000000:function:f",
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        sns.set_subscription_attributes(
            SubscriptionArn=lambda_sub,
            AttributeName="FilterPolicy",
            AttributeValue='{"size": [{"numeric": [">", 3]}]}',
        )
        ordered = sns.create_topic(Name="o.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
        sns.set_topic_attributes(
            TopicArn=ordered, AttributeName="ContentBasedDeduplication", AttributeValue="true"
        )
        sns.tag_resource(ResourceArn=ordered, Tags=[{"Key": "a", "Value": "1"}])
        sns.untag_resource(ResourceArn=ordered, TagKeys=["a"])
        before = _topic_view(sns, topic)
        ordered_before = _topic_view(sns, ordered)
        doomed = sns.create_topic(Name="doomed", Tags=[{"Key": "old", "Value": "1"}])["TopicArn"]
        sns.delete_topic(TopicArn=doomed)
    assert [s["Protocol"] for s in before["subscriptions"]] == ["sqs", "email", "lambda"]
    assert before["attributes"]["SubscriptionsPending"] == "1"
    assert ordered_before["attributes"]["ContentBasedDeduplication"] == "true"
    assert token is not None
    with Server(port=0, path=tmp_path) as server:
        sns = _client(server.endpoint_url, "sns")
        assert _topic_view(sns, topic) == before
        assert _topic_view(sns, ordered) == ordered_before
        assert confirmation_token(server.regions, mail) == token
        sns.confirm_subscription(TopicArn=topic, Token=token)
        assert (
            sns.list_tags_for_resource(ResourceArn=sns.create_topic(Name="doomed")["TopicArn"])[
                "Tags"
            ]
            == []
        )
    with Server(port=0, path=tmp_path) as server:
        sns = _client(server.endpoint_url, "sns")
        attributes = sns.get_subscription_attributes(SubscriptionArn=mail)["Attributes"]
        assert attributes["PendingConfirmation"] == "false"
        sns.unsubscribe(SubscriptionArn=mail)
    with Server(port=0, path=tmp_path) as server:
        sns = _client(server.endpoint_url, "sns")
        protocols = [
            s["Protocol"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        ]
        assert protocols == ["sqs", "lambda"]


def test_a_confirmed_http_subscription_delivers_after_a_restart(tmp_path: Path) -> None:
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            posts.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    web = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=web.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{web.server_address[1]}/hook"
    try:
        with Server(port=0, path=tmp_path) as server:
            sns = _client(server.endpoint_url, "sns")
            topic = sns.create_topic(Name="hooks")["TopicArn"]
            arn = sns.subscribe(
                TopicArn=topic,
                Protocol="http",
                Endpoint=url,
                Attributes={"FilterPolicy": '{"kind": ["order"]}'},
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            token = confirmation_token(server.regions, arn)
            sns.confirm_subscription(TopicArn=topic, Token=token)
            assert server.regions.http_sender.flush(10)
        assert [p["Type"] for p in posts] == ["SubscriptionConfirmation"]
        with Server(port=0, path=tmp_path) as server:
            sns = _client(server.endpoint_url, "sns")
            order = {"kind": {"DataType": "String", "StringValue": "order"}}
            sns.publish(TopicArn=topic, Message="skipped")
            sns.publish(TopicArn=topic, Message="sent", MessageAttributes=order)
            assert server.regions.http_sender.flush(10)
            [row] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
            assert row["SubscriptionArn"] == arn
    finally:
        web.shutdown()
        web.server_close()
        thread.join(5)
    assert [(p["Type"], p.get("Message")) for p in posts[1:]] == [("Notification", "sent")]
    assert posts[1]["UnsubscribeURL"].endswith(arn)


def test_a_fifo_topic_deduplicates_a_publish_repeated_after_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(1_000)
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        sns = _client(server.endpoint_url, "sns")
        url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        topic = sns.create_topic(Name="t.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint="arn:aws:sqs:us-east-1:000000000000:q.fifo",
            Attributes={"RawMessageDelivery": "true"},
        )
        first = sns.publish(
            TopicArn=topic, Message="one", MessageGroupId="g", MessageDeduplicationId="d"
        )
    clock.advance(120)
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        sns = _client(server.endpoint_url, "sns")
        again = sns.publish(
            TopicArn=topic, Message="one", MessageGroupId="g", MessageDeduplicationId="d"
        )
        assert (again["MessageId"], again["SequenceNumber"]) == (
            first["MessageId"],
            first["SequenceNumber"],
        )
        later = sns.publish(
            TopicArn=topic, Message="two", MessageGroupId="g", MessageDeduplicationId="e"
        )
        assert int(later["SequenceNumber"]) == int(first["SequenceNumber"]) + 1
        assert _bodies(sqs, url) == ["one", "two"]


def test_a_message_move_task_resumes_after_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(1_000)
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        sqs.create_queue(QueueName="dead")
        dead_arn = "arn:aws:sqs:us-east-1:000000000000:dead"
        jobs = sqs.create_queue(
            QueueName="jobs",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dead_arn, "maxReceiveCount": 1}
                ),
                "VisibilityTimeout": "0",
            },
        )["QueueUrl"]
        for i in range(4):
            sqs.send_message(QueueUrl=jobs, MessageBody=f"m{i}")
        sqs.receive_message(QueueUrl=jobs, MaxNumberOfMessages=10)
        assert sqs.receive_message(QueueUrl=jobs).get("Messages", []) == []
        handle = sqs.start_message_move_task(SourceArn=dead_arn, MaxNumberOfMessagesPerSecond=1)[
            "TaskHandle"
        ]
        broker = server.regions.broker("us-east-1")
        [task] = broker.get_queue("dead").redrive_tasks(1)
        clock.advance(1)
        assert task.wait_until_idle()
        before = sqs.list_message_move_tasks(SourceArn=dead_arn)["Results"]
    assert before[0]["ApproximateNumberOfMessagesMoved"] == 1
    clock.advance(1)  # one more move falls due while the server is down
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        [task] = server.regions.broker("us-east-1").get_queue("dead").redrive_tasks(1)
        assert task.wait_until_idle()
        [after] = sqs.list_message_move_tasks(SourceArn=dead_arn)["Results"]
        assert after == {**before[0], "ApproximateNumberOfMessagesMoved": 2}
        assert after["TaskHandle"] == handle
        assert after["MaxNumberOfMessagesPerSecond"] == 1
        clock.advance(5)
        assert task.wait_until_idle()
        [done] = sqs.list_message_move_tasks(SourceArn=dead_arn)["Results"]
        assert (done["Status"], done["ApproximateNumberOfMessagesMoved"]) == ("COMPLETED", 4)
        assert sorted(_bodies(sqs, jobs)) == ["m0", "m1", "m2", "m3"]


def test_tags_and_endpoint_subscriptions_survive_a_killed_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, endpoint = _serve(data)
    try:
        sqs = _client(endpoint)
        sns = _client(endpoint, "sns")
        url = sqs.create_queue(QueueName="cli", tags={"team": "a"})["QueueUrl"]
        topic = sns.create_topic(Name="news")["TopicArn"]
        mail = sns.subscribe(
            TopicArn=topic,
            Protocol="email",
            Endpoint="someone@example.com",
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        proc.kill()  # no clean close: only what was committed is there
        proc.communicate(timeout=10)
        proc, endpoint = _serve(data)
        sqs = _client(endpoint)
        sns = _client(endpoint, "sns")
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
        [row] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert (row["Protocol"], row["Endpoint"]) == ("email", "someone@example.com")
        attributes = sns.get_subscription_attributes(SubscriptionArn=mail)["Attributes"]
        assert attributes["PendingConfirmation"] == "true"
        _terminate(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
