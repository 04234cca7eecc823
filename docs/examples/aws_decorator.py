import boto3

from mqlite.aws import mock_aws


@mock_aws
def test_orders_are_processed_once():
    sqs = boto3.client("sqs", region_name="eu-west-1")
    url = sqs.create_queue(
        QueueName="orders.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for _ in range(2):                       # a retried send within 5 minutes
        sqs.send_message(QueueUrl=url, MessageBody="order 1", MessageGroupId="alice")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["order 1"]
