"""SNS operations called directly with member dicts: topics, subscriptions, publishing, errors."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from mqlite import ManualClock
from mqlite.aws._regions import Regions
from mqlite.aws._sns import SNS_OPERATIONS, SnsContext, confirmation_token
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
    plain = topic(ctx, "plain")
    assert topic(ctx, "plain", Attributes={"DisplayName": ""}) == plain


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


# --- subscriptions ------------------------------------------------------------------------------


def sub(ctx: SnsContext, arn: str, protocol: str, endpoint: str, **params: Any) -> str:
    out: str = call(ctx, "Subscribe", TopicArn=arn, Protocol=protocol, Endpoint=endpoint, **params)[
        "SubscriptionArn"
    ]
    return out


def sub_attributes(ctx: SnsContext, arn: str) -> dict[str, str]:
    values: dict[str, str] = call(ctx, "GetSubscriptionAttributes", SubscriptionArn=arn)[
        "Attributes"
    ]
    return values


def test_subscribe_a_queue_makes_a_core_subscription(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub_arn = sub(ctx, arn, "sqs", q.arn)
    assert sub_arn.startswith(arn + ":")
    [core] = ctx.broker.get_topic("t").subscriptions
    assert (core.arn, core.target) == (sub_arn, q)
    assert sub_attributes(ctx, sub_arn) == {
        "ConfirmationWasAuthenticated": "true",
        "Endpoint": q.arn,
        "Owner": ACCOUNT,
        "PendingConfirmation": "false",
        "Protocol": "sqs",
        "RawMessageDelivery": "false",
        "SubscriptionArn": sub_arn,
        "SubscriptionPrincipal": f"arn:aws:iam::{ACCOUNT}:root",
        "TopicArn": arn,
    }
    assert attributes(ctx, arn)["SubscriptionsConfirmed"] == "1"


def test_subscribe_is_idempotent_while_attributes_agree(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    policy = json.dumps({"kind": ["a"]})
    first = sub(
        ctx,
        arn,
        "sqs",
        q.arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": policy},
    )
    assert sub(ctx, arn, "sqs", q.arn) == first
    assert sub(ctx, arn, "sqs", q.arn, Attributes={}) == first
    assert sub(ctx, arn, "sqs", q.arn, Attributes={"RawMessageDelivery": "True"}) == first
    assert sub(ctx, arn, "sqs", q.arn, Attributes={"FilterPolicyScope": "MessageAttributes"}) == (
        first
    )
    for changed in (
        {"RawMessageDelivery": "false"},
        {"FilterPolicy": json.dumps({"kind": ["b"]})},
        {"DeliveryPolicy": json.dumps({"healthyRetryPolicy": {"numRetries": 1}})},
    ):
        error = fails(
            ctx, "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=q.arn, Attributes=changed
        )
        assert error.message == (
            "Invalid parameter: Attributes Reason: Subscription already exists with different"
            " attributes"
        )
    assert len(ctx.broker.get_topic("t").subscriptions) == 1


def test_subscribe_a_queue_of_another_region(regions: Regions, ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx, "far", region="eu-west-1")
    sub(ctx, arn, "sqs", q.arn)
    call(ctx, "Publish", TopicArn=arn, Message="hello")
    [body] = bodies(q)
    assert json.loads(body)["Message"] == "hello"


def test_subscribe_a_queue_that_does_not_exist_is_kept_but_gets_nothing(ctx: SnsContext) -> None:
    arn = topic(ctx)
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:nobody"
    sub_arn = sub(ctx, arn, "sqs", missing)
    assert sub_arn.startswith(arn + ":")
    assert sub(ctx, arn, "sqs", missing) == sub_arn
    assert sub_attributes(ctx, sub_arn)["PendingConfirmation"] == "false"
    assert call(ctx, "Publish", TopicArn=arn, Message="m")["MessageId"]
    [row] = call(ctx, "ListSubscriptionsByTopic", TopicArn=arn)["Subscriptions"]
    assert row == {
        "SubscriptionArn": sub_arn,
        "Owner": ACCOUNT,
        "Protocol": "sqs",
        "Endpoint": missing,
        "TopicArn": arn,
    }


def test_fifo_queue_on_a_standard_topic_is_refused(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx, "q.fifo", fifo=True)
    for endpoint in (q.arn, f"arn:aws:sqs:{REGION}:{ACCOUNT}:missing.fifo"):
        error = fails(ctx, "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=endpoint)
        assert error.message == (
            "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be"
            " subscribed to standard SNS topics"
        )
    assert call(ctx, "ListSubscriptionsByTopic", TopicArn=arn)["Subscriptions"] == []


@pytest.mark.parametrize(
    ("protocol", "endpoint", "message"),
    [
        (
            "carrier-pigeon",
            "x",
            "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon",
        ),
        (
            "sqs",
            f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q",
            "Invalid parameter: SQS endpoint ARN",
        ),
        ("sqs", None, "Invalid parameter: Endpoint"),
        (
            "http",
            "https://example.com",
            "Invalid parameter: Endpoint must match the specified protocol",
        ),
        (
            "https",
            "ftp://example.com",
            "Invalid parameter: Endpoint must match the specified protocol",
        ),
        ("email", "not-an-address", "Invalid parameter: Email address"),
        ("email-json", "a@b", "Invalid parameter: Email address"),
        ("sms", "call me", "Invalid parameter: Invalid SMS endpoint: call me"),
        (
            "lambda",
            "arn:aws:sqs:us-east-1:000000000000:q",
            "Invalid parameter: Lambda endpoint ARN",
        ),
        (
            "application",
            "arn:aws:sns:us-east-1:000000000000:t",
            "Invalid parameter: ApplicationEndpoint ARN",
        ),
        (
            "firehose",
            "arn:aws:firehose:us-east-1:000000000000:stream",
            "Invalid parameter: Firehose endpoint ARN",
        ),
    ],
)
def test_subscribe_checks_the_endpoint_for_its_protocol(
    ctx: SnsContext, protocol: str, endpoint: str | None, message: str
) -> None:
    arn = topic(ctx)
    params: dict[str, Any] = {"TopicArn": arn, "Protocol": protocol}
    if endpoint is not None:
        params["Endpoint"] = endpoint
    error = fails(ctx, "Subscribe", **params)
    assert (error.code, error.message) == ("InvalidParameter", message)
    assert call(ctx, "ListSubscriptionsByTopic", TopicArn=arn)["Subscriptions"] == []


@pytest.mark.parametrize(
    ("protocol", "endpoint", "attrs"),
    [
        ("sms", "+15555550100", {}),
        ("lambda", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:handler", {}),
        ("application", f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/app/1234", {}),
        (
            "firehose",
            f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/s",
            {"SubscriptionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/r"},
        ),
    ],
)
def test_endpoints_sns_confirms_at_once_are_kept_confirmed(
    ctx: SnsContext, protocol: str, endpoint: str, attrs: dict[str, str]
) -> None:
    arn = topic(ctx)
    sub_arn = sub(ctx, arn, protocol, endpoint, Attributes=attrs)
    assert sub_arn.startswith(arn + ":")
    values = sub_attributes(ctx, sub_arn)
    assert values["PendingConfirmation"] == "false"
    assert (values["Protocol"], values["Endpoint"]) == (protocol, endpoint)
    assert attributes(ctx, arn)["SubscriptionsConfirmed"] == "1"
    assert call(ctx, "Publish", TopicArn=arn, Message="m")["MessageId"]


def test_firehose_needs_a_role(ctx: SnsContext) -> None:
    arn = topic(ctx)
    error = fails(
        ctx,
        "Subscribe",
        TopicArn=arn,
        Protocol="firehose",
        Endpoint=f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/s",
    )
    assert "SubscriptionRoleArn" in error.message


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [
        ("email", "someone@example.com"),
        ("email-json", "someone@example.com"),
        ("http", "http://example.com/hook"),
        ("https", "https://example.com/hook"),
        ("sqs", "arn:aws:sqs:us-east-1:111111111111:theirs"),
    ],
)
def test_endpoints_that_confirm_stay_pending_until_confirm_subscription(
    ctx: SnsContext, protocol: str, endpoint: str
) -> None:
    arn = topic(ctx)
    assert sub(ctx, arn, protocol, endpoint) == "pending confirmation"
    sub_arn = sub(ctx, arn, protocol, endpoint, ReturnSubscriptionArn=True)
    assert sub_arn.startswith(arn + ":")
    values = attributes(ctx, arn)
    assert (values["SubscriptionsPending"], values["SubscriptionsConfirmed"]) == ("1", "0")
    [row] = call(ctx, "ListSubscriptions")["Subscriptions"]
    assert row["SubscriptionArn"] == "PendingConfirmation"
    assert sub_attributes(ctx, sub_arn)["PendingConfirmation"] == "true"
    token = confirmation_token(ctx.regions, sub_arn)
    assert token is not None
    assert call(ctx, "ConfirmSubscription", TopicArn=arn, Token=token) == {
        "SubscriptionArn": sub_arn
    }
    # Confirming again changes nothing.
    assert call(ctx, "ConfirmSubscription", TopicArn=arn, Token=token) == {
        "SubscriptionArn": sub_arn
    }
    assert sub_attributes(ctx, sub_arn)["PendingConfirmation"] == "false"
    values = attributes(ctx, arn)
    assert (values["SubscriptionsPending"], values["SubscriptionsConfirmed"]) == ("0", "1")
    [row] = call(ctx, "ListSubscriptions")["Subscriptions"]
    assert row["SubscriptionArn"] == sub_arn
    assert sub(ctx, arn, protocol, endpoint) == sub_arn


def test_confirm_subscription_errors(ctx: SnsContext) -> None:
    arn = topic(ctx)
    sub_arn = sub(ctx, arn, "email", "a@example.com", ReturnSubscriptionArn=True)
    token = confirmation_token(ctx.regions, sub_arn)
    assert token is not None
    error = fails(ctx, "ConfirmSubscription", TopicArn=arn, Token="not a token")
    assert error.message == "Invalid token"
    error = fails(ctx, "ConfirmSubscription", TopicArn=arn, Token="ab" * 144)
    assert error.message == "Invalid parameter: Token"
    error = fails(ctx, "ConfirmSubscription", TopicArn=TOPIC_ARN + "other", Token=token)
    assert error.message == "Invalid parameter: Token"
    other = topic(ctx, "other")
    error = fails(ctx, "ConfirmSubscription", TopicArn=other, Token=token)
    assert error.message == "Invalid parameter: Token"
    assert sub_attributes(ctx, sub_arn)["PendingConfirmation"] == "true"


def test_fifo_topics_take_sqs_subscriptions_only(ctx: SnsContext) -> None:
    arn = topic(ctx, "t.fifo", Attributes={"FifoTopic": "true"})
    error = fails(ctx, "Subscribe", TopicArn=arn, Protocol="email", Endpoint="a@example.com")
    assert error.code == "InvalidParameter"
    # A standard queue on a FIFO topic is accepted, as SNS accepts it.
    assert sub(ctx, arn, "sqs", queue(ctx).arn).startswith(arn)


def test_unsubscribe_is_idempotent(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub_arn = sub(ctx, arn, "sqs", q.arn)
    mail = sub(ctx, arn, "email", "a@example.com", ReturnSubscriptionArn=True)
    assert call(ctx, "Unsubscribe", SubscriptionArn=sub_arn) == {}
    assert call(ctx, "Unsubscribe", SubscriptionArn=sub_arn) == {}
    assert call(ctx, "Unsubscribe", SubscriptionArn=mail) == {}
    assert ctx.broker.get_topic("t").subscriptions == []
    assert call(ctx, "ListSubscriptionsByTopic", TopicArn=arn)["Subscriptions"] == []
    error = fails(ctx, "GetSubscriptionAttributes", SubscriptionArn=sub_arn)
    assert (error.code, error.http_status, error.message) == (
        "NotFound",
        404,
        "Subscription does not exist",
    )
    call(ctx, "Publish", TopicArn=arn, Message="m")
    assert bodies(q) == []
    # The topic gone, unsubscribing is still fine.
    call(ctx, "DeleteTopic", TopicArn=arn)
    assert call(ctx, "Unsubscribe", SubscriptionArn=sub_arn) == {}


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        (
            "pending confirmation",
            "Invalid parameter: SubscriptionArn Reason: An ARN must have"
            " at least 6 elements, not 1",
        ),
        (TOPIC_ARN + "t", "Invalid parameter: SubscriptionId"),
        ("arn:aws:sqs:us-east-1:000000000000:t:x", "Invalid parameter: SubscriptionArn"),
    ],
)
def test_malformed_subscription_arns(ctx: SnsContext, arn: str, message: str) -> None:
    topic(ctx)
    for operation, params in [
        ("Unsubscribe", {}),
        ("GetSubscriptionAttributes", {}),
        (
            "SetSubscriptionAttributes",
            {"AttributeName": "RawMessageDelivery", "AttributeValue": "true"},
        ),
    ]:
        error = fails(ctx, operation, SubscriptionArn=arn, **params)
        assert (error.code, error.message) == ("InvalidParameter", message)


def test_delete_topic_removes_its_subscriptions(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub(ctx, arn, "sqs", q.arn)
    sub(ctx, arn, "sms", "+15555550100")
    call(ctx, "DeleteTopic", TopicArn=arn)
    assert call(ctx, "ListSubscriptions")["Subscriptions"] == []
    # A new topic of the same name starts empty.
    topic(ctx)
    assert call(ctx, "ListSubscriptionsByTopic", TopicArn=arn)["Subscriptions"] == []


def test_list_subscriptions_pages_by_100(ctx: SnsContext) -> None:
    arns = [topic(ctx, f"t{i}") for i in range(3)]
    made = set()
    for i in range(250):
        made.add(sub(ctx, arns[i % 3], "sms", f"+1555555{i:04d}"))
    seen: list[str] = []
    token: str | None = None
    while True:
        out = call(ctx, "ListSubscriptions", **({} if token is None else {"NextToken": token}))
        assert len(out["Subscriptions"]) == (100 if "NextToken" in out else 50)
        seen.extend(row["SubscriptionArn"] for row in out["Subscriptions"])
        token = out.get("NextToken")
        if token is None:
            break
    assert len(seen) == 250
    assert set(seen) == made
    by_topic = call(ctx, "ListSubscriptionsByTopic", TopicArn=arns[0])
    assert len(by_topic["Subscriptions"]) == 84
    assert "NextToken" not in by_topic
    assert all(row["TopicArn"] == arns[0] for row in by_topic["Subscriptions"])
    fails(ctx, "ListSubscriptions", NextToken="%%%")


def test_list_subscriptions_by_topic_pages_by_100(ctx: SnsContext) -> None:
    arn = topic(ctx)
    for i in range(205):
        queue(ctx, f"q{i:03d}")
        sub(ctx, arn, "sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q{i:03d}")
    first = call(ctx, "ListSubscriptionsByTopic", TopicArn=arn)
    second = call(ctx, "ListSubscriptionsByTopic", TopicArn=arn, NextToken=first["NextToken"])
    third = call(ctx, "ListSubscriptionsByTopic", TopicArn=arn, NextToken=second["NextToken"])
    assert [len(p["Subscriptions"]) for p in (first, second, third)] == [100, 100, 5]
    assert "NextToken" not in third
    endpoints = [r["Endpoint"] for p in (first, second, third) for r in p["Subscriptions"]]
    assert endpoints == [f"arn:aws:sqs:{REGION}:{ACCOUNT}:q{i:03d}" for i in range(205)]


def test_subscriptions_made_in_python_are_listed(ctx: SnsContext) -> None:
    arn = topic(ctx)
    core_topic = ctx.broker.get_topic("t")
    q = queue(ctx)
    by_queue = core_topic.subscribe(q, raw_message_delivery=True, dead_letter_queue=queue(ctx, "d"))

    def on_order(note: object) -> None:
        pass

    by_callable = core_topic.subscribe(on_order)
    rows = call(ctx, "ListSubscriptionsByTopic", TopicArn=arn)["Subscriptions"]
    assert [(r["SubscriptionArn"], r["Protocol"]) for r in rows] == [
        (by_queue.arn, "sqs"),
        (by_callable.arn, "lambda"),
    ]
    assert rows[1]["Endpoint"].startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:")
    values = sub_attributes(ctx, by_queue.arn)
    assert values["RawMessageDelivery"] == "true"
    assert json.loads(values["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:d"
    }


# --- subscription attributes --------------------------------------------------------------------


def set_sub(ctx: SnsContext, arn: str, name: str, value: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"SubscriptionArn": arn, "AttributeName": name}
    if value is not None:
        params["AttributeValue"] = value
    return call(ctx, "SetSubscriptionAttributes", **params)


def test_filter_policy_and_scope_attributes(ctx: SnsContext) -> None:
    arn = topic(ctx)
    sub_arn = sub(ctx, arn, "sqs", queue(ctx).arn)
    # The scope alone is not shown.
    set_sub(ctx, sub_arn, "FilterPolicyScope", "MessageBody")
    assert "FilterPolicyScope" not in sub_attributes(ctx, sub_arn)
    policy = '{"order": {"kind": ["big"]}}'
    set_sub(ctx, sub_arn, "FilterPolicy", policy)
    values = sub_attributes(ctx, sub_arn)
    assert (values["FilterPolicy"], values["FilterPolicyScope"]) == (policy, "MessageBody")
    core = ctx.broker.get_topic("t").subscriptions[0]
    assert core.filter_policy is not None
    assert core.filter_policy.scope == "MessageBody"
    set_sub(ctx, sub_arn, "FilterPolicy", "")
    values = sub_attributes(ctx, sub_arn)
    assert "FilterPolicy" not in values
    assert "FilterPolicyScope" not in values
    assert core.filter_policy is None


def test_subscription_attribute_errors_are_framed_per_operation(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    error = fails(
        ctx,
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=q.arn,
        Attributes={"FilterPolicy": '{"a": "b"}'},
    )
    assert error.message.startswith("Invalid parameter: Attributes Reason: FilterPolicy: ")
    sub_arn = sub(ctx, arn, "sqs", q.arn)
    with pytest.raises(MqliteError) as caught:
        set_sub(ctx, sub_arn, "FilterPolicy", '{"a": "b"}')
    assert caught.value.message.startswith("Invalid parameter: FilterPolicy: ")
    with pytest.raises(MqliteError) as caught:
        set_sub(ctx, sub_arn, "RawMessageDelivery", "yes")
    assert caught.value.message == (
        "Invalid parameter: RawMessageDelivery: Invalid value [yes]. Must be true or false."
    )
    with pytest.raises(MqliteError) as caught:
        set_sub(ctx, sub_arn, "FilterPolicyScope", "Everything")
    assert caught.value.message.startswith("Invalid parameter: FilterPolicyScope: Invalid value")
    for name in ("Protocol", "Endpoint", "Nope"):
        with pytest.raises(MqliteError) as caught:
            set_sub(ctx, sub_arn, name, "x")
        assert caught.value.message == "Invalid parameter: AttributeName"
    error = fails(
        ctx,
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue(ctx, "other").arn,
        Attributes={"Nope": "x"},
    )
    assert error.message == "Invalid parameter: AttributeName"
    with pytest.raises(MqliteError) as caught:
        set_sub(ctx, arn + ":00000000-0000-0000-0000-000000000000", "RawMessageDelivery", "true")
    assert caught.value.code == "NotFound"


def test_redrive_policy_attribute(ctx: SnsContext) -> None:
    arn = topic(ctx)
    dlq = queue(ctx, "dlq")
    sub_arn = sub(ctx, arn, "sqs", queue(ctx).arn)
    policy = json.dumps({"deadLetterTargetArn": dlq.arn})
    set_sub(ctx, sub_arn, "RedrivePolicy", policy)
    assert sub_attributes(ctx, sub_arn)["RedrivePolicy"] == policy
    assert ctx.broker.get_topic("t").subscriptions[0].dead_letter_queue is dlq
    for bad, reason in [
        ("{nope", "RedrivePolicy: failed to parse JSON."),
        (
            json.dumps({"deadLetterTargetArn": "q"}),
            "RedrivePolicy: deadLetterTargetArn is an invalid arn",
        ),
    ]:
        with pytest.raises(MqliteError) as caught:
            set_sub(ctx, sub_arn, "RedrivePolicy", bad)
        assert caught.value.message.startswith("Invalid parameter: " + reason)
    set_sub(ctx, sub_arn, "RedrivePolicy", "")
    assert "RedrivePolicy" not in sub_attributes(ctx, sub_arn)
    assert ctx.broker.get_topic("t").subscriptions[0].dead_letter_queue is None


def test_stored_subscription_attributes(ctx: SnsContext) -> None:
    arn = topic(ctx)
    sub_arn = sub(ctx, arn, "sqs", queue(ctx).arn)
    delivery = json.dumps({"healthyRetryPolicy": {"numRetries": 2}})
    set_sub(ctx, sub_arn, "DeliveryPolicy", delivery)
    assert sub_attributes(ctx, sub_arn)["DeliveryPolicy"] == delivery
    set_sub(ctx, sub_arn, "DeliveryPolicy", None)
    assert "DeliveryPolicy" not in sub_attributes(ctx, sub_arn)


def test_endpoint_subscription_attributes(ctx: SnsContext) -> None:
    arn = topic(ctx)
    mail = sub(ctx, arn, "email", "a@example.com", ReturnSubscriptionArn=True)
    hook = sub(ctx, arn, "https", "https://example.com/hook", ReturnSubscriptionArn=True)
    with pytest.raises(MqliteError) as caught:
        set_sub(ctx, mail, "RawMessageDelivery", "true")
    assert caught.value.message == (
        "Invalid parameter: Delivery protocol [email] does not support raw message delivery."
    )
    set_sub(ctx, hook, "RawMessageDelivery", "TRUE")
    policy = '{"kind": ["a"]}'
    set_sub(ctx, mail, "FilterPolicy", policy)
    with pytest.raises(MqliteError) as caught:
        set_sub(ctx, mail, "FilterPolicy", '{"kind": "a"}')
    assert caught.value.message.startswith("Invalid parameter: FilterPolicy: ")
    values = sub_attributes(ctx, mail)
    assert (values["FilterPolicy"], values["FilterPolicyScope"]) == (policy, "MessageAttributes")
    assert values["PendingConfirmation"] == "true"
    assert values["ConfirmationWasAuthenticated"] == "false"
    hook_values = sub_attributes(ctx, hook)
    assert hook_values["RawMessageDelivery"] == "true"
    assert "EffectiveDeliveryPolicy" in hook_values
    # Re-subscribing with the settings it has is the same subscription; other ones are not.
    same = sub(
        ctx,
        arn,
        "email",
        "a@example.com",
        Attributes={"FilterPolicy": '{"kind":["a"]}'},
        ReturnSubscriptionArn=True,
    )
    assert same == mail
    error = fails(
        ctx,
        "Subscribe",
        TopicArn=arn,
        Protocol="email",
        Endpoint="a@example.com",
        Attributes={"FilterPolicy": '{"kind": ["b"]}'},
    )
    assert "Subscription already exists with different attributes" in error.message


# --- publishing and fan-out ---------------------------------------------------------------------


def test_publish_delivers_the_envelope_to_a_queue(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub_arn = sub(ctx, arn, "sqs", q.arn)
    out = call(
        ctx,
        "Publish",
        TopicArn=arn,
        Message="hello",
        Subject="greeting",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"},
            "size": {"DataType": "Number", "StringValue": "12.5"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x02\x03\x04"},
            "tags": {"DataType": "String.Array", "StringValue": '["a", 1]'},
        },
    )
    assert set(out) == {"MessageId"}
    [message] = q.receive(10)
    envelope = json.loads(message.body)
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == out["MessageId"]
    assert (envelope["TopicArn"], envelope["Subject"], envelope["Message"]) == (
        arn,
        "greeting",
        "hello",
    )
    assert envelope["UnsubscribeURL"].endswith(f"SubscriptionArn={sub_arn}")
    assert envelope["MessageAttributes"] == {
        "kind": {"Type": "String", "Value": "order"},
        "size": {"Type": "Number", "Value": "12.5"},
        "blob": {"Type": "Binary", "Value": "AgME"},
        "tags": {"Type": "String.Array", "Value": '["a", 1]'},
    }
    assert message.attributes == {}


def test_raw_delivery_sends_the_bare_message_and_sqs_attributes(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub(ctx, arn, "sqs", q.arn, Attributes={"RawMessageDelivery": "true"})
    call(
        ctx,
        "Publish",
        TopicArn=arn,
        Message="bare",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"},
            # Binary values arrive as bytes or as the base64 text the wire carries.
            "blob": {"DataType": "Binary", "BinaryValue": "AgME"},
        },
    )
    [message] = q.receive(10)
    assert message.body == "bare"
    assert message.attributes["kind"].value == "order"
    assert message.attributes["blob"].value == b"\x02\x03\x04"


def test_filter_policies_on_attributes_choose_the_queues(ctx: SnsContext) -> None:
    arn = topic(ctx)
    big = queue(ctx, "big")
    sport = queue(ctx, "sport")
    everything = queue(ctx, "everything")
    sub(
        ctx,
        arn,
        "sqs",
        big.arn,
        Attributes={
            "FilterPolicy": json.dumps({"size": [{"numeric": [">", 100]}]}),
            "RawMessageDelivery": "true",
        },
    )
    sub(
        ctx,
        arn,
        "sqs",
        sport.arn,
        Attributes={"FilterPolicy": json.dumps({"sport": ["rugby"]}), "RawMessageDelivery": "true"},
    )
    sub(ctx, arn, "sqs", everything.arn, Attributes={"RawMessageDelivery": "true"})

    def publish(message: str, **attrs: dict[str, str]) -> None:
        call(ctx, "Publish", TopicArn=arn, Message=message, MessageAttributes=attrs)

    publish("small", size={"DataType": "Number", "StringValue": "5"})
    publish("large", size={"DataType": "Number", "StringValue": "500"})
    publish("match", sport={"DataType": "String.Array", "StringValue": '["golf", "rugby"]'})
    publish("none")
    assert bodies(big) == ["large"]
    assert bodies(sport) == ["match"]
    assert bodies(everything) == ["small", "large", "match", "none"]


def test_filter_policy_on_the_message_body(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub(
        ctx,
        arn,
        "sqs",
        q.arn,
        Attributes={
            "FilterPolicy": json.dumps({"order": {"kind": ["big"]}}),
            "FilterPolicyScope": "MessageBody",
            "RawMessageDelivery": "true",
        },
    )
    wanted = json.dumps({"order": {"kind": "big", "id": 1}})
    for message in (wanted, json.dumps({"order": {"kind": "small"}}), "not json"):
        call(ctx, "Publish", TopicArn=arn, Message=message)
    assert bodies(q) == [wanted]


def test_message_structure_json_sends_the_sqs_text(ctx: SnsContext) -> None:
    arn = topic(ctx)
    raw = queue(ctx, "raw")
    wrapped = queue(ctx, "wrapped")
    sub(ctx, arn, "sqs", raw.arn, Attributes={"RawMessageDelivery": "true"})
    sub(ctx, arn, "sqs", wrapped.arn)
    structure = json.dumps({"default": "for everyone", "sqs": '{"field": "value"}', "email": "x"})
    call(ctx, "Publish", TopicArn=arn, Message=structure, MessageStructure="json")
    assert bodies(raw) == ['{"field": "value"}']
    [body] = bodies(wrapped)
    assert json.loads(body)["Message"] == '{"field": "value"}'
    only_default = json.dumps({"default": "plain"})
    call(ctx, "Publish", TopicArn=arn, Message=only_default, MessageStructure="json")
    assert bodies(raw) == ["plain"]
    for bad, text in [
        ("not json", "Invalid parameter: Message Structure - JSON message body failed to parse"),
        (
            json.dumps({"sqs": "x"}),
            "Invalid parameter: Message Structure - No default entry in JSON message body",
        ),
    ]:
        error = fails(ctx, "Publish", TopicArn=arn, Message=bad, MessageStructure="json")
        assert error.message == text


def test_fifo_topic_to_fifo_queue_keeps_order_and_deduplicates(ctx: SnsContext) -> None:
    arn = topic(ctx, "orders.fifo", Attributes={"FifoTopic": "true"})
    q = queue(ctx, "orders.fifo", fifo=True)
    sub(ctx, arn, "sqs", q.arn, Attributes={"RawMessageDelivery": "true"})
    sequence: list[str] = []
    for i in range(5):
        out = call(
            ctx,
            "Publish",
            TopicArn=arn,
            Message=f"m{i}",
            MessageGroupId="g",
            MessageDeduplicationId=f"d{i}",
        )
        sequence.append(out["SequenceNumber"])
    again = call(
        ctx,
        "Publish",
        TopicArn=arn,
        Message="m0 again",
        MessageGroupId="g",
        MessageDeduplicationId="d0",
    )
    assert again["SequenceNumber"] == sequence[0]
    assert sequence == sorted(sequence)
    assert len(set(sequence)) == 5
    received = q.receive(10)
    assert [m.body for m in received] == [f"m{i}" for i in range(5)]
    assert {m.group_id for m in received} == {"g"}
    assert [m.deduplication_id for m in received] == [f"d{i}" for i in range(5)]


def test_publish_with_target_arn(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub(ctx, arn, "sqs", q.arn, Attributes={"RawMessageDelivery": "true"})
    call(ctx, "Publish", TargetArn=arn, Message="via target")
    assert bodies(q) == ["via target"]
    error = fails(
        ctx,
        "Publish",
        TargetArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/app/1",
        Message="m",
    )
    assert error.message == (
        "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified"
    )


def test_publish_to_a_phone_number_is_accepted_and_sends_nothing(ctx: SnsContext) -> None:
    assert call(ctx, "Publish", PhoneNumber="+15555550100", Message="hi")["MessageId"]
    error = fails(ctx, "Publish", PhoneNumber="call me", Message="hi")
    assert (
        error.message == "Invalid parameter: PhoneNumber Reason: call me is not valid to publish to"
    )


def test_publish_to_endpoint_subscriptions_sends_nothing_and_succeeds(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub(ctx, arn, "email", "a@example.com")
    sub(ctx, arn, "sms", "+15555550100")
    sub(ctx, arn, "sqs", q.arn, Attributes={"RawMessageDelivery": "true"})
    call(ctx, "Publish", TopicArn=arn, Message="m")
    assert bodies(q) == ["m"]


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"Message": ""}, "InvalidParameter", "Invalid parameter: Empty message"),
        ({"Message": "m", "Subject": ""}, "InvalidParameter", "Invalid parameter: Subject"),
        ({"Message": "x" * 262_145}, "InvalidParameter", "Invalid parameter: Message too long"),
        (
            {"Message": "m", "MessageDeduplicationId": "d"},
            "InvalidParameter",
            "Invalid parameter: MessageDeduplicationId Reason: The request includes"
            " MessageDeduplicationId parameter that is not valid for this topic type",
        ),
        (
            {"Message": "m", "MessageStructure": "xml"},
            "InvalidParameter",
            "Invalid parameter: MessageStructure Reason: the only supported value is 'json'",
        ),
        (
            {"Message": "m", "MessageAttributes": {"a": {"StringValue": "x"}}},
            "ValidationError",
            "1 validation error detected: Value null at 'messageAttributes.a.member.dataType'"
            " failed to satisfy constraint: Member must not be null",
        ),
        (
            {"Message": "m", "MessageAttributes": {"a": {"DataType": "Str", "StringValue": "x"}}},
            "ParameterValueInvalid",
            "The message attribute 'a' has an invalid message attribute type, the set of"
            " supported type prefixes is Binary, Number, and String.",
        ),
        (
            {"Message": "m", "MessageAttributes": {"a": {"DataType": "String"}}},
            "ParameterValueInvalid",
            "The message attribute 'a' must contain non-empty message attribute value for"
            " message attribute type 'String'.",
        ),
        (
            {
                "Message": "m",
                "MessageAttributes": {"a": {"DataType": "Binary", "StringValue": "x"}},
            },
            "ParameterValueInvalid",
            "The message attribute 'a' with type 'Binary' must use field 'Binary'.",
        ),
        (
            {
                "Message": "m",
                "MessageAttributes": {"a": {"DataType": "Number", "BinaryValue": b"1"}},
            },
            "ParameterValueInvalid",
            "The message attribute 'a' with type 'Number' must use field 'String'.",
        ),
        (
            {
                "Message": "m",
                "MessageAttributes": {".a": {"DataType": "String", "StringValue": "x"}},
            },
            "ParameterValueInvalid",
            "Invalid message attribute name starting with character '.' was found.",
        ),
    ],
)
def test_publish_errors(ctx: SnsContext, params: dict[str, Any], code: str, message: str) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub(ctx, arn, "sqs", q.arn)
    error = fails(ctx, "Publish", TopicArn=arn, **params)
    assert (error.code, error.message) == (code, message)
    assert bodies(q) == []


def test_publish_names_a_topic_once(ctx: SnsContext) -> None:
    arn = topic(ctx)
    error = fails(ctx, "Publish", Message="m")
    assert error.message == (
        "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
    )
    error = fails(ctx, "Publish", TopicArn=arn, TargetArn=arn, Message="m")
    assert error.code == "InvalidParameter"
    error = fails(ctx, "Publish", TopicArn="arn:aws:sns", Message="m")
    assert error.message == (
        "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 3"
    )


def test_fifo_publish_errors(ctx: SnsContext) -> None:
    arn = topic(ctx, "t.fifo", Attributes={"FifoTopic": "true"})
    error = fails(ctx, "Publish", TopicArn=arn, Message="m", MessageDeduplicationId="d")
    assert error.message == (
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    )
    error = fails(
        ctx, "Publish", TopicArn=arn, Message="m", MessageGroupId="g", MessageDeduplicationId="é"
    )
    assert error.message.startswith("Invalid parameter: MessageDeduplicationId Reason:")


def test_publish_batch_reports_each_entry(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub(ctx, arn, "sqs", q.arn, Attributes={"RawMessageDelivery": "true"})
    out = call(
        ctx,
        "PublishBatch",
        TopicArn=arn,
        PublishBatchRequestEntries=[
            {"Id": "a", "Message": "one"},
            {
                "Id": "b",
                "Message": "two",
                "Subject": "s",
                "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
            },
        ],
    )
    assert out["Failed"] == []
    assert [row["Id"] for row in out["Successful"]] == ["a", "b"]
    assert all(set(row) == {"Id", "MessageId"} for row in out["Successful"])
    received = q.receive(10)
    assert [m.body for m in received] == ["one", "two"]
    assert received[1].attributes["k"].value == "v"
    assert len({row["MessageId"] for row in out["Successful"]}) == 2


def test_publish_batch_to_a_fifo_topic(ctx: SnsContext) -> None:
    arn = topic(
        ctx, "t.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"}
    )
    q = queue(ctx, "q.fifo", fifo=True)
    sub(ctx, arn, "sqs", q.arn, Attributes={"RawMessageDelivery": "true"})
    entries = [{"Id": f"e{i}", "Message": f"m{i}", "MessageGroupId": "g"} for i in range(10)]
    out = call(ctx, "PublishBatch", TopicArn=arn, PublishBatchRequestEntries=entries)
    numbers = [row["SequenceNumber"] for row in out["Successful"]]
    assert numbers == sorted(numbers)
    assert [m.body for m in q.receive(10)] == [f"m{i}" for i in range(10)]


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        ([], "EmptyBatchRequest"),
        ([{"Id": str(i), "Message": "m"} for i in range(11)], "TooManyEntriesInBatchRequest"),
        ([{"Id": "a", "Message": "m"}, {"Id": "a", "Message": "n"}], "BatchEntryIdsNotDistinct"),
        ([{"Id": "a b", "Message": "m"}], "InvalidBatchEntryId"),
        ([{"Id": "x" * 81, "Message": "m"}], "InvalidBatchEntryId"),
        (
            [{"Id": "a", "Message": "x" * 200_000}, {"Id": "b", "Message": "y" * 100_000}],
            "BatchRequestTooLong",
        ),
        ([{"Id": "a", "Message": "m"}, {"Id": "b", "Message": ""}], "InvalidParameter"),
        (
            [
                {"Id": "a", "Message": "m"},
                {"Id": "b", "Message": "m", "MessageAttributes": {"x": {"StringValue": "v"}}},
            ],
            "ValidationError",
        ),
    ],
)
def test_publish_batch_whole_request_errors(
    ctx: SnsContext, entries: list[dict[str, Any]], code: str
) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    sub(ctx, arn, "sqs", q.arn)
    error = fails(ctx, "PublishBatch", TopicArn=arn, PublishBatchRequestEntries=entries)
    assert error.code == code
    if code == "ValidationError":
        assert "publishBatchRequestEntries.2.member.messageAttributes.x.member.dataType" in (
            error.message
        )
    assert bodies(q) == []


def test_a_queue_deleted_after_subscribing_fails_alone(ctx: SnsContext) -> None:
    arn = topic(ctx)
    gone = queue(ctx, "gone")
    kept = queue(ctx, "kept")
    sub(ctx, arn, "sqs", gone.arn)
    sub(ctx, arn, "sqs", kept.arn, Attributes={"RawMessageDelivery": "true"})
    ctx.broker.delete_queue("gone")
    assert call(ctx, "Publish", TopicArn=arn, Message="m")["MessageId"]
    assert bodies(kept) == ["m"]


def test_fifo_only_topic_attributes(ctx: SnsContext) -> None:
    archive = json.dumps({"MessageRetentionPeriod": "30"})
    plain = topic(ctx)
    for name, value in [("ArchivePolicy", archive), ("FifoThroughputScope", "MessageGroup")]:
        error = fails(
            ctx, "SetTopicAttributes", TopicArn=plain, AttributeName=name, AttributeValue=value
        )
        assert error.message == f"Invalid parameter: {name} is only valid for FIFO topics"
    fifo = topic(ctx, "t.fifo", Attributes={"FifoTopic": "true", "ArchivePolicy": archive})
    call(
        ctx,
        "SetTopicAttributes",
        TopicArn=fifo,
        AttributeName="FifoThroughputScope",
        AttributeValue="MessageGroup",
    )
    values = attributes(ctx, fifo)
    assert (values["ArchivePolicy"], values["FifoThroughputScope"]) == (archive, "MessageGroup")


def test_resubscribing_a_subscription_made_in_python(ctx: SnsContext) -> None:
    arn = topic(ctx)
    q = queue(ctx)
    made = ctx.broker.get_topic("t").subscribe(q, raw_message_delivery=True)
    assert sub(ctx, arn, "sqs", q.arn, Attributes={"RawMessageDelivery": "true"}) == made.arn
    error = fails(
        ctx,
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=q.arn,
        Attributes={"RawMessageDelivery": "false"},
    )
    assert "Subscription already exists with different attributes" in error.message


def test_every_operation_takes_members_that_pass_the_service_model(ctx: SnsContext) -> None:
    from mqlite.aws._shapes import check_input, operation_model

    def checked(operation: str, **params: Any) -> dict[str, Any]:
        model = operation_model("sns", operation)
        assert model is not None
        check_input(model, params)
        return call(ctx, operation, **params)

    q = queue(ctx)
    arn = checked(
        "CreateTopic",
        Name="t",
        Attributes={"DisplayName": "T"},
        Tags=[{"Key": "k", "Value": "v"}],
    )["TopicArn"]
    sub_arn = checked(
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=q.arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    mail = checked("Subscribe", TopicArn=arn, Protocol="email", Endpoint="a@example.com")[
        "SubscriptionArn"
    ]
    assert mail == "pending confirmation"
    [pending] = [
        r for r in checked("ListSubscriptions")["Subscriptions"] if r["Protocol"] == "email"
    ]
    assert pending["SubscriptionArn"] == "PendingConfirmation"
    checked(
        "Publish",
        TopicArn=arn,
        Message="m",
        MessageAttributes={"b": {"DataType": "Binary", "BinaryValue": "AgME"}},
    )
    checked("PublishBatch", TopicArn=arn, PublishBatchRequestEntries=[{"Id": "1", "Message": "n"}])
    assert bodies(q) == ["m", "n"]
    checked(
        "SetSubscriptionAttributes",
        SubscriptionArn=sub_arn,
        AttributeName="FilterPolicy",
        AttributeValue='{"a": ["b"]}',
    )
    assert (
        checked("GetSubscriptionAttributes", SubscriptionArn=sub_arn)["Attributes"]["FilterPolicy"]
        == '{"a": ["b"]}'
    )
    checked("SetTopicAttributes", TopicArn=arn, AttributeName="DisplayName", AttributeValue="U")
    assert checked("GetTopicAttributes", TopicArn=arn)["Attributes"]["DisplayName"] == "U"
    checked("TagResource", ResourceArn=arn, Tags=[{"Key": "x", "Value": "y"}])
    checked("UntagResource", ResourceArn=arn, TagKeys=["k"])
    assert checked("ListTagsForResource", ResourceArn=arn)["Tags"] == [{"Key": "x", "Value": "y"}]
    checked("AddPermission", TopicArn=arn, Label="l", AWSAccountId=["1"], ActionName=["Publish"])
    checked("RemovePermission", TopicArn=arn, Label="l")
    assert checked("ListSubscriptionsByTopic", TopicArn=arn)["Subscriptions"]
    assert checked("ListTopics")["Topics"] == [{"TopicArn": arn}]
    with pytest.raises(MqliteError):
        checked("ConfirmSubscription", TopicArn=arn, Token="ab")
    checked("Unsubscribe", SubscriptionArn=sub_arn)
    checked("DeleteTopic", TopicArn=arn)
    assert set(SNS_OPERATIONS) == {
        "AddPermission",
        "ConfirmSubscription",
        "CreateTopic",
        "DeleteTopic",
        "GetSubscriptionAttributes",
        "GetTopicAttributes",
        "ListSubscriptions",
        "ListSubscriptionsByTopic",
        "ListTagsForResource",
        "ListTopics",
        "Publish",
        "PublishBatch",
        "RemovePermission",
        "SetSubscriptionAttributes",
        "SetTopicAttributes",
        "Subscribe",
        "TagResource",
        "Unsubscribe",
        "UntagResource",
    }
