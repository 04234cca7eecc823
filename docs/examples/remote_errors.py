import boto3
from botocore.config import Config

from mqlite import MqliteError
from mqlite.aws import Server, ServiceUnavailable, connect
from mqlite.errors import QueueDoesNotExist, UnsupportedOperation

session = boto3.Session(aws_access_key_id="any", aws_secret_access_key="any")
with Server(port=0) as server:
    broker = connect(server.endpoint_url, session=session)
    try:
        broker.get_queue("missing")
    except QueueDoesNotExist as error:  # the same class a local Broker raises
        assert error.code == "QueueDoesNotExist"

    jobs = broker.create_queue("jobs")
    try:
        jobs.peek()  # SQS cannot look without receiving
    except UnsupportedOperation as error:
        assert error.code == "UnsupportedOperation"
    endpoint = server.endpoint_url

# The server is gone: one attempt, then a clear error rather than a hang.
offline = connect(endpoint, session=session, config=Config(retries={"total_max_attempts": 1}))
try:
    offline.get_queue("jobs")
except ServiceUnavailable as error:
    assert isinstance(error, MqliteError)
    assert error.code == "ServiceUnavailable"
