"""SNS operations called directly with member dicts: topics, subscriptions, publishing, errors."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from mqlite import ManualClock
from mqlite.aws._regions import Regions
from mqlite.aws._sns import SNS_OPERATIONS, SnsContext
from mqlite.errors import MqliteError
from mqlite.queue import Queue

REGION = "us-east-1"
ACCOUNT = "000000000000"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:"


@pytest.fixture
def regions() -> Regions:
    return Regions(clock=ManualClock(1_700_000_000.0))


@pytest.fixture
def ctx(regions: Regions) -> SnsContext:
    return SnsContext(regions, REGION)


def call(ctx: SnsContext, operation: str, **params: Any) -> dict[str, Any]:
    return SNS_OPERATIONS[operation](ctx, params)


def fails(ctx: SnsContext, operation: str, **params: Any) -> MqliteError:
    """The error *operation* raises, after checking it is an SNS client error."""
    with pytest.raises(MqliteError) as caught:
        call(ctx, operation, **params)
    error = caught.value
    assert error.sender_fault
    assert 400 <= error.http_status < 500
    return error


def topic(ctx: SnsContext, name: str = "t", **params: Any) -> str:
    arn: str = call(ctx, "CreateTopic", Name=name, **params)["TopicArn"]
    return arn


def queue(ctx: SnsContext, name: str = "q", region: str = REGION, **settings: Any) -> Queue:
    return ctx.regions.broker(region).create_queue(name, **settings)


def attributes(ctx: SnsContext, arn: str) -> dict[str, str]:
    values: dict[str, str] = call(ctx, "GetTopicAttributes", TopicArn=arn)["Attributes"]
    return values


def bodies(q: Queue) -> list[str]:
    return [m.body for m in q.receive(10)]


# --- topics -----------------------------------------------------------------------------------


def test_create_topic_returns_the_arn_and_the_broker_holds_the_topic(ctx: SnsContext) -> None:
    arn = topic(ctx, "orders")
    assert arn == TOPIC_ARN + "orders"
    assert ctx.broker.get_topic("orders").arn == arn


def test_create_topic_is_idempotent_with_the_same_attributes(ctx: SnsContext) -> None:
    arn = topic(ctx, "t", Attributes={"DisplayName": "One"})
    assert topic(ctx, "t") == arn
    assert topic(ctx, "t", Attributes={"DisplayName": "One"}) == arn
    error = fails(ctx, "CreateTopic", Name="t", Attributes={"DisplayName": "Two"})
    assert error.code == "InvalidParameter"
    assert error.message == (
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
    )
    # An attribute the topic does not have counts as different too.
    error = fails(ctx, "CreateTopic", Name="t", Attributes={"SignatureVersion": "2"})
    assert "different attributes" in error.message


def test_create_topic_keeps_attributes_set_later_and_compares_with_them(ctx: SnsContext) -> None:
    arn = topic(ctx)
    call(ctx, "SetTopicAttributes", TopicArn=arn, AttributeName="DisplayName", AttributeValue="x")
    assert topic(ctx, "t", Attributes={"DisplayName": "x"}) == arn
    assert attributes(ctx, arn)["DisplayName"] == "x"


def test_create_topic_tags_follow_sns_idempotency(ctx: SnsContext) -> None:
    tags = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    arn = topic(ctx, "t", Tags=tags)
    assert topic(ctx, "t", Tags=tags) == arn
    assert topic(ctx, "t", Tags=tags[:1]) == arn
    assert topic(ctx, "t", Tags=[]) == arn
    error = fails(ctx, "CreateTopic", Name="t", Tags=[{"Key": "a", "Value": "other"}])
    assert error.message == (
        "Invalid parameter: Tags Reason: Topic already exists with different tags"
    )
    plain = topic(ctx, "plain")
    error = fails(ctx, "CreateTopic", Name="plain", Tags=tags[:1])
    assert "different tags" in error.message
    assert call(ctx, "ListTagsForResource", ResourceArn=plain) == {"Tags": []}


@pytest.mark.parametrize(
    ("name", "attrs"),
    [
        ("", {}),
        ("a" * 257, {}),
        ("bad name", {}),
        ("semi;colon", {}),
        ("test.fifo", {}),
        ("test", {"FifoTopic": "true"}),
        ("test.fifo", {"FifoTopic": "false"}),
    ],
)
def test_create_topic_refuses_bad_names(ctx: SnsContext, name: str, attrs: dict[str, str]) -> None:
    error = fails(ctx, "CreateTopic", Name=name, Attributes=attrs)
    assert (error.code, error.message) == ("InvalidParameter", "Invalid parameter: Topic Name")
    assert ctx.broker.list_topics() == []


def test_create_topic_accepts_the_longest_name(ctx: SnsContext) -> None:
    assert topic(ctx, "a" * 256) == TOPIC_ARN + "a" * 256


@pytest.mark.parametrize(
    ("attrs", "fragment"),
    [
        ({"Nope": "1"}, "Unknown attribute: Nope"),
        ({"ContentBasedDeduplication": "true"}, "only valid for FIFO topics"),
        ({"SignatureVersion": "3"}, "SignatureVersion: Invalid value [3]"),
        ({"TracingConfig": "Sometimes"}, "TracingConfig: Invalid value"),
        ({"Policy": "{not json"}, "Policy: failed to parse JSON."),
        ({"FifoTopic": "maybe"}, "FifoTopic: Invalid value [maybe]. Must be true or false."),
    ],
)
def test_create_topic_refuses_bad_attributes(
    ctx: SnsContext, attrs: dict[str, str], fragment: str
) -> None:
    error = fails(ctx, "CreateTopic", Name="t", Attributes=attrs)
    assert error.code == "InvalidParameter"
    assert fragment in error.message
    assert ctx.broker.list_topics() == []


def test_get_topic_attributes_of_a_standard_topic(ctx: SnsContext) -> None:
    arn = topic(ctx)
    values = attributes(ctx, arn)
    assert set(values) == {
        "Policy",
        "Owner",
        "SubscriptionsPending",
        "TopicArn",
        "EffectiveDeliveryPolicy",
        "SubscriptionsConfirmed",
        "DisplayName",
        "SubscriptionsDeleted",
    }
    assert values["TopicArn"] == arn
    assert values["Owner"] == ACCOUNT
    assert values["DisplayName"] == ""
    assert (values["SubscriptionsConfirmed"], values["SubscriptionsPending"]) == ("0", "0")
    policy = json.loads(values["Policy"])
    [statement] = policy["Statement"]
    assert statement["Resource"] == arn
    assert "SNS:Publish" in statement["Action"]
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}
    delivery = json.loads(values["EffectiveDeliveryPolicy"])
    assert delivery["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3


def test_get_topic_attributes_of_a_fifo_topic(ctx: SnsContext) -> None:
    arn = topic(
        ctx, "t.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "True"}
    )
    values = attributes(ctx, arn)
    assert values["FifoTopic"] == "true"
    assert values["ContentBasedDeduplication"] == "true"
    assert ctx.broker.get_topic("t.fifo").fifo
    # FifoTopic=false is the same as leaving it out.
    plain = topic(ctx, "plain", Attributes={"FifoTopic": "false"})
    assert "FifoTopic" not in attributes(ctx, plain)


def test_set_topic_attributes_stores_and_clears(ctx: SnsContext) -> None:
    arn = topic(ctx)
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    delivery = json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 5}}})
    for name, value in [
        ("DisplayName", "Orders"),
        ("Policy", policy),
        ("DeliveryPolicy", delivery),
        ("SignatureVersion", "2"),
        ("TracingConfig", "Active"),
        ("KmsMasterKeyId", "alias/aws/sns"),
        ("SQSSuccessFeedbackSampleRate", "50"),
    ]:
        call(ctx, "SetTopicAttributes", TopicArn=arn, AttributeName=name, AttributeValue=value)
    values = attributes(ctx, arn)
    assert values["DisplayName"] == "Orders"
    assert values["Policy"] == policy
    assert values["EffectiveDeliveryPolicy"] == delivery
    assert values["SignatureVersion"] == "2"
    assert values["KmsMasterKeyId"] == "alias/aws/sns"
    assert values["SQSSuccessFeedbackSampleRate"] == "50"
    call(ctx, "SetTopicAttributes", TopicArn=arn, AttributeName="Policy", AttributeValue="")
    call(ctx, "SetTopicAttributes", TopicArn=arn, AttributeName="DisplayName")
    values = attributes(ctx, arn)
    assert json.loads(values["Policy"])["Id"] == "__default_policy_ID"
    assert values["DisplayName"] == ""


@pytest.mark.parametrize(
    "name", ["FifoTopic", "TopicArn", "Owner", "SubscriptionsConfirmed", "Unknown"]
)
def test_set_topic_attributes_refuses_read_only_and_unknown_names(
    ctx: SnsContext, name: str
) -> None:
    arn = topic(ctx)
    error = fails(ctx, "SetTopicAttributes", TopicArn=arn, AttributeName=name, AttributeValue="1")
    assert error.message == "Invalid parameter: AttributeName"


def test_set_topic_attributes_checks_values(ctx: SnsContext) -> None:
    arn = topic(ctx)
    error = fails(
        ctx,
        "SetTopicAttributes",
        TopicArn=arn,
        AttributeName="ContentBasedDeduplication",
        AttributeValue="true",
    )
    assert "only valid for FIFO topics" in error.message
    error = fails(
        ctx, "SetTopicAttributes", TopicArn=arn, AttributeName="Policy", AttributeValue="[]"
    )
    assert error.message == "Invalid parameter: Policy: failed to parse JSON."


def test_content_based_deduplication_can_be_switched_on_and_off(ctx: SnsContext) -> None:
    arn = topic(ctx, "t.fifo", Attributes={"FifoTopic": "true"})
    q = queue(ctx, "q.fifo", fifo=True)
    call(ctx, "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=q.arn)
    error = fails(ctx, "Publish", TopicArn=arn, Message="m", MessageGroupId="g")
    assert "ContentBasedDeduplication enabled or MessageDeduplicationId" in error.message
    call(
        ctx,
        "SetTopicAttributes",
        TopicArn=arn,
        AttributeName="ContentBasedDeduplication",
        AttributeValue="true",
    )
    assert attributes(ctx, arn)["ContentBasedDeduplication"] == "true"
    first = call(ctx, "Publish", TopicArn=arn, Message="m", MessageGroupId="g")
    again = call(ctx, "Publish", TopicArn=arn, Message="m", MessageGroupId="g")
    assert again["MessageId"] == first["MessageId"]  # the same content: a duplicate
    [message] = q.receive(10)
    assert message.deduplication_id == hashlib.sha256(b"m").hexdigest()
    # CreateTopic now compares with the current value.
    assert topic(ctx, "t.fifo", Attributes={"FifoTopic": "true"}) == arn
    fails(
        ctx,
        "CreateTopic",
        Name="t.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"},
    )
    call(
        ctx,
        "SetTopicAttributes",
        TopicArn=arn,
        AttributeName="ContentBasedDeduplication",
        AttributeValue="false",
    )
    error = fails(ctx, "Publish", TopicArn=arn, Message="n", MessageGroupId="g")
    assert "ContentBasedDeduplication enabled or MessageDeduplicationId" in error.message


def test_topic_made_with_content_based_deduplication_can_switch_it_off(ctx: SnsContext) -> None:
    arn = topic(
        ctx, "t.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"}
    )
    call(ctx, "Publish", TopicArn=arn, Message="m", MessageGroupId="g")
    call(
        ctx,
        "SetTopicAttributes",
        TopicArn=arn,
        AttributeName="ContentBasedDeduplication",
        AttributeValue="false",
    )
    error = fails(ctx, "Publish", TopicArn=arn, Message="m", MessageGroupId="g")
    assert "ContentBasedDeduplication enabled or MessageDeduplicationId" in error.message
    out = call(
        ctx, "Publish", TopicArn=arn, Message="m", MessageGroupId="g", MessageDeduplicationId="d"
    )
    assert "SequenceNumber" in out


def test_delete_topic_is_idempotent_and_removes_the_topic(ctx: SnsContext) -> None:
    arn = topic(ctx)
    assert call(ctx, "DeleteTopic", TopicArn=arn) == {}
    assert call(ctx, "DeleteTopic", TopicArn=arn) == {}
    assert call(ctx, "DeleteTopic", TopicArn=TOPIC_ARN + "never") == {}
    error = fails(ctx, "GetTopicAttributes", TopicArn=arn)
    assert (error.code, error.http_status, error.message) == (
        "NotFound",
        404,
        "Topic does not exist",
    )
    fails(ctx, "Publish", TopicArn=arn, Message="m")
    assert call(ctx, "ListTopics")["Topics"] == []


def test_list_topics_pages_by_100(ctx: SnsContext) -> None:
    names = [f"t{i:03d}" for i in range(230)]
    for name in names:
        topic(ctx, name)
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params = {} if token is None else {"NextToken": token}
        out = call(ctx, "ListTopics", **params)
        assert len(out["Topics"]) <= 100
        seen.extend(t["TopicArn"] for t in out["Topics"])
        pages += 1
        token = out.get("NextToken")
        if token is None:
            break
    assert pages == 3
    assert seen == [TOPIC_ARN + n for n in names]
    error = fails(ctx, "ListTopics", NextToken="not a token")
    assert error.code == "InvalidParameter"


def test_topics_live_per_region(regions: Regions) -> None:
    east = SnsContext(regions, "us-east-1")
    west = SnsContext(regions, "eu-west-1")
    arn = topic(west, "t")
    assert arn == f"arn:aws:sns:eu-west-1:{ACCOUNT}:t"
    assert call(east, "ListTopics")["Topics"] == []
    # Another region's ARN is not this endpoint's.
    error = fails(east, "GetTopicAttributes", TopicArn=arn)
    assert error.message == "Invalid parameter: TopicArn"


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("nope", "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1"),
        ("arn:aws:sns:us-east-1", "Invalid parameter: TopicArn Reason: An ARN must have at least"),
        (f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", "Invalid parameter: TopicArn"),
    ],
)
def test_malformed_topic_arns_are_invalid_parameters(
    ctx: SnsContext, arn: str, message: str
) -> None:
    for operation in ("GetTopicAttributes", "ListSubscriptionsByTopic", "DeleteTopic"):
        error = fails(ctx, operation, TopicArn=arn)
        assert error.code == "InvalidParameter"
        assert error.message.startswith(message)


def test_unknown_topics_are_not_found(ctx: SnsContext) -> None:
    arn = TOPIC_ARN + "missing"
    cases: list[tuple[str, dict[str, Any]]] = [
        ("GetTopicAttributes", {}),
        ("SetTopicAttributes", {"AttributeName": "DisplayName", "AttributeValue": "x"}),
        ("ListSubscriptionsByTopic", {}),
        ("Publish", {"Message": "m"}),
        ("PublishBatch", {"PublishBatchRequestEntries": [{"Id": "1", "Message": "m"}]}),
        ("Subscribe", {"Protocol": "sqs", "Endpoint": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"}),
        ("AddPermission", {"Label": "l", "AWSAccountId": ["1"], "ActionName": ["Publish"]}),
        ("RemovePermission", {"Label": "l"}),
    ]
    for operation, params in cases:
        error = fails(ctx, operation, TopicArn=arn, **params)
        assert (error.code, error.message) == ("NotFound", "Topic does not exist"), operation
    # Another account's topic is not found either.
    error = fails(ctx, "GetTopicAttributes", TopicArn=f"arn:aws:sns:{REGION}:111111111111:t")
    assert error.code == "NotFound"


# --- tags and permissions -----------------------------------------------------------------------


def test_tag_untag_and_list_tags(ctx: SnsContext) -> None:
    arn = topic(ctx, Tags=[{"Key": "team", "Value": "a"}])
    call(ctx, "TagResource", ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    call(ctx, "TagResource", ResourceArn=arn, Tags=[{"Key": "team", "Value": "b"}])
    assert call(ctx, "ListTagsForResource", ResourceArn=arn) == {
        "Tags": [{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}]
    }
    call(ctx, "UntagResource", ResourceArn=arn, TagKeys=["team", "absent"])
    assert call(ctx, "ListTagsForResource", ResourceArn=arn) == {
        "Tags": [{"Key": "env", "Value": "dev"}]
    }


def test_tags_errors(ctx: SnsContext) -> None:
    arn = topic(ctx)
    error = fails(
        ctx,
        "TagResource",
        ResourceArn=arn,
        Tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}],
    )
    assert error.message == "Invalid parameter: Duplicated keys are not allowed."
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    call(ctx, "TagResource", ResourceArn=arn, Tags=many)
    error = fails(ctx, "TagResource", ResourceArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
    assert (error.code, error.http_status) == ("TagLimitExceeded", 400)
    fails(ctx, "CreateTopic", Name="other", Tags=[*many, {"Key": "x", "Value": "y"}])
    tagging: list[tuple[str, dict[str, Any]]] = [
        ("TagResource", {"Tags": [{"Key": "a", "Value": "b"}]}),
        ("UntagResource", {"TagKeys": ["a"]}),
        ("ListTagsForResource", {}),
    ]
    for operation, params in tagging:
        error = fails(ctx, operation, ResourceArn=TOPIC_ARN + "missing", **params)
        assert (error.code, error.http_status, error.message) == (
            "ResourceNotFound",
            404,
            "Resource does not exist",
        )


def test_add_and_remove_permission_edit_the_policy(ctx: SnsContext) -> None:
    arn = topic(ctx)
    call(
        ctx,
        "AddPermission",
        TopicArn=arn,
        Label="pub",
        AWSAccountId=["111111111111", "222222222222"],
        ActionName=["Publish"],
    )
    policy = json.loads(attributes(ctx, arn)["Policy"])
    [default, added] = policy["Statement"]
    assert default["Sid"] == "__default_statement_ID"
    assert added == {
        "Sid": "pub",
        "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::111111111111:root", "arn:aws:iam::222222222222:root"]},
        "Action": "SNS:Publish",
        "Resource": arn,
    }
    error = fails(
        ctx, "AddPermission", TopicArn=arn, Label="pub", AWSAccountId=["1"], ActionName=["Publish"]
    )
    assert error.message == "Invalid parameter: Statement already exists"
    error = fails(
        ctx, "AddPermission", TopicArn=arn, Label="x", AWSAccountId=["1"], ActionName=["Fly"]
    )
    assert error.message == "Invalid parameter: Policy statement action out of service scope!"
    call(ctx, "RemovePermission", TopicArn=arn, Label="pub")
    call(ctx, "RemovePermission", TopicArn=arn, Label="pub")  # already gone: no error
    [only] = json.loads(attributes(ctx, arn)["Policy"])["Statement"]
    assert only["Sid"] == "__default_statement_ID"
