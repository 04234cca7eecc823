"""SNS through real boto3 clients under ``mock_aws``: boto3's SNS client speaks the query
protocol, so every call here goes through the form decoder and the XML writer."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from mqlite import ManualClock
from mqlite.aws import MockAws, mock_aws
from mqlite.message import Attribute, md5_of_attributes


@pytest.fixture
def aws() -> Iterator[MockAws]:
    with mock_aws(clock=ManualClock()) as active:
        yield active


@pytest.fixture
def sns(aws: MockAws) -> Any:
    return boto3.client("sns", region_name="us-east-1")


@pytest.fixture
def sqs(aws: MockAws) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def _queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _bodies(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages]


def _error(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_topic_lifecycle_attributes_and_tags(aws: MockAws, sns: Any) -> None:
    arn = sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders & co"})["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:000000000000:orders"
    assert aws.broker().get_topic("orders").arn == arn
    # Idempotent with the same attributes.
    assert (
        sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders & co"})["TopicArn"]
        == arn
    )
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "Orders & co"
    assert attributes["TopicArn"] == arn
    assert attributes["SubscriptionsConfirmed"] == "0"
    json.loads(attributes["Policy"])
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="New")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "New"

    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "<a>"}])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "<a>"}]
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == []

    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # idempotent
    with pytest.raises(ClientError) as error:
        sns.get_topic_attributes(TopicArn=arn)
    assert _error(error) == ("NotFound", 404)
    assert isinstance(error.value, sns.exceptions.NotFoundException)


def test_list_topics_pages_through_a_paginator(sns: Any) -> None:
    made = {sns.create_topic(Name=f"t{i:03}")["TopicArn"] for i in range(130)}
    first = sns.list_topics()
    assert len(first["Topics"]) == 100
    assert "NextToken" in first
    pages = list(sns.get_paginator("list_topics").paginate())
    assert len(pages) == 2
    assert {t["TopicArn"] for p in pages for t in p["Topics"]} == made


def test_fan_out_to_queues_envelope_and_raw(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name="events")["TopicArn"]
    env_url, env_arn = _queue(sqs, "envelope")
    raw_url, raw_arn = _queue(sqs, "raw")
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=env_arn)["SubscriptionArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=raw_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    published = sns.publish(
        TopicArn=topic,
        Message="hello <world> & more",
        Subject="greeting",
        MessageAttributes={
            "colour": {"DataType": "String", "StringValue": "blue"},
            "size": {"DataType": "Number", "StringValue": "3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    [envelope_body] = _bodies(sqs, env_url)
    envelope = json.loads(envelope_body)
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == published["MessageId"]
    assert envelope["TopicArn"] == topic
    assert envelope["Subject"] == "greeting"
    assert envelope["Message"] == "hello <world> & more"
    assert envelope["MessageAttributes"]["colour"] == {"Type": "String", "Value": "blue"}
    assert envelope["MessageAttributes"]["blob"] == {
        "Type": "Binary",
        "Value": base64.b64encode(b"\x00\x01").decode(),
    }
    assert sub in envelope["UnsubscribeURL"]

    [raw] = sqs.receive_message(QueueUrl=raw_url, MessageAttributeNames=["All"])["Messages"]
    assert raw["Body"] == "hello <world> & more"
    assert raw["MessageAttributes"]["colour"] == {"StringValue": "blue", "DataType": "String"}
    assert raw["MD5OfMessageAttributes"] == md5_of_attributes(
        {
            "colour": Attribute("String", "blue"),
            "size": Attribute("Number", "3"),
            "blob": Attribute("Binary", b"\x00\x01"),
        }
    )


def test_filter_policies_on_attributes_and_on_the_body(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name="orders")["TopicArn"]
    attr_url, attr_arn = _queue(sqs, "by-attribute")
    body_url, body_arn = _queue(sqs, "by-body")
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=attr_arn,
        Attributes={"FilterPolicy": json.dumps({"size": [{"numeric": [">", 10]}]})},
    )
    sub = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=body_arn,
        Attributes={
            "FilterPolicy": json.dumps({"order": {"country": ["NZ"]}}),
            "FilterPolicyScope": "MessageBody",
            "RawMessageDelivery": "true",
        },
    )["SubscriptionArn"]
    for size, country in ((5, "NZ"), (50, "AU")):
        sns.publish(
            TopicArn=topic,
            Message=json.dumps({"order": {"country": country, "size": size}}),
            MessageAttributes={"size": {"DataType": "Number", "StringValue": str(size)}},
        )
    assert [
        json.loads(json.loads(b)["Message"])["order"]["size"] for b in _bodies(sqs, attr_url)
    ] == [50]
    assert [json.loads(b)["order"]["country"] for b in _bodies(sqs, body_url)] == ["NZ"]

    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attributes["FilterPolicyScope"] == "MessageBody"
    assert json.loads(attributes["FilterPolicy"]) == {"order": {"country": ["NZ"]}}
    with pytest.raises(ClientError) as error:
        sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue='{"a": "b"}'
        )
    assert _error(error)[0] == "InvalidParameter"


def test_fifo_topic_to_fifo_queue_keeps_order_and_deduplicates(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(
        Name="orders.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    url, arn = _queue(sqs, "orders.fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    numbers = []
    for i in range(5):
        numbers.append(
            sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="g")["SequenceNumber"]
        )
    again = sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g")
    assert again["SequenceNumber"] == numbers[0]
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    got = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for m in messages:
            got.append(json.loads(m["Body"])["Message"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert got == [f"m{i}" for i in range(5)]


def test_publish_batch_reports_each_entry(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name="batch")["TopicArn"]
    url, arn = _queue(sqs, "batch")
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    result = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[{"Id": "a", "Message": "one"}, {"Id": "b", "Message": "two"}],
    )
    assert sorted(s["Id"] for s in result["Successful"]) == ["a", "b"]
    assert sorted(_bodies(sqs, url)) == ["one", "two"]
    with pytest.raises(ClientError) as error:
        sns.publish_batch(
            TopicArn=topic,
            PublishBatchRequestEntries=[{"Id": "a", "Message": "x"}, {"Id": "a", "Message": "y"}],
        )
    assert _error(error) == ("BatchEntryIdsNotDistinct", 400)


def test_message_structure_json_sends_the_sqs_variant(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name="structured")["TopicArn"]
    url, arn = _queue(sqs, "q")
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    sns.publish(
        TopicArn=topic,
        MessageStructure="json",
        Message=json.dumps({"default": "plain", "sqs": "for queues"}),
    )
    assert _bodies(sqs, url) == ["for queues"]
    with pytest.raises(ClientError) as error:
        sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"sqs": "x"}))
    assert _error(error) == ("InvalidParameter", 400)


def test_subscriptions_list_unsubscribe_and_errors(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name="t")["TopicArn"]
    arns = []
    for i in range(3):
        _, queue_arn = _queue(sqs, f"q{i}")
        arns.append(
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
        )
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted(s["SubscriptionArn"] for s in listed) == sorted(arns)
    assert {s["Protocol"] for s in sns.list_subscriptions()["Subscriptions"]} == {"sqs"}
    sns.unsubscribe(SubscriptionArn=arns[0])
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted(s["SubscriptionArn"] for s in listed) == sorted(arns[1:])

    with pytest.raises(ClientError) as error:
        sns.publish(TopicArn=topic + "-missing", Message="x")
    assert _error(error) == ("NotFound", 404)
    with pytest.raises(ClientError) as error:
        sns.publish(TopicArn=topic, Message="")
    assert _error(error) == ("InvalidParameter", 400)
    with pytest.raises(ClientError) as error:
        sns.subscribe(TopicArn=topic, Protocol="carrier-pigeon", Endpoint="x")
    assert _error(error) == ("InvalidParameter", 400)


def test_actions_mqlite_does_not_serve_are_invalid_action(sns: Any) -> None:
    with pytest.raises(ClientError) as error:
        sns.create_platform_application(Name="x", Platform="GCM", Attributes={})
    assert _error(error) == ("InvalidAction", 400)


def test_other_regions_are_separate(sns: Any) -> None:
    west = boto3.client("sns", region_name="eu-west-1")
    arn = west.create_topic(Name="t")["TopicArn"]
    assert arn.startswith("arn:aws:sns:eu-west-1:")
    assert sns.list_topics()["Topics"] == []
