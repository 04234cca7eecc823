import json

import boto3

from mqlite.aws import Server, connect

session = boto3.Session(aws_access_key_id="any", aws_secret_access_key="any")
with Server(port=0) as server:  # stands in for SNS and SQS
    broker = connect(server.endpoint_url, session=session)
    orders = broker.create_topic("orders")
    big = broker.create_queue("big-orders")
    audit = broker.create_queue("audit")

    # Each subscribe also lets the topic send to the queue (the queue's access policy).
    orders.subscribe(
        big, filter_policy={"total": [{"numeric": [">=", 100]}]}, raw_message_delivery=True
    )
    orders.subscribe(audit)  # every message, in the SNS JSON envelope

    orders.publish("order 1", attributes={"total": 20})
    orders.publish("order 2", attributes={"total": 250})

    assert [m.body for m in big.receive(10, wait=1)] == ["order 2"]
    envelopes = []
    for _ in range(5):
        envelopes += audit.receive(10, wait=1)
        if len(envelopes) == 2:
            break
    assert sorted(json.loads(m.body)["Message"] for m in envelopes) == ["order 1", "order 2"]
