"""A boto3 test on mqlite.testing's aws_mock fixture: a 12-hour timeout in one line."""

from typing import Any

import boto3

from mqlite import ManualClock
from mqlite.aws import MockAws

pytest_plugins = ["mqlite.testing"]


def test_unfinished_job_comes_back(aws_mock: MockAws, manual_clock: ManualClock) -> None:
    sqs: Any = boto3.client("sqs", region_name="eu-west-1")
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "43200"})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="resize cat.png")
    [first] = sqs.receive_message(QueueUrl=url)["Messages"]
    manual_clock.advance(43_200)
    [again] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    assert again["MessageId"] == first["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    # The same queue, seen through mqlite's own API.
    assert aws_mock.broker("eu-west-1").get_queue("jobs").stats().in_flight == 1
