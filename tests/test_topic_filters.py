"""End-to-end filtering through Topic.publish: attribute scope, body scope, String.Array."""

from __future__ import annotations

import json

from mqlite import Attribute, Notification, PublishEntry, Queue
from mqlite.topic import Topic


def collect(topic: Topic, **kwargs: object) -> list[str]:
    got: list[str] = []
    topic.subscribe(lambda n: got.append(n.message), **kwargs)  # type: ignore[arg-type]
    return got


def test_attribute_scope_filtering() -> None:
    t = Topic("t")
    red = collect(t, filter_policy={"colour": ["red"]})
    big = collect(t, filter_policy={"size": [{"numeric": [">", 10]}]})
    everything = collect(t)
    t.publish("1", attributes={"colour": "red"})
    t.publish("2", attributes={"colour": "blue", "size": 11})
    t.publish("3", attributes={"size": Attribute("Number", "5")})
    t.publish("4")
    assert red == ["1"]
    assert big == ["2"]
    assert everything == ["1", "2", "3", "4"]


def test_binary_attributes_are_ignored_and_exists_false_needs_attributes() -> None:
    t = Topic("t")
    absent = collect(t, filter_policy={"k": [{"exists": False}]})
    t.publish("none")
    t.publish("binary-only", attributes={"b": b"\x00"})
    t.publish("other", attributes={"x": "y"})
    t.publish("has-k", attributes={"k": "v"})
    assert absent == ["other"]


def test_string_array_elements_match_independently() -> None:
    t = Topic("t")
    sports = collect(t, filter_policy={"tags": ["sport"]})
    nums = collect(t, filter_policy={"tags": [{"numeric": ["=", 3]}]})
    t.publish("a", attributes={"tags": Attribute("String.Array", '["news", "sport"]')})
    t.publish("b", attributes={"tags": Attribute("String.Array", '["news", 3]')})
    t.publish("c", attributes={"tags": ["weather"]})
    assert sports == ["a"]
    assert nums == ["b"]


def test_body_scope_filtering() -> None:
    t = Topic("t")
    got = collect(
        t,
        filter_policy={"order": {"status": ["paid"], "total": [{"numeric": [">=", 100]}]}},
        filter_policy_scope="MessageBody",
    )
    paid_big = json.dumps({"order": {"status": "paid", "total": 150}})
    t.publish(paid_big)
    t.publish(json.dumps({"order": {"status": "paid", "total": 50}}))
    t.publish(json.dumps({"order": {"status": "open", "total": 500}}))
    t.publish("not json")
    t.publish(json.dumps("a json string"))
    assert got == [paid_big]


def test_body_scope_arrays_are_transparent() -> None:
    t = Topic("t")
    got = collect(t, filter_policy={"items": {"sku": ["X1"]}}, filter_policy_scope="MessageBody")
    body = json.dumps({"items": [{"sku": "A"}, {"sku": "X1"}]})
    t.publish(body)
    t.publish(json.dumps({"items": [{"sku": "A"}]}))
    assert got == [body]


def test_filters_apply_to_batches_and_queue_targets() -> None:
    t = Topic("t")
    q = Queue("q")
    t.subscribe(q, filter_policy={"k": ["yes"]}, raw_message_delivery=True)
    t.publish_batch(
        [
            PublishEntry("a", "keep", attributes={"k": "yes"}),
            PublishEntry("b", "drop", attributes={"k": "no"}),
        ]
    )
    assert [m.body for m in q.receive(10)] == ["keep"]


def test_delivery_in_subscription_order_with_mixed_policies() -> None:
    t = Topic("t")
    order: list[int] = []
    for i in range(6):
        policy = {"k": ["v"]} if i % 2 else None

        def sink(n: Notification, i: int = i) -> None:
            order.append(i)

        t.subscribe(sink, filter_policy=policy)
    t.publish("m", attributes={"k": "v"})
    assert order == [0, 1, 2, 3, 4, 5]
    order.clear()
    t.publish("m", attributes={"k": "w"})
    assert order == [0, 2, 4]


def test_changing_policy_reindexes() -> None:
    t = Topic("t")
    got: list[str] = []
    sub = t.subscribe(lambda n: got.append(n.message), filter_policy={"k": ["a"]})
    t.publish("1", attributes={"k": "b"})
    sub.configure(filter_policy={"k": ["b"]})
    t.publish("2", attributes={"k": "b"})
    t.publish("3", attributes={"k": "a"})
    assert got == ["2"]


def test_many_subscriptions_only_matching_receive() -> None:
    t = Topic("t")
    counts = [0] * 300

    for i in range(300):

        def sink(n: Notification, i: int = i) -> None:
            counts[i] += 1

        t.subscribe(sink, filter_policy={"id": [str(i)]})
    t.publish("m", attributes={"id": "42"})
    assert counts[42] == 1
    assert sum(counts) == 1
