import boto3

from mqlite import ManualClock
from mqlite.aws import mock_aws


def test_a_forgotten_message_comes_back():
    clock = ManualClock()
    with mock_aws(clock=clock) as aws:
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(
            QueueName="jobs", Attributes={"VisibilityTimeout": "43200"}
        )["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="resize cat.png")
        [msg] = sqs.receive_message(QueueUrl=url)["Messages"]

        clock.advance(43_200)                # twelve hours, instantly
        [again] = sqs.receive_message(
            QueueUrl=url, MessageSystemAttributeNames=["ApproximateReceiveCount"]
        )["Messages"]
        assert again["Attributes"]["ApproximateReceiveCount"] == "2"

        # The same state, seen through mqlite's own API.
        assert aws.broker("us-east-1").get_queue("jobs").stats().in_flight == 1
