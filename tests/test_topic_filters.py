"""End-to-end filtering through Topic.publish: attribute scope, body scope, String.Array."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from mqlite import Attribute, Notification, PublishEntry, Queue
from mqlite.errors import InvalidParameter
from mqlite.filters import FilterPolicy, FilterPolicyError
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


# --- deeply nested policies --------------------------------------------------------------------


def _nested_body(depth: int) -> tuple[dict[str, Any], str]:
    """A body policy whose one condition list sits *depth* objects down: mapping and text."""
    mapping: dict[str, Any] = {"k": ["x"]}
    for _ in range(depth - 1):
        mapping = {"k": mapping}
    return mapping, '{"k":' * depth + '["x"]' + "}" * depth


def _nested_or(depth: int) -> tuple[dict[str, Any], str]:
    """*depth* ``$or`` operators, each nesting the next as its first alternative."""
    mapping: dict[str, Any] = {"a": ["x"]}
    text = '{"a":["x"]}'
    for _ in range(depth):
        mapping = {"$or": [mapping, {"b": ["y"]}]}
        text = '{"$or":[' + text + ',{"b":["y"]}]}'
    return mapping, text


def _error(policy: str | dict[str, Any], scope: str) -> str:
    with pytest.raises(FilterPolicyError) as e:
        FilterPolicy(policy, scope)
    return str(e.value)


@pytest.mark.parametrize(
    ("make", "depth", "scope"),
    [
        (_nested_body, 151, "MessageBody"),
        (_nested_body, 400, "MessageBody"),
        (_nested_body, 2000, "MessageBody"),
        (_nested_or, 150, "MessageAttributes"),
        (_nested_or, 151, "MessageBody"),
        (_nested_or, 300, "MessageAttributes"),
        (_nested_or, 900, "MessageAttributes"),
        (_nested_or, 900, "MessageBody"),
    ],
)
def test_deep_policy_mapping_gives_the_text_forms_policy_error(
    make: Callable[[int], tuple[dict[str, Any], str]], depth: int, scope: str
) -> None:
    mapping, text = make(depth)
    small_mapping, small_text = make(3)
    assert json.loads(small_text) == small_mapping  # the two forms say the same
    expected = _error(text, scope)
    assert _error(mapping, scope) == expected
    # Deep enough to be too complex (SNS's count grows with depth), or past what JSON
    # parsing allows; never a RecursionError.
    assert expected.endswith(
        ("Filter policy is too complex", "Document nesting depth exceeds the maximum allowed")
    )
    t = Topic("t")
    with pytest.raises(InvalidParameter) as sub_error:
        t.subscribe(Queue("q"), filter_policy=mapping, filter_policy_scope=scope)
    assert str(sub_error.value).startswith("Invalid parameter: Attributes Reason: FilterPolicy: ")
    assert t.subscriptions == []


def test_policies_at_the_complexity_limit_still_compile() -> None:
    mapping, text = _nested_body(150)  # one value at depth 150: 150 combinations
    assert FilterPolicy(mapping, "MessageBody") == FilterPolicy(text, "MessageBody")
    body: Any = "x"
    for _ in range(150):
        body = {"k": body}
    assert FilterPolicy(mapping, "MessageBody").matches(body=json.dumps(body))
    nested, _ = _nested_or(149)  # 150 alternatives in all
    assert FilterPolicy(nested).matches(attributes={"b": Attribute("String", "y")})


def test_a_deep_object_behind_a_later_duplicate_key_is_not_counted() -> None:
    """The combination count sees only the last of a duplicated key, as before; a hidden
    object too deep to expand is too complex, never a RecursionError."""
    _, deep = _nested_body(200)
    policy = FilterPolicy('{"a":' + deep + ',"a":["x"]}', "MessageBody")
    assert "a" in policy.paths  # accepted (one combination), as before
    _, deeper = _nested_body(900)
    try:  # accepted, or refused by a policy error, depending on how deep the stack is
        FilterPolicy('{"a":' + deeper + ',"a":["x"]}', "MessageBody")
        outcome = "accepted"
    except FilterPolicyError as error:
        outcome = str(error)
    assert outcome == "accepted" or outcome.endswith(
        ("Filter policy is too complex", "Document nesting depth exceeds the maximum allowed")
    )
