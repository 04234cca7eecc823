import boto3

from mqlite.aws import Server


def test_any_sdk_over_http():
    with Server(port=0) as server:           # port 0: any free port
        sqs = boto3.client(
            "sqs",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="any",         # any credentials are accepted
            aws_secret_access_key="any",
        )
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        assert url == f"{server.endpoint_url}/000000000000/jobs"
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        assert server.broker().get_queue("jobs").stats().visible == 1
