import tempfile

import boto3

from mqlite.aws import Server


def test_state_outlives_the_server():
    with tempfile.TemporaryDirectory() as data:
        with Server(port=0, path=data) as server:  # one file per region in data/
            sqs = boto3.client(
                "sqs",
                endpoint_url=server.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="any",
                aws_secret_access_key="any",
            )
            url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="survives a restart")

        with Server(port=0, path=data) as server:  # a new server, the same directory
            assert server.broker().get_queue("jobs").receive()[0].body == "survives a restart"
