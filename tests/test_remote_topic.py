"""``RemoteTopic``: SNS topics delivering to remote queues, against the same two endpoints."""

from __future__ import annotations

import json

import pytest
from test_remote import backend, broker

from mqlite import ManualClock, Message, PublishEntry, Queue
from mqlite.aws import RemoteBroker, RemoteQueue
from mqlite.errors import NotFound, UnsupportedOperation

__all__ = ["backend", "broker"]  # the fixtures, shared with test_remote


def _all(queue: RemoteQueue) -> list[Message]:
    got: list[Message] = []
    while True:
        batch = queue.receive(10, wait=1 if not got else 0)
        if not batch:
            return got
        got.extend(batch)


def test_publish_reaches_a_subscribed_queue_in_the_envelope(broker: RemoteBroker) -> None:
    topic = broker.create_topic("news")
    q = broker.create_queue("reader")
    sub = topic.subscribe(q)
    assert sub.target.url == q.url
    assert sub.raw_message_delivery is False
    result = topic.publish("hello", subject="greeting", attributes={"lang": "en"})
    [m] = _all(q)
    envelope = json.loads(m.body)
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == result.message_id
    assert envelope["TopicArn"] == topic.arn
    assert envelope["Message"] == "hello"
    assert envelope["Subject"] == "greeting"
    assert envelope["MessageAttributes"]["lang"] == {"Type": "String", "Value": "en"}


def test_subscribe_lets_the_topic_send_to_the_queue(broker: RemoteBroker) -> None:
    topic = broker.create_topic("allowed")
    q = broker.create_queue("guarded")
    topic.subscribe(q)
    topic.subscribe(q)  # idempotent: the statement is not added twice
    got = broker.sqs.get_queue_attributes(QueueUrl=q.url, AttributeNames=["Policy"])
    policy = json.loads(got["Attributes"]["Policy"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == q.arn
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic.arn}}


def test_filter_policy_and_raw_delivery(broker: RemoteBroker) -> None:
    topic = broker.create_topic("orders")
    big = broker.create_queue("big-orders")
    every = broker.create_queue("all-orders")
    sub = topic.subscribe(
        big, filter_policy={"size": [{"numeric": [">", 10]}]}, raw_message_delivery=True
    )
    topic.subscribe(every, raw_message_delivery=True)
    assert sub.raw_message_delivery is True
    assert sub.filter_policy is not None
    assert sub.filter_policy.policy == {"size": [{"numeric": [">", 10]}]}
    topic.publish("small", attributes={"size": 3})
    topic.publish("large", attributes={"size": 30})
    [m] = _all(big)
    assert m.body == "large"
    assert m.attributes["size"].value == "30"
    assert sorted(m.body for m in _all(every)) == ["large", "small"]


def test_publish_batch_and_unsubscribe(broker: RemoteBroker) -> None:
    topic = broker.create_topic("batch")
    q = broker.create_queue("batch-reader")
    sub = topic.subscribe(q, raw_message_delivery=True)
    result = topic.publish_batch([PublishEntry("a", "one"), PublishEntry("b", "two")])
    assert sorted(r.id or "" for r in result.successful) == ["a", "b"]
    assert result.failed == []
    assert sorted(m.body for m in _all(q)) == ["one", "two"]
    assert [s.arn for s in topic.subscriptions] == [sub.arn]
    topic.unsubscribe(sub)
    assert topic.subscriptions == []
    topic.publish("nobody listens")
    assert q.receive(wait=0) == []


def test_topics_by_name_and_what_a_service_cannot_do(broker: RemoteBroker) -> None:
    topic = broker.create_topic("named")
    assert broker.get_topic("named").arn == topic.arn
    assert [t.name for t in broker.list_topics()] == ["named"]
    with pytest.raises(UnsupportedOperation) as callable_target:
        topic.subscribe(lambda n: None)
    assert callable_target.value.code == "UnsupportedOperation"
    with pytest.raises(UnsupportedOperation):
        topic.subscribe(Queue("local"))
    with pytest.raises(UnsupportedOperation):
        broker.create_topic("clocked", clock=ManualClock())
    broker.delete_topic("named")
    with pytest.raises(NotFound) as missing:
        broker.get_topic("named")
    assert missing.value.code == "NotFound"


def test_configure_a_subscription(broker: RemoteBroker) -> None:
    topic = broker.create_topic("tunable")
    q = broker.create_queue("tuned")
    dlq = broker.create_queue("tuned-dead")
    sub = topic.subscribe(q, raw_message_delivery=True, dead_letter_queue=dlq)
    assert sub.dead_letter_queue == dlq
    assert sub.protocol == "sqs"
    assert sub.active
    sub.configure(filter_policy={"kind": ["wanted"]})
    assert sub.filter_policy is not None
    topic.publish("skipped", attributes={"kind": "other"})
    topic.publish("kept", attributes={"kind": "wanted"})
    assert [m.body for m in _all(q)] == ["kept"]
    sub.configure(raw_message_delivery=False)
    assert sub.raw_message_delivery is False
    with pytest.raises(UnsupportedOperation):
        _ = sub.delivered
    sub.unsubscribe()
    assert not sub.active


def test_fifo_topic_to_fifo_queue(broker: RemoteBroker) -> None:
    topic = broker.create_topic("events.fifo", content_based_deduplication=True)
    assert topic.fifo
    q = broker.create_queue("events.fifo", content_based_deduplication=True)
    topic.subscribe(q, raw_message_delivery=True)
    for n in range(4):
        topic.publish(f"e{n}", group_id="g")
    got = _all(q)
    assert [m.body for m in got] == ["e0", "e1", "e2", "e3"]
    assert {m.group_id for m in got} == {"g"}
