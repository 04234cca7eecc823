"""SNS http(s) subscriptions: the confirmation request, then a POST per message, to a real
HTTP endpoint started by each test."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from mqlite.aws import MockAws, Server, mock_aws


class Endpoint:
    """A subscriber's web server: records every POST, answers with ``status``."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        # A short poll interval: shutdown() waits up to one (0.5 s by default).
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.posts]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    running = Endpoint()
    yield running
    running.close()


@pytest.fixture
def aws() -> Iterator[MockAws]:
    with mock_aws() as active:
        yield active


def _flush(aws: MockAws) -> None:
    assert aws.regions.http_sender.flush(10)


def test_confirm_then_deliver_filter_raw_and_unsubscribe(aws: MockAws, endpoint: Endpoint) -> None:
    sns: Any = boto3.client("sns", region_name="eu-west-1")
    topic = sns.create_topic(Name="hooks")["TopicArn"]
    answer = sns.subscribe(
        TopicArn=topic,
        Protocol="http",
        Endpoint=endpoint.url,
        Attributes={"FilterPolicy": json.dumps({"kind": ["order"]})},
    )
    assert answer["SubscriptionArn"] == "pending confirmation"
    _flush(aws)
    [(headers, _)] = endpoint.posts
    [confirmation] = endpoint.documents()
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == topic
    assert confirmation["Type"] == "SubscriptionConfirmation"
    assert confirmation["TopicArn"] == topic
    assert confirmation["SubscribeURL"].startswith(
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    )
    assert confirmation["Token"] in confirmation["SubscribeURL"]

    # Nothing is delivered while the subscription waits for its confirmation.
    order = {"kind": {"DataType": "String", "StringValue": "order"}}
    sns.publish(TopicArn=topic, Message="too early", MessageAttributes=order)
    _flush(aws)
    assert len(endpoint.posts) == 1
    [pending] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert pending["SubscriptionArn"] == "PendingConfirmation"

    arn = sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"]
    [listed] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed["SubscriptionArn"] == arn
    assert listed["Endpoint"] == endpoint.url
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "1"

    published = sns.publish(TopicArn=topic, Message="first", Subject="s", MessageAttributes=order)
    other = {"kind": {"DataType": "String", "StringValue": "refund"}}
    sns.publish(TopicArn=topic, Message="filtered out", MessageAttributes=other)
    _flush(aws)
    assert len(endpoint.posts) == 2
    headers, _ = endpoint.posts[1]
    notification = endpoint.documents()[1]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == arn
    assert headers["x-amz-sns-message-id"] == published["MessageId"]
    assert notification["Type"] == "Notification"
    assert notification["MessageId"] == published["MessageId"]
    assert notification["Message"] == "first"
    assert notification["Subject"] == "s"
    assert notification["MessageAttributes"] == {"kind": {"Type": "String", "Value": "order"}}
    assert arn in notification["UnsubscribeURL"]

    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue="true"
    )
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue='{"kind": ["refund"]}'
    )
    sns.publish(TopicArn=topic, Message="order now filtered", MessageAttributes=order)
    sns.publish(TopicArn=topic, Message="raw refund", MessageAttributes=other)
    _flush(aws)
    assert len(endpoint.posts) == 3
    headers, body = endpoint.posts[2]
    assert body == b"raw refund"
    assert headers["x-amz-sns-rawdelivery"] == "true"

    sns.unsubscribe(SubscriptionArn=arn)
    sns.publish(TopicArn=topic, Message="after", MessageAttributes=other)
    _flush(aws)
    assert len(endpoint.posts) == 3
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_a_failing_endpoint_is_tried_three_times_then_logged(
    aws: MockAws, endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    sns: Any = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    _flush(aws)
    token = endpoint.documents()[0]["Token"]
    sns.confirm_subscription(TopicArn=topic, Token=token)
    endpoint.status = 500
    with caplog.at_level(logging.WARNING, logger="mqlite.aws.sns"):
        message_id = sns.publish(TopicArn=topic, Message="x")["MessageId"]
        _flush(aws)
    assert len(endpoint.posts) == 1 + 3
    [record] = [r for r in caplog.records if r.name == "mqlite.aws.sns"]
    assert "gave up after 3 attempts" in record.getMessage()
    assert message_id in record.getMessage()


def test_subscribe_url_confirms_through_the_server(endpoint: Endpoint) -> None:
    with Server(port=0) as server:
        sns: Any = boto3.client(
            "sns",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="any",
            aws_secret_access_key="any",
        )
        topic = sns.create_topic(Name="t")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
        assert server.regions.http_sender.flush(10)
        url = endpoint.documents()[0]["SubscribeURL"]
        assert url.startswith(f"{server.endpoint_url}/?Action=ConfirmSubscription")
        # What a subscriber does with the confirmation: visit the URL.
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert b"<SubscriptionArn>arn:aws:sns:us-east-1:" in response.read()
        sns.publish(TopicArn=topic, Message="hello")
        assert server.regions.http_sender.flush(10)
        assert endpoint.documents()[1]["Message"] == "hello"


def test_message_structure_json_gives_an_http_endpoint_its_own_text(
    aws: MockAws, endpoint: Endpoint
) -> None:
    sns: Any = boto3.client("sns", region_name="us-east-1")
    sqs: Any = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="per-protocol")["TopicArn"]
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    _flush(aws)
    [confirmation] = endpoint.documents()
    sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])

    texts = {"default": "for everyone", "http": "for http", "sqs": "for sqs"}
    sns.publish(TopicArn=topic, Message=json.dumps(texts), MessageStructure="json")
    _flush(aws)
    assert endpoint.documents()[1]["Message"] == "for http"
    [received] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(received["Body"])["Message"] == "for sqs"

    # Without an "http" key of its own, the endpoint gets the "default" text.
    del texts["http"]
    sns.publish(TopicArn=topic, Message=json.dumps(texts), MessageStructure="json")
    _flush(aws)
    assert endpoint.documents()[2]["Message"] == "for everyone"
