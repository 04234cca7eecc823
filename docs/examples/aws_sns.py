import json

import boto3

from mqlite.aws import mock_aws


@mock_aws
def test_orders_fan_out_to_the_queues_that_want_them():
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    url = sqs.create_queue(QueueName="big-orders")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "FilterPolicy": json.dumps({"total": [{"numeric": [">=", 100]}]}),
            "RawMessageDelivery": "true",
        },
    )
    for total in (20, 250):
        sns.publish(
            TopicArn=topic,
            Message=f"order of {total}",
            MessageAttributes={"total": {"DataType": "Number", "StringValue": str(total)}},
        )
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["order of 250"]
