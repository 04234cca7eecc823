"""SQS through boto3 under ``mock_aws``: every operation, AWS's error codes, exact MD5s."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mqlite import ManualClock
from mqlite.aws import MockAws, mock_aws
from mqlite.message import md5_of_attributes

REGION = "us-east-1"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def aws(clock: ManualClock) -> Iterator[MockAws]:
    with mock_aws(clock=clock) as mock:
        yield mock


@pytest.fixture
def sqs(aws: MockAws) -> Any:
    return boto3.client("sqs", region_name=REGION)


def _until_waiting(clock: ManualClock, count: int = 1) -> None:
    """Block (in real time, bounded) until *count* waits are registered on *clock*."""
    for _ in range(5_000):
        if len(clock.pending_deadlines()) >= count:
            return
        threading.Event().wait(0.001)
    raise AssertionError("nothing started waiting on the clock")


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _status(error: pytest.ExceptionInfo[ClientError]) -> int:
    return int(error.value.response["ResponseMetadata"]["HTTPStatusCode"])


# --- queues ---------------------------------------------------------------------------------------


def test_create_queue_returns_aws_url_and_the_broker_sees_it(aws: MockAws, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    assert url == "https://sqs.us-east-1.amazonaws.com/000000000000/jobs"
    assert aws.broker().get_queue("jobs").url == url


def test_create_queue_is_idempotent_and_refuses_different_attributes(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    assert sqs.create_queue(QueueName="q")["QueueUrl"] == url
    assert (
        sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "60"})["QueueUrl"] == url
    )
    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "61"})
    assert _code(error) == "QueueAlreadyExists"
    assert isinstance(error.value, sqs.exceptions.QueueNameExists)


@pytest.mark.parametrize(
    ("attributes", "code"),
    [
        ({"VisibilityTimeout": "43201"}, "InvalidAttributeValue"),
        ({"VisibilityTimeout": "1.5"}, "InvalidAttributeValue"),
        ({"DelaySeconds": "abc"}, "InvalidAttributeValue"),
        ({"Nope": "1"}, "InvalidAttributeName"),
        ({"FifoQueue": "false"}, "InvalidAttributeName"),
        ({"ContentBasedDeduplication": "true"}, "InvalidAttributeName"),
        ({"DeduplicationScope": "queue"}, "InvalidAttributeName"),
    ],
)
def test_create_queue_bad_attributes(sqs: Any, attributes: dict[str, str], code: str) -> None:
    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName="q", Attributes=attributes)
    assert _code(error) == code
    assert "QueueUrls" not in sqs.list_queues()


def test_bad_queue_name_is_invalid_parameter_value(sqs: Any) -> None:
    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName="bad name")
    assert _code(error) == "InvalidParameterValue"
    error_fields: dict[str, Any] = dict(error.value.response["Error"])
    assert error_fields["QueryErrorCode"] == "InvalidParameterValueException"


def test_fifo_queue_attributes_and_send(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName="orders.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "True"},
    )["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"
    assert attrs["DeduplicationScope"] == "queue"
    assert attrs["FifoThroughputLimit"] == "perQueue"
    first = sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g")
    again = sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g")
    assert again["MessageId"] == first["MessageId"]
    assert len(first["SequenceNumber"]) == 20
    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=url, MessageBody="a")
    assert _code(error) == "MissingParameter"
    [m] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    assert m["Attributes"]["MessageGroupId"] == "g"
    assert m["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"a").hexdigest()
    assert m["Attributes"]["SequenceNumber"] == first["SequenceNumber"]


def test_get_queue_attributes_all_for_a_standard_queue(sqs: Any, clock: ManualClock) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert set(attrs) == {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
        "CreatedTimestamp",
        "DelaySeconds",
        "LastModifiedTimestamp",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "QueueArn",
        "ReceiveMessageWaitTimeSeconds",
        "SqsManagedSseEnabled",
        "VisibilityTimeout",
    }
    assert attrs["CreatedTimestamp"] == str(int(clock.time()))
    assert attrs["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:q"
    assert attrs["MaximumMessageSize"] == "1048576"
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    with pytest.raises(ClientError) as error:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Bogus"])
    assert _code(error) == "InvalidAttributeName"


def test_set_queue_attributes_applies_and_counts_as_modified(sqs: Any, clock: ManualClock) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    clock.advance(100)
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"VisibilityTimeout": "5", "Policy": '{"Version":"2012-10-17"}'}
    )
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "5"
    assert attrs["Policy"] == '{"Version":"2012-10-17"}'
    assert int(attrs["LastModifiedTimestamp"]) == int(attrs["CreatedTimestamp"]) + 100
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"QueueArn": "x"})
    assert _code(error) == "InvalidAttributeName"
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"VisibilityTimeout": "7", "DelaySeconds": "901"}
        )
    assert _code(error) == "InvalidAttributeValue"
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert got["Attributes"] == {"VisibilityTimeout": "5"}  # the refused call changed nothing


def test_redrive_policy_moves_messages_and_lists_sources(aws: MockAws, sqs: Any) -> None:
    dlq_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    url = sqs.create_queue(
        QueueName="src", Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "0"}
    )["QueueUrl"]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    assert json.loads(got["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 1,
    }
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"] == [url]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    [m] = sqs.receive_message(QueueUrl=dlq_url, MessageSystemAttributeNames=["All"])["Messages"]
    assert m["Body"] == "poison"
    assert m["Attributes"]["DeadLetterQueueSourceArn"] == aws.broker().get_queue("src").arn
    assert m["Attributes"]["ApproximateReceiveCount"] == "2"


@pytest.mark.parametrize(
    "policy",
    [
        {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:missing", "maxReceiveCount": 3},
        {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq", "maxReceiveCount": 0},
        {"maxReceiveCount": 3},
    ],
)
def test_bad_redrive_policy(sqs: Any, policy: dict[str, Any]) -> None:
    sqs.create_queue(QueueName="dlq")
    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName="src", Attributes={"RedrivePolicy": json.dumps(policy)})
    assert _code(error) == "InvalidParameterValue"


def test_redrive_allow_policy_deny_all_refuses_sources(sqs: Any) -> None:
    dlq = sqs.create_queue(
        QueueName="dlq", Attributes={"RedriveAllowPolicy": '{"redrivePermission":"denyAll"}'}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    src = sqs.create_queue(QueueName="src")["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 2})
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": policy})
    assert _code(error) == "InvalidParameterValue"
    assert "does not have permission" in error.value.response["Error"]["Message"]


def test_get_queue_url_delete_and_recently_deleted(sqs: Any, clock: ManualClock) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    assert sqs.get_queue_url(QueueName="q")["QueueUrl"] == url
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as error:
        sqs.get_queue_url(QueueName="q")
    assert _code(error) == "AWS.SimpleQueueService.NonExistentQueue"
    assert isinstance(error.value, sqs.exceptions.QueueDoesNotExist)
    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName="q")
    assert _code(error) == "AWS.SimpleQueueService.QueueDeletedRecently"
    clock.advance(60)
    assert sqs.create_queue(QueueName="q")["QueueUrl"] == url


def test_list_queues_prefix_and_pages(sqs: Any) -> None:
    urls = [sqs.create_queue(QueueName=f"q{i:02d}")["QueueUrl"] for i in range(10)]
    sqs.create_queue(QueueName="other")
    assert sqs.list_queues(QueueNamePrefix="q")["QueueUrls"] == urls
    page = sqs.list_queues(QueueNamePrefix="q", MaxResults=4)
    assert page["QueueUrls"] == urls[:4]
    rest = sqs.list_queues(QueueNamePrefix="q", MaxResults=10, NextToken=page["NextToken"])
    assert rest["QueueUrls"] == urls[4:]
    assert "NextToken" not in rest
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="zzz")
    paginator = sqs.get_paginator("list_queues")
    seen = [u for p in paginator.paginate(PaginationConfig={"PageSize": 3}) for u in p["QueueUrls"]]
    assert seen == sorted([*urls, urls[0].replace("q00", "other")])


def test_tags(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q", tags={"a": "1"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"B": "2", "b": ""})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "1", "B": "2", "b": ""}
    sqs.untag_queue(QueueUrl=url, TagKeys=["a", "B", "b", "missing"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)
    with pytest.raises(ClientError) as error:
        sqs.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(51)})
    assert _code(error) == "InvalidParameterValue"


def test_permissions_are_stored_in_the_policy(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.add_permission(
        QueueUrl=url, Label="p1", AWSAccountIds=["111122223333"], Actions=["SendMessage"]
    )
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )
    assert policy["Statement"][0]["Sid"] == "p1"
    assert policy["Statement"][0]["Action"] == "SQS:SendMessage"
    with pytest.raises(ClientError) as error:
        sqs.add_permission(
            QueueUrl=url, Label="p1", AWSAccountIds=["111122223333"], Actions=["SendMessage"]
        )
    assert _code(error) == "InvalidParameterValue"
    sqs.remove_permission(QueueUrl=url, Label="p1")
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    with pytest.raises(ClientError) as error:
        sqs.remove_permission(QueueUrl=url, Label="p1")
    assert _code(error) == "InvalidParameterValue"


def test_purge_twice_within_a_minute_is_403(sqs: Any, clock: ManualClock) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.purge_queue(QueueUrl=url)
    with pytest.raises(ClientError) as error:
        sqs.purge_queue(QueueUrl=url)
    assert _code(error) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert _status(error) == 403
    clock.advance(60)
    sqs.purge_queue(QueueUrl=url)


def test_unknown_queue_url(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(
            QueueUrl="https://sqs.us-east-1.amazonaws.com/000000000000/nope", MessageBody="x"
        )
    sqs.create_queue(QueueName="q")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):  # another account's queue
        sqs.send_message(
            QueueUrl="https://sqs.us-east-1.amazonaws.com/111111111111/q", MessageBody="x"
        )


# --- messages -------------------------------------------------------------------------------------


def test_message_attribute_md5s_are_sqs_exact(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={
            "Help.Me": {"DataType": "String", "StringValue": "Me"},
            "Hello": {"DataType": "String", "StringValue": "There"},
            "General": {"DataType": "String", "StringValue": "Kenobi"},
        },
        MessageSystemAttributes={
            "AWSTraceHeader": {
                "DataType": "String",
                "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                "Sampled=1",
            }
        },
    )
    # Values recorded on AWS.
    assert sent["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert sent["MD5OfMessageAttributes"] == "4c360f3fdafd970e05fae2f149d997f5"
    assert sent["MD5OfMessageSystemAttributes"] == "5ae4d5d7636402d80f4eb6d213245a88"
    for names, md5 in [
        (["All"], "4c360f3fdafd970e05fae2f149d997f5"),
        (["Hello", "General"], "fca026605781cb4126a1e9044df24232"),
        (["Hello"], "a311262e065454b75da111d535b8dacd"),
        (["Hel.*"], "83fee93c1bcd8b9a5a923ffacdc636c7"),
    ]:
        [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=names, VisibilityTimeout=0)[
            "Messages"
        ]
        assert m["MD5OfMessageAttributes"] == md5
    [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["Nope"])["Messages"]
    assert "MessageAttributes" not in m
    assert "MD5OfMessageAttributes" not in m


def test_binary_attributes_round_trip(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    attributes = {"bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)
    assert sent["MD5OfMessageAttributes"] == "341180f4c7e9ec2e643c77978d60ae6e"
    [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert m["MessageAttributes"] == {"bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"MessageBody": ""}, "MissingParameter"),
        ({"MessageBody": "\x00"}, "InvalidMessageContents"),
        ({"MessageBody": "x" * 1_048_577}, "InvalidParameterValue"),
        ({"MessageBody": "x", "DelaySeconds": 901}, "InvalidParameterValue"),
        ({"MessageBody": "x", "MessageDeduplicationId": "d"}, "InvalidParameterValue"),
        (
            {
                "MessageBody": "x",
                "MessageAttributes": {"a": {"DataType": "string", "StringValue": "v"}},
            },
            "InvalidParameterValue",
        ),
        (
            {
                "MessageBody": "x",
                "MessageAttributes": {"a": {"DataType": "String", "StringValue": ""}},
            },
            "InvalidParameterValue",
        ),
    ],
)
def test_send_errors(sqs: Any, kwargs: dict[str, Any], code: str) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=url, **kwargs)
    assert _code(error) == code
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_send_batch_entries_fail_alone(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    got = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "MessageBody": "a"},
            {"Id": "bad", "MessageBody": "\x01"},
            {
                "Id": "badattr",
                "MessageBody": "b",
                "MessageAttributes": {"a": {"DataType": "Nope", "StringValue": "v"}},
            },
        ],
    )
    assert [s["Id"] for s in got["Successful"]] == ["ok"]
    failed = {f["Id"]: f for f in got["Failed"]}
    assert failed["bad"]["Code"] == "InvalidMessageContents"
    assert failed["bad"]["SenderFault"] is True
    assert failed["badattr"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as error:
        sqs.send_message_batch(QueueUrl=url, Entries=[])
    assert _code(error) == "AWS.SimpleQueueService.EmptyBatchRequest"
    with pytest.raises(ClientError) as error:
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": "x", "MessageBody": "a"}, {"Id": "x", "MessageBody": "b"}]
        )
    assert _code(error) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    with pytest.raises(ClientError) as error:
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "a"} for i in range(11)]
        )
    assert _code(error) == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


def test_receive_delete_and_visibility(sqs: Any, clock: ManualClock) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=100)
    assert [m["Body"] for m in got["Messages"]] == ["0", "1", "2"]
    first, second, third = got["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0
    )
    [again] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    assert again["Body"] == "1"
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    result = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "ReceiptHandle": again["ReceiptHandle"]},
            {"Id": "b", "ReceiptHandle": "garbage"},
        ],
    )
    assert [s["Id"] for s in result["Successful"]] == ["a"]
    assert result["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    result = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "c", "ReceiptHandle": third["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "d", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
        ],
    )
    assert [s["Id"] for s in result["Successful"]] == ["c"]
    assert [f["Id"] for f in result["Failed"]] == ["d"]
    with pytest.raises(ClientError) as error:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert _code(error) == "ReceiptHandleIsInvalid"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"MaxNumberOfMessages": 11}, "Must be between 1 and 10, if provided."),
        ({"WaitTimeSeconds": 21}, "Must be >= 0 and <= 20, if provided."),
        ({"VisibilityTimeout": 43_201}, "Must be >= 0 and <= 43200, if provided."),
    ],
)
def test_receive_parameter_ranges(sqs: Any, kwargs: dict[str, int], message: str) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    with pytest.raises(ClientError) as error:
        sqs.receive_message(QueueUrl=url, **kwargs)
    assert _code(error) == "InvalidParameterValue"
    assert error.value.response["Error"]["Message"].endswith(message)


def test_long_poll_waits_on_the_manual_clock(sqs: Any, clock: ManualClock) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    got: list[Any] = []
    poller = threading.Thread(
        target=lambda: got.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20))
    )
    poller.start()
    _until_waiting(clock)
    clock.advance(20)
    poller.join(timeout=5)
    assert not poller.is_alive()
    assert got == [{"ResponseMetadata": got[0]["ResponseMetadata"]}]  # empty after 20 s


def test_long_poll_is_woken_by_a_send(sqs: Any, clock: ManualClock) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    got: list[Any] = []
    poller = threading.Thread(
        target=lambda: got.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20))
    )
    poller.start()
    _until_waiting(clock)
    sqs.send_message(QueueUrl=url, MessageBody="wake")
    poller.join(timeout=5)
    assert not poller.is_alive()
    assert got[0]["Messages"][0]["Body"] == "wake"


def test_message_move_task(aws: MockAws, sqs: Any, clock: ManualClock) -> None:
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    src = sqs.create_queue(
        QueueName="src", Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "0"}
    )["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=src, MessageBody=str(i))
    sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10)
    assert "Messages" not in sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]
    [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["Status"] == "RUNNING"
    assert task["TaskHandle"] == handle
    assert task["MaxNumberOfMessagesPerSecond"] == 1
    assert task["ApproximateNumberOfMessagesToMove"] == 3
    clock.advance(1)
    aws.broker().get_queue("dlq").redrive_tasks()[0].wait_until_idle()
    [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["ApproximateNumberOfMessagesMoved"] == 1
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert moved == 1
    [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["Status"] == "CANCELLED"
    assert "TaskHandle" not in task
    with pytest.raises(ClientError) as error:
        sqs.list_message_move_tasks(SourceArn="arn:aws:sqs:us-east-1:000000000000:nope")
    assert _code(error) == "ResourceNotFoundException"
    assert _status(error) == 404


# --- the mock itself ------------------------------------------------------------------------------


def test_clients_made_before_the_block_and_any_region_are_answered() -> None:
    early = boto3.client("sqs", region_name="eu-west-1")
    with mock_aws() as aws:
        url = early.create_queue(QueueName="q")["QueueUrl"]
        assert url == "https://sqs.eu-west-1.amazonaws.com/000000000000/q"
        assert aws.broker("eu-west-1").get_queue("q").arn.startswith("arn:aws:sqs:eu-west-1:")
        with pytest.raises(LookupError):
            aws.broker("us-east-1").get_queue("q")


def test_each_entry_starts_empty() -> None:
    mock = mock_aws()
    with mock:
        boto3.client("sqs", region_name=REGION).create_queue(QueueName="q")
    with mock:
        assert "QueueUrls" not in boto3.client("sqs", region_name=REGION).list_queues()


def test_resources_work() -> None:
    with mock_aws():
        resource = boto3.resource("sqs", region_name=REGION)
        queue = resource.create_queue(QueueName="q")
        queue.send_message(MessageBody="hi")
        [message] = queue.receive_messages()
        assert message.body == "hi"
        message.delete()


@mock_aws
def test_bare_decorator() -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    assert sqs.create_queue(QueueName="q")["QueueUrl"].endswith("/q")


@mock_aws(clock=ManualClock())
def test_called_decorator() -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    assert "QueueUrls" not in sqs.list_queues()


def test_async_functions_are_decorated() -> None:
    @mock_aws
    async def work() -> str:
        sqs = boto3.client("sqs", region_name=REGION)
        return str(sqs.create_queue(QueueName="q")["QueueUrl"])

    assert asyncio.run(work()).endswith("/q")


@mock_aws
class TestEachMethodIsFresh:
    def test_one(self) -> None:
        boto3.client("sqs", region_name=REGION).create_queue(QueueName="only")
        assert len(boto3.client("sqs", region_name=REGION).list_queues()["QueueUrls"]) == 1

    def test_two(self) -> None:
        boto3.client("sqs", region_name=REGION).create_queue(QueueName="only")
        assert len(boto3.client("sqs", region_name=REGION).list_queues()["QueueUrls"]) == 1


def test_hooks_are_removed_on_exit() -> None:
    from botocore.endpoint import Endpoint

    before = vars(Endpoint)["_send"]
    with mock_aws():
        assert vars(Endpoint)["_send"] is not before
        with mock_aws():
            pass
        assert vars(Endpoint)["_send"] is not before  # the outer one is still active
    assert vars(Endpoint)["_send"] is before


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []  # noqa: RUF012 - one test server at a time
    # HTTP/1.1 answers botocore's "Expect: 100-continue" at once (HTTP/1.0 leaves the client
    # waiting a second for it); "Connection: close" ends the connection with the response.
    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        _Recorder.seen.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def test_other_services_are_left_alone() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    # A short poll interval: shutdown() waits up to one (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        with mock_aws():
            s3 = boto3.client(
                "s3",
                region_name=REGION,
                endpoint_url=f"http://127.0.0.1:{server.server_port}",
                config=Config(s3={"addressing_style": "path"}),
            )
            s3.put_object(Bucket="b", Key="k", Body=b"x")
        assert _Recorder.seen == ["/b/k"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_md5_helper_matches_the_wire() -> None:
    from mqlite import Attribute

    assert md5_of_attributes({"Foo": Attribute("String", "Bar")}) == (
        "ae7155c6026991b6d54b11589678bf9c"
    )


def test_import_mqlite_never_imports_botocore() -> None:
    import subprocess
    import sys

    code = "import sys, mqlite; sys.exit('botocore' in sys.modules or 'boto3' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def _fifo(sqs: Any) -> str:
    url: str = sqs.create_queue(
        QueueName="jobs.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    return url


def test_receive_attempt_id_retry_returns_the_same_messages(sqs: Any, clock: ManualClock) -> None:
    url = _fifo(sqs)
    first = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1", VisibilityTimeout=30
    )["Messages"]
    clock.advance(20)
    again = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1", VisibilityTimeout=30
    )["Messages"]
    assert [(m["Body"], m["ReceiptHandle"]) for m in again] == [
        (m["Body"], m["ReceiptHandle"]) for m in first
    ]
    # The retry started the visibility timeout afresh: 30 s from now, not from the first.
    clock.advance(20)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    clock.advance(10)
    assert [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ] == [
        "a",
        "b",
        "c",
    ]


def test_receive_attempt_id_after_a_delete_is_not_retryable(sqs: Any) -> None:
    url = _fifo(sqs)
    [m] = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="try-1")["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    with pytest.raises(ClientError) as error:
        sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="try-1")
    assert _code(error) == "InvalidParameterValue"
    assert "not retryable" in error.value.response["Error"]["Message"]
    # Another id is a new receive.
    [n] = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="try-2")["Messages"]
    assert n["Body"] == "b"


def test_receive_attempt_id_expires_after_five_minutes(sqs: Any, clock: ManualClock) -> None:
    url = _fifo(sqs)
    [m] = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="try-1", VisibilityTimeout=600)[
        "Messages"
    ]
    clock.advance(300)
    # A new receive: the group is still blocked by the first message in flight.
    assert "Messages" not in sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="try-1")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_receive_attempt_id_is_checked_and_ignored_on_standard_queues(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="plain")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    with pytest.raises(ClientError) as error:
        sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="x" * 129)
    assert _code(error) == "InvalidParameterValue"
    assert len(sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="a")["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="a")


def test_receive_attempt_id_after_the_messages_went_to_another_receive(
    sqs: Any, clock: ManualClock
) -> None:
    url = _fifo(sqs)
    sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="try-1", VisibilityTimeout=10)
    clock.advance(10)
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    with pytest.raises(ClientError) as error:
        sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="try-1")
    assert _code(error) == "InvalidParameterValue"
    # The other receive's handle is untouched.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_first_receive_at_epoch_zero_is_reported() -> None:
    with mock_aws(clock=ManualClock(start=0)):
        sqs: Any = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="x")
        [m] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
        assert m["Attributes"]["ApproximateFirstReceiveTimestamp"] == "0"


def test_receive_attempts_from_many_threads_lose_and_repeat_nothing(
    aws: MockAws, clock: ManualClock
) -> None:
    # Bounded stress: in rounds, threads receive, retry and delete under their own attempt
    # ids; between rounds the clock passes the window, so each round's first receives all
    # drop the older attempts at once. Every message once, every retry the same, no error.
    setup = boto3.client("sqs", region_name=REGION)
    url = setup.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i in range(160):
        setup.send_message(
            QueueUrl=url, MessageBody=f"m{i}", MessageGroupId=f"g{i}", MessageDeduplicationId=str(i)
        )
    got: list[str] = []
    errors: list[BaseException] = []
    guard = threading.Lock()
    rounds = threading.Barrier(8, action=lambda: clock.advance(301))

    def consume(worker: int) -> None:
        client = boto3.client("sqs", region_name=REGION)
        try:
            for n in range(20):
                attempt = f"w{worker}-{n}"
                first = client.receive_message(QueueUrl=url, ReceiveRequestAttemptId=attempt)
                again = client.receive_message(QueueUrl=url, ReceiveRequestAttemptId=attempt)
                assert again.get("Messages") == first.get("Messages")
                for m in first.get("Messages", []):
                    client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                    with guard:
                        got.append(m["Body"])
                rounds.wait(30)  # the last one in moves the clock past every window
        except BaseException as e:  # reported below, with the counts
            errors.append(e)
            rounds.abort()

    workers = [threading.Thread(target=consume, args=(w,)) for w in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert errors == []
    assert sorted(got) == sorted(f"m{i}" for i in range(160))
