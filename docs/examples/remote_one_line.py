import threading

import boto3

from mqlite import Broker, Worker
from mqlite.aws import Server, connect


def run(broker):
    """Application code: it does not know where its queues live."""
    jobs = broker.create_queue("jobs", visibility_timeout=30)
    for n in range(5):
        jobs.send(f"job {n}", attributes={"n": n})
    done = []
    worker = Worker(jobs, lambda message: done.append(message.body), concurrency=2)
    with worker:
        for _ in range(500):  # up to 5 s
            if worker.processed == 5:
                break
            threading.Event().wait(0.01)
    return sorted(done)


expected = [f"job {n}" for n in range(5)]

# In one process:
assert run(Broker()) == expected

# Across processes and machines, on SQS: the one line that changes is the broker.
# Here a mqlite Server stands in for SQS; on AWS it is connect(region="eu-west-1").
with Server(port=0) as server:
    session = boto3.Session(aws_access_key_id="any", aws_secret_access_key="any")
    assert run(connect(server.endpoint_url, session=session)) == expected
