"""SNS's operations on mqlite's state: request members in, response members out.

Each operation takes the request's members as plain Python values, named as botocore's SNS
model names them (lists as lists, maps as dicts, ``BinaryValue`` as bytes or base64 text),
and returns the response members as a dict, or raises an :class:`~mqlite.MqliteError` that
the protocol layer turns into AWS's error. Nothing here knows about HTTP or the wire.

Topics and ``sqs`` subscriptions to queues of this account are the core's
:class:`~mqlite.Topic` and :class:`~mqlite.topic.Subscription`: publishing fans out exactly
as ``Topic.publish`` does. A confirmed ``http``/``https`` subscription is a core
subscription too, whose target POSTs (:mod:`mqlite.aws._http_delivery`). Subscriptions
mqlite cannot deliver to (e-mail, SMS, Lambda functions, Firehose streams, mobile
endpoints, queues of another account or that do not exist) are accepted as SNS accepts
them and kept here: listed, configured, confirmed with ConfirmSubscription where SNS needs
confirmation, and never sent anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from mqlite._sns_validation import check_bool, check_topic_name
from mqlite.broker import Broker
from mqlite.errors import (
    InvalidParameter,
    MqliteError,
    NotFound,
    ParameterValueInvalid,
    QueueDoesNotExist,
)
from mqlite.filters import FilterPolicy, FilterPolicyError
from mqlite.message import Attribute, PublishEntry, new_message_id
from mqlite.queue import Queue
from mqlite.topic import Subscription, Topic

from ._http_delivery import HttpTarget, confirmation_request
from ._regions import EndpointSubscription, Regions, SubscriptionExtras, TopicExtras

__all__ = ["SNS_OPERATIONS", "SnsContext", "confirmation_token"]

#: Page size of ListTopics, ListSubscriptions and ListSubscriptionsByTopic (fixed by SNS).
PAGE_SIZE: Final = 100
_TAG_LIMIT: Final = 50
_HTTP: Final = ("http", "https")

_PROTOCOLS: Final = (
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "sqs",
    "application",
    "lambda",
    "firehose",
)
#: Protocols whose endpoints must confirm before SNS delivers (same-account sqs/lambda need not).
_CONFIRMED_BY_ENDPOINT: Final = frozenset({"http", "https", "email", "email-json"})
_RAW_PROTOCOLS: Final = frozenset({"sqs", "http", "https", "firehose"})
_SUBSCRIPTION_ATTRIBUTES: Final = frozenset(
    {
        "DeliveryPolicy",
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
        "SubscriptionRoleArn",
        "ReplayPolicy",
    }
)
_FEEDBACK: Final = tuple(
    f"{protocol}{kind}"
    for protocol in ("Application", "Firehose", "HTTP", "Lambda", "SQS")
    for kind in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn")
)
_TOPIC_FIFO_ONLY: Final = frozenset(
    {"ContentBasedDeduplication", "FifoThroughputScope", "ArchivePolicy"}
)
_TOPIC_SETTABLE: Final = frozenset(
    {
        "DisplayName",
        "Policy",
        "DeliveryPolicy",
        "TracingConfig",
        "KmsMasterKeyId",
        "SignatureVersion",
        *_TOPIC_FIFO_ONLY,
        *_FEEDBACK,
    }
)
_JSON_ATTRIBUTES: Final = frozenset({"Policy", "DeliveryPolicy", "ArchivePolicy"})
#: Actions AddPermission may grant on a topic.
_POLICY_ACTIONS: Final = frozenset(
    {
        "GetTopicAttributes",
        "SetTopicAttributes",
        "AddPermission",
        "RemovePermission",
        "DeleteTopic",
        "Subscribe",
        "ListSubscriptionsByTopic",
        "Publish",
        "Receive",
    }
)
_DEFAULT_EFFECTIVE_DELIVERY_POLICY: Final = json.dumps(
    {
        "http": {
            "defaultHealthyRetryPolicy": {
                "minDelayTarget": 20,
                "maxDelayTarget": 20,
                "numRetries": 3,
                "numMaxDelayRetries": 0,
                "numNoDelayRetries": 0,
                "numMinDelayRetries": 0,
                "backoffFunction": "linear",
            },
            "disableSubscriptionOverrides": False,
            "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
        }
    },
    separators=(",", ":"),
)

_SQS_ARN = re.compile(r"arn:aws:sqs:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_.-]{1,80})")
_LAMBDA_ARN = re.compile(
    r"arn:aws:lambda:[a-z0-9-]+:([0-9]{12}):function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?"
)
_FIREHOSE_ARN = re.compile(r"arn:aws:firehose:[a-z0-9-]+:[0-9]{12}:deliverystream/[A-Za-z0-9_.-]+")
_APPLICATION_ARN = re.compile(r"arn:aws:sns:[a-z0-9-]+:[0-9]{12}:endpoint/[^\s/]+/[^\s/]+/[^\s/]+")
_ROLE_ARN = re.compile(r"arn:aws:iam::[0-9]{12}:role/\S+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_E164 = re.compile(r"\+?[1-9][0-9]{1,14}")
_TOKEN = re.compile(r"(?:[0-9a-f]{2})+")
_CALLABLE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


# --- errors SNS has and the core does not ---------------------------------------------------


class ValidationError(MqliteError):
    """A request member breaks the service model's constraints (e.g. a null DataType)."""

    code = "ValidationError"
    legacy_code = "ValidationError"
    http_status = 400
    sender_fault = True


class ResourceNotFound(MqliteError):
    """A tagging call names a resource that does not exist."""

    code = "ResourceNotFound"
    legacy_code = "ResourceNotFound"
    http_status = 404
    sender_fault = True


class TagLimitExceeded(MqliteError):
    """A topic would have more than 50 tags."""

    code = "TagLimitExceeded"
    legacy_code = "TagLimitExceeded"
    http_status = 400
    sender_fault = True


# --- the context ----------------------------------------------------------------------------


class SnsContext:
    """One request's view of the state: its region's broker and the shared extras."""

    def __init__(self, regions: Regions, region: str, url_base: str | None = None) -> None:
        self.regions = regions
        self.region = region
        self.broker: Broker = regions.broker(region)
        #: Where ConfirmSubscription is reached: ``https://sns.<region>.amazonaws.com``
        #: for AWS-shaped URLs, else a server's base.
        self.url_base = url_base or f"https://sns.{region}.amazonaws.com"

    @property
    def account_id(self) -> str:
        """The one account every ARN here belongs to."""
        return self.regions.account_id

    def topic(self, arn: str, member: str = "TopicArn") -> Topic:
        """The topic *arn* names in this region; ``NotFound`` if there is none.

        Raises:
            InvalidParameter: *arn* is not a topic ARN of this region.
            NotFound: no such topic.
        """
        parts = _arn_parts(arn, member)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns" or parts[3] != self.region:
            raise InvalidParameter(f"Invalid parameter: {member}")
        if parts[4] != self.account_id:
            raise NotFound("Topic does not exist")
        return self.broker.get_topic(parts[5])

    def extras(self, topic: Topic) -> TopicExtras:
        """What the wire keeps about *topic*."""
        return self.regions.topic_extras(topic)

    def queue_by_arn(self, arn: str) -> Queue | None:
        """The live queue *arn* names in this account (any region), or ``None``."""
        match = _SQS_ARN.fullmatch(arn)
        if match is None or match[2] != self.account_id:
            return None
        try:
            queue = self.regions.broker(match[1]).get_queue(match[3])
        except QueueDoesNotExist:
            return None
        return None if queue.deleted else queue

    def topic_named(self, name: str) -> Topic | None:
        """The topic called *name* in this region, or ``None``."""
        try:
            return self.broker.get_topic(name)
        except NotFound:
            return None


# --- member access --------------------------------------------------------------------------


def _missing(name: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid parameter: {name} Reason: no value for required parameter")


def _string(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise _missing(name)
    if not isinstance(value, str):
        raise InvalidParameter(f"Invalid parameter: {name}")
    return value


def _optional_string(params: Mapping[str, Any], name: str) -> str | None:
    return None if params.get(name) is None else _string(params, name)


def _map(params: Mapping[str, Any], name: str) -> dict[str, str]:
    value = params.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameter(f"Invalid parameter: {name}")
    return value


def _list(params: Mapping[str, Any], name: str) -> list[Any]:
    value = params.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidParameter(f"Invalid parameter: {name}")
    return value


def _arn_parts(arn: str, member: str) -> list[str]:
    parts = arn.split(":")
    if len(parts) < 6:
        raise InvalidParameter(
            f"Invalid parameter: {member} Reason: An ARN must have at least 6 elements, not"
            f" {len(parts)}"
        )
    return parts


def _page(items: list[Any], params: Mapping[str, Any]) -> tuple[list[Any], str | None]:
    """One page of *items* from the request's NextToken, and the next page's token."""
    token = _optional_string(params, "NextToken")
    start = 0
    if token is not None:
        try:
            start = int(base64.b64decode(token, validate=True).decode("ascii"))
        except (binascii.Error, ValueError):
            start = -1
        if start < 0:
            raise InvalidParameter("Invalid parameter: NextToken")
    end = start + PAGE_SIZE
    following = base64.b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], following


def _paged(key: str, items: list[Any], params: Mapping[str, Any]) -> dict[str, Any]:
    page, following = _page(items, params)
    out: dict[str, Any] = {key: page}
    if following is not None:
        out["NextToken"] = following
    return out


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


# --- topics ---------------------------------------------------------------------------------


def _default_policy(ctx: SnsContext, topic: Topic) -> str:
    """The access policy SNS gives a new topic: the owner may do everything."""
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Sid": "__default_statement_ID",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "SNS:GetTopicAttributes",
                        "SNS:SetTopicAttributes",
                        "SNS:AddPermission",
                        "SNS:RemovePermission",
                        "SNS:DeleteTopic",
                        "SNS:Subscribe",
                        "SNS:ListSubscriptionsByTopic",
                        "SNS:Publish",
                    ],
                    "Resource": topic.arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": ctx.account_id}},
                }
            ],
        },
        separators=(",", ":"),
    )


def _topic_attribute(name: str, value: str, *, fifo: bool, head: str) -> str:
    """*value* checked (and normalised) as topic attribute *name*."""
    if name in _TOPIC_FIFO_ONLY and not fifo:
        raise InvalidParameter(f"{head}{name} is only valid for FIFO topics")
    if name == "ContentBasedDeduplication":
        return "true" if check_bool(name, value, head) else "false"
    if name == "FifoThroughputScope" and value not in ("Topic", "MessageGroup"):
        raise InvalidParameter(
            f"{head}{name}: Invalid value [{value}]. Please use either Topic or MessageGroup"
        )
    if name == "SignatureVersion" and value not in ("1", "2"):
        raise InvalidParameter(f"{head}{name}: Invalid value [{value}]. Must be 1 or 2.")
    if name == "TracingConfig" and value not in ("PassThrough", "Active"):
        raise InvalidParameter(
            f"{head}{name}: Invalid value [{value}]. Please use either PassThrough or Active"
        )
    if name.endswith("SampleRate") and value and not (value.isdigit() and int(value) <= 100):
        raise InvalidParameter(f"{head}{name}: Invalid value [{value}]. Must be 0 to 100.")
    if name in _JSON_ATTRIBUTES and value and _json_object(value) is None:
        raise InvalidParameter(f"{head}{name}: failed to parse JSON.")
    return value


def _check_tags(raw: list[Any]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in raw:
        key = tag.get("Key") if isinstance(tag, dict) else None
        value = tag.get("Value") if isinstance(tag, dict) else None
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidParameter("Invalid parameter: Tags")
        if key in tags:
            raise InvalidParameter("Invalid parameter: Duplicated keys are not allowed.")
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise InvalidParameter(
                "Invalid parameter: Tags Reason: a tag key is 1 to 128 characters, a value at"
                " most 256"
            )
        if key.lower().startswith("aws:"):
            raise InvalidParameter(
                "Invalid parameter: Tags Reason: tag keys starting with aws: are reserved"
            )
        tags[key] = value
    if len(tags) > _TAG_LIMIT:
        raise TagLimitExceeded("Could not complete request: tag quota of per resource exceeded")
    return tags


def create_topic(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """CreateTopic: a new topic, or the existing one when the given attributes and tags match."""
    name = _string(params, "Name")
    attributes = _map(params, "Attributes")
    tags = _check_tags(_list(params, "Tags"))
    head = "Invalid parameter: Attributes Reason: "
    fifo_text = attributes.get("FifoTopic")
    fifo = check_bool("FifoTopic", fifo_text, head) if fifo_text is not None else False
    check_topic_name(name, fifo)
    wanted: dict[str, str] = {}
    for key, value in attributes.items():
        if key == "FifoTopic":
            continue
        if key not in _TOPIC_SETTABLE:
            raise InvalidParameter(f"{head}Unknown attribute: {key}")
        wanted[key] = _topic_attribute(key, value, fifo=fifo, head=head)
    protection = _optional_string(params, "DataProtectionPolicy")
    if protection and _json_object(protection) is None:
        raise InvalidParameter("Invalid parameter: DataProtectionPolicy: failed to parse JSON.")
    with ctx.regions.sns_lock:
        existing = ctx.topic_named(name)
        if existing is not None:
            extras = ctx.extras(existing)
            current = _settable_values(existing, extras)
            if any(current.get(key) != value for key, value in wanted.items()):
                raise InvalidParameter(f"{head}Topic already exists with different attributes")
            if any(extras.tags.get(key) != value for key, value in tags.items()):
                raise InvalidParameter(
                    "Invalid parameter: Tags Reason: Topic already exists with different tags"
                )
            return {"TopicArn": existing.arn}
        content_dedup = wanted.pop("ContentBasedDeduplication", "false") == "true"
        topic = ctx.broker.create_topic(name, fifo=fifo, content_based_deduplication=content_dedup)
        extras = ctx.extras(topic)
        extras.stored.update({k: v for k, v in wanted.items() if v != ""})
        if protection:
            extras.stored["DataProtectionPolicy"] = protection
        extras.tags.update(tags)
        ctx.regions.save_topic(topic)
    return {"TopicArn": topic.arn}


def _settable_values(topic: Topic, extras: TopicExtras) -> dict[str, str]:
    """The topic's settable attributes as CreateTopic compares them (as GetTopicAttributes
    shows them: an unset DisplayName is ``""``)."""
    values = {"DisplayName": "", **extras.stored}
    if topic.fifo:
        values["ContentBasedDeduplication"] = str(extras.content_based_deduplication).lower()
    return values


def delete_topic(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """DeleteTopic: idempotent, and its subscriptions go with it."""
    try:
        topic = ctx.topic(_string(params, "TopicArn"))
    except NotFound:
        return {}
    ctx.broker.delete_topic(topic.name)
    return {}


def list_topics(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListTopics: by name, 100 per page."""
    arns = [{"TopicArn": topic.arn} for topic in ctx.broker.list_topics()]
    return _paged("Topics", arns, params)


def get_topic_attributes(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """GetTopicAttributes: stored attributes, SNS's defaults and the subscription counts."""
    topic = ctx.topic(_string(params, "TopicArn"))
    extras = ctx.extras(topic)
    pending = sum(1 for e in list(extras.endpoints.values()) if e.pending)
    confirmed = len(_members(ctx, topic)) - pending
    stored = dict(extras.stored)
    stored.pop("DataProtectionPolicy", None)  # GetDataProtectionPolicy's, not an attribute
    values: dict[str, str] = {
        "Policy": stored.pop("Policy", "") or _default_policy(ctx, topic),
        "Owner": ctx.account_id,
        "SubscriptionsPending": str(pending),
        "TopicArn": topic.arn,
        "EffectiveDeliveryPolicy": stored.get("DeliveryPolicy")
        or _DEFAULT_EFFECTIVE_DELIVERY_POLICY,
        "SubscriptionsConfirmed": str(confirmed),
        "DisplayName": stored.pop("DisplayName", ""),
        "SubscriptionsDeleted": "0",
    }
    values.update(stored)
    if topic.fifo:
        values["FifoTopic"] = "true"
        values["ContentBasedDeduplication"] = str(extras.content_based_deduplication).lower()
    return {"Attributes": values}


def set_topic_attributes(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """SetTopicAttributes: one attribute; an empty value removes a stored one."""
    topic = ctx.topic(_string(params, "TopicArn"))
    name = _string(params, "AttributeName")
    value = _optional_string(params, "AttributeValue") or ""
    if name not in _TOPIC_SETTABLE:
        raise InvalidParameter("Invalid parameter: AttributeName")
    value = _topic_attribute(name, value, fifo=topic.fifo, head="Invalid parameter: ")
    extras = ctx.extras(topic)
    if name == "ContentBasedDeduplication":
        extras.content_based_deduplication = value == "true"
    elif value == "":
        extras.stored.pop(name, None)
    else:
        extras.stored[name] = value
    ctx.regions.save_topic(topic)
    return {}


# --- subscriptions --------------------------------------------------------------------------


def _callable_endpoint(ctx: SnsContext, target: object) -> str:
    name = getattr(target, "__qualname__", None) or type(target).__name__
    cleaned = _CALLABLE_NAME.sub("-", str(name)).strip("-")[:64] or "handler"
    return f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:function:{cleaned}"


def _endpoint_of(ctx: SnsContext, sub: Subscription) -> str:
    target = sub.target
    return target.arn if isinstance(target, Queue) else _callable_endpoint(ctx, target)


_Member = Subscription | EndpointSubscription


def _members(ctx: SnsContext, topic: Topic) -> list[_Member]:
    """The topic's subscriptions: the core's (oldest first), then the endpoint ones."""
    # An http(s) subscription's delivery is listed as the endpoint subscription it serves.
    members: list[_Member] = [
        s for s in topic.subscriptions if not isinstance(s.target, HttpTarget)
    ]
    members += ctx.extras(topic).endpoints.values()
    return members


def _row(ctx: SnsContext, subscription: _Member) -> dict[str, str]:
    if isinstance(subscription, EndpointSubscription):
        arn = "PendingConfirmation" if subscription.pending else subscription.arn
        protocol, endpoint = subscription.protocol, subscription.endpoint
        topic_arn = subscription.arn.rpartition(":")[0]
    else:
        arn, protocol = subscription.arn, subscription.protocol
        endpoint = _endpoint_of(ctx, subscription)
        topic_arn = subscription.topic.arn
    return {
        "SubscriptionArn": arn,
        "Owner": ctx.account_id,
        "Protocol": protocol,
        "Endpoint": endpoint,
        "TopicArn": topic_arn,
    }


def _subscriptions_page(
    ctx: SnsContext, members: list[_Member], params: Mapping[str, Any]
) -> dict[str, Any]:
    # Only the page's rows are written: listing everything costs O(subscriptions) in total.
    page, following = _page(members, params)
    out: dict[str, Any] = {"Subscriptions": [_row(ctx, m) for m in page]}
    if following is not None:
        out["NextToken"] = following
    return out


def _check_endpoint(protocol: str, endpoint: str | None, attributes: Mapping[str, str]) -> str:
    """The endpoint, checked as SNS checks it for *protocol*."""
    if protocol not in _PROTOCOLS:
        raise InvalidParameter(
            f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}"
        )
    if not endpoint:
        raise InvalidParameter("Invalid parameter: Endpoint")
    if protocol in ("http", "https"):
        if not endpoint.lower().startswith(f"{protocol}://") or len(endpoint) <= len(protocol) + 3:
            raise InvalidParameter("Invalid parameter: Endpoint must match the specified protocol")
    elif protocol in ("email", "email-json"):
        if not _EMAIL.fullmatch(endpoint):
            raise InvalidParameter("Invalid parameter: Email address")
    elif protocol == "sms":
        if not _E164.fullmatch(endpoint):
            raise InvalidParameter(f"Invalid parameter: Invalid SMS endpoint: {endpoint}")
    elif protocol == "sqs":
        if not _SQS_ARN.fullmatch(endpoint):
            raise InvalidParameter("Invalid parameter: SQS endpoint ARN")
    elif protocol == "lambda":
        if not _LAMBDA_ARN.fullmatch(endpoint):
            raise InvalidParameter("Invalid parameter: Lambda endpoint ARN")
    elif protocol == "application":
        if not _APPLICATION_ARN.fullmatch(endpoint):
            raise InvalidParameter("Invalid parameter: ApplicationEndpoint ARN")
    elif protocol == "firehose":
        if not _FIREHOSE_ARN.fullmatch(endpoint):
            raise InvalidParameter("Invalid parameter: Firehose endpoint ARN")
        if not attributes.get("SubscriptionRoleArn"):
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: SubscriptionRoleArn is required for"
                " firehose subscriptions"
            )
    return endpoint


def _needs_confirmation(ctx: SnsContext, protocol: str, endpoint: str) -> bool:
    if protocol in _CONFIRMED_BY_ENDPOINT:
        return True
    # An sqs or lambda endpoint of another account confirms with the token, as on AWS.
    match = _SQS_ARN.fullmatch(endpoint) or _LAMBDA_ARN.fullmatch(endpoint)
    if protocol == "sqs" and match is not None:
        return match[2] != ctx.account_id
    if protocol == "lambda" and match is not None:
        return match[1] != ctx.account_id
    return False


def _redrive(ctx: SnsContext, text: str, head: str) -> Queue | None:
    """The dead-letter queue a RedrivePolicy names (``None``: removed, or not a live queue)."""
    if text == "":
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InvalidParameter(f"{head}RedrivePolicy: failed to parse JSON. {error}") from None
    arn = doc.get("deadLetterTargetArn") if isinstance(doc, dict) else None
    if not isinstance(arn, str) or not _SQS_ARN.fullmatch(arn):
        raise InvalidParameter(f"{head}RedrivePolicy: deadLetterTargetArn is an invalid arn")
    # A well-formed ARN of a queue that does not exist is accepted, as SNS accepts it; what
    # would be dead-lettered is then dropped, as it would be on AWS.
    return ctx.queue_by_arn(arn)


def _stored_attribute(name: str, value: str, head: str) -> str:
    if name == "SubscriptionRoleArn" and value and not _ROLE_ARN.fullmatch(value):
        raise InvalidParameter(f"{head}SubscriptionRoleArn: invalid role arn")
    if name in ("DeliveryPolicy", "ReplayPolicy") and value and _json_object(value) is None:
        raise InvalidParameter(f"{head}{name}: failed to parse JSON.")
    return value


def subscribe(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Subscribe: idempotent per (topic, protocol, endpoint) while the attributes agree."""
    topic = ctx.topic(_string(params, "TopicArn"))
    protocol = _string(params, "Protocol")
    attributes = _map(params, "Attributes")
    endpoint = _check_endpoint(protocol, _optional_string(params, "Endpoint"), attributes)
    if topic.fifo and protocol != "sqs":
        raise InvalidParameter(
            f"Invalid parameter: Endpoint Reason: FIFO topics deliver to sqs endpoints only, not"
            f" {protocol}"
        )
    for name in attributes:
        if name not in _SUBSCRIPTION_ATTRIBUTES:
            raise InvalidParameter("Invalid parameter: AttributeName")
    queue = ctx.queue_by_arn(endpoint) if protocol == "sqs" else None
    if protocol == "sqs" and queue is None and endpoint.endswith(".fifo") and not topic.fifo:
        # What the core says of a FIFO queue it holds, said of one it does not hold too.
        raise InvalidParameter(
            "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be"
            " subscribed to standard SNS topics"
        )
    with ctx.regions.sns_lock:
        if queue is not None:
            return {"SubscriptionArn": _subscribe_queue(ctx, topic, queue, attributes).arn}
        subscription = _subscribe_endpoint(ctx, topic, protocol, endpoint, attributes)
    if subscription.pending and params.get("ReturnSubscriptionArn") is not True:
        return {"SubscriptionArn": "pending confirmation"}
    return {"SubscriptionArn": subscription.arn}


def _subscribe_queue(
    ctx: SnsContext, topic: Topic, queue: Queue, attributes: Mapping[str, str]
) -> Subscription:
    head = "Invalid parameter: Attributes Reason: "
    settings: dict[str, Any] = {}
    stored: dict[str, str] = {}
    redrive: str | None = None
    for name, value in attributes.items():
        if name == "FilterPolicy":
            settings["filter_policy"] = value
        elif name == "FilterPolicyScope":
            settings["filter_policy_scope"] = value
        elif name == "RawMessageDelivery":
            settings["raw_message_delivery"] = value
        elif name == "RedrivePolicy":
            settings["dead_letter_queue"] = _redrive(ctx, value, head)
            redrive = value
        else:
            stored[name] = _stored_attribute(name, value, head)
    subscription = topic.subscribe(queue, **settings)
    extras = ctx.regions.subscription_extras(subscription)
    if extras.subscribed:
        # The core returned the existing subscription: its own settings agree; these must too.
        differs = any(extras.stored.get(k, "") != v for k, v in stored.items()) or (
            redrive is not None and redrive != (_redrive_text(subscription, extras) or "")
        )
        if differs:
            raise InvalidParameter(f"{head}Subscription already exists with different attributes")
        return subscription
    # New (or made in Python, where there is nothing stored to compare with).
    extras.subscribed = True
    extras.stored.update({k: v for k, v in stored.items() if v})
    if redrive:
        extras.redrive_policy = redrive
        extras.redrive_queue = subscription.dead_letter_queue
    ctx.extras(topic).by_arn[subscription.arn] = subscription
    ctx.regions.save_topic(topic)
    return subscription


@attrs.frozen
class _EndpointSettings:
    filter_policy: FilterPolicy | None
    filter_policy_scope: str
    raw_message_delivery: bool
    stored: dict[str, str]


def _endpoint_settings(
    ctx: SnsContext,
    subscription: EndpointSubscription | None,
    protocol: str,
    changes: Mapping[str, str],
    *,
    subscribing: bool,
) -> _EndpointSettings:
    """The settings *changes* give an endpoint subscription, every one checked first."""
    head = "Invalid parameter: Attributes Reason: " if subscribing else "Invalid parameter: "
    policy = subscription.filter_policy if subscription is not None else None
    scope = subscription.filter_policy_scope if subscription is not None else "MessageAttributes"
    raw = subscription.raw_message_delivery if subscription is not None else False
    stored = dict(subscription.stored) if subscription is not None else {}
    try:
        if "FilterPolicyScope" in changes:
            scope = FilterPolicy.check_scope(changes["FilterPolicyScope"])
        if "FilterPolicy" in changes:
            text = changes["FilterPolicy"]
            policy = FilterPolicy(text, scope) if text else None
        elif policy is not None and policy.scope != scope:
            policy = policy.with_scope(scope)
    except FilterPolicyError as error:
        if subscribing:
            raise error.for_subscribe() from None
        raise
    if "RawMessageDelivery" in changes:
        if protocol not in _RAW_PROTOCOLS:
            raise InvalidParameter(
                f"{head}Delivery protocol [{protocol}] does not support raw message delivery."
            )
        raw = check_bool("RawMessageDelivery", changes["RawMessageDelivery"], head)
    for name, value in changes.items():
        if name in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery"):
            continue
        if name == "RedrivePolicy":
            _redrive(ctx, value, head)
        else:
            _stored_attribute(name, value, head)
        if value:
            stored[name] = value
        else:
            stored.pop(name, None)
    return _EndpointSettings(policy, scope, raw, stored)


def _apply(subscription: EndpointSubscription, settings: _EndpointSettings) -> None:
    subscription.filter_policy = settings.filter_policy
    subscription.filter_policy_scope = settings.filter_policy_scope
    subscription.raw_message_delivery = settings.raw_message_delivery
    subscription.stored = settings.stored


def _subscribe_endpoint(
    ctx: SnsContext, topic: Topic, protocol: str, endpoint: str, attributes: Mapping[str, str]
) -> EndpointSubscription:
    extras = ctx.extras(topic)
    existing = extras.endpoints.get(extras.endpoint_keys.get((protocol, endpoint), ""))
    if existing is not None:
        wanted = _endpoint_settings(ctx, existing, protocol, attributes, subscribing=True)
        if wanted != _endpoint_settings(ctx, existing, protocol, {}, subscribing=True):
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: Subscription already exists with"
                " different attributes"
            )
        return existing
    settings = _endpoint_settings(ctx, None, protocol, attributes, subscribing=True)
    subscription = EndpointSubscription(
        arn=f"{topic.arn}:{uuid.uuid4()}",
        protocol=protocol,
        endpoint=endpoint,
        pending=_needs_confirmation(ctx, protocol, endpoint),
        token=secrets.token_hex(144),
    )
    _apply(subscription, settings)
    extras.endpoints[subscription.arn] = subscription
    extras.endpoint_keys[protocol, endpoint] = subscription.arn
    if protocol in _HTTP:
        headers, body = confirmation_request(
            topic_arn=topic.arn,
            token=subscription.token,
            region=ctx.region,
            url_base=ctx.url_base,
            now_ms=int(topic.clock.time() * 1000),
        )
        ctx.regions.http_sender.post(endpoint, headers, body)
    ctx.regions.save_topic(topic)
    return subscription


def confirmation_token(regions: Regions, subscription_arn: str) -> str | None:
    """The token ConfirmSubscription takes for a subscription, or ``None`` if there is none.

    SNS sends it to the endpoint (an e-mail, an HTTP request); mqlite sends nothing, so
    this is how a test reads it.
    """
    parts = subscription_arn.split(":")
    if len(parts) != 7:
        return None
    try:
        topic = regions.broker(parts[3]).get_topic(parts[5])
    except NotFound:
        return None
    found = regions.topic_extras(topic).endpoints.get(subscription_arn)
    return found.token if found is not None else None


def confirm_subscription(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ConfirmSubscription: a pending subscription's token confirms it (idempotent)."""
    token = _string(params, "Token")
    if not _TOKEN.fullmatch(token):
        raise InvalidParameter("Invalid token")
    try:
        topic = ctx.topic(_string(params, "TopicArn"))
    except NotFound:
        raise InvalidParameter("Invalid parameter: Token") from None
    with ctx.regions.sns_lock:
        for subscription in ctx.extras(topic).endpoints.values():
            if secrets.compare_digest(subscription.token, token):
                subscription.pending = False
                ctx.regions.start_delivery(topic, subscription)
                ctx.regions.save_topic(topic)
                return {"SubscriptionArn": subscription.arn}
    raise InvalidParameter("Invalid parameter: Token")


def _subscription_parts(arn: str) -> list[str]:
    parts = _arn_parts(arn, "SubscriptionArn")
    if len(parts) == 6:
        raise InvalidParameter("Invalid parameter: SubscriptionId")
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "sns":
        raise InvalidParameter("Invalid parameter: SubscriptionArn")
    return parts


def _find(ctx: SnsContext, arn: str) -> tuple[Topic, Subscription | EndpointSubscription] | None:
    parts = _subscription_parts(arn)
    if parts[3] != ctx.region or parts[4] != ctx.account_id:
        return None
    topic = ctx.topic_named(parts[5])
    if topic is None:
        return None
    extras = ctx.extras(topic)
    endpoint = extras.endpoints.get(arn)
    if endpoint is not None:
        return topic, endpoint
    subscription = extras.by_arn.get(arn)
    if subscription is None or not subscription.active:
        # Made in Python, or not there: one scan indexes every subscription of the topic.
        for each in topic.subscriptions:
            extras.by_arn[each.arn] = each
        subscription = extras.by_arn.get(arn)
    if subscription is None or not subscription.active or subscription.topic is not topic:
        return None
    return topic, subscription


def _existing(ctx: SnsContext, params: Mapping[str, Any]) -> tuple[Topic, Any]:
    found = _find(ctx, _string(params, "SubscriptionArn"))
    if found is None:
        raise NotFound("Subscription does not exist")
    return found


def unsubscribe(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Unsubscribe: idempotent."""
    found = _find(ctx, _string(params, "SubscriptionArn"))
    if found is None:
        return {}
    topic, subscription = found
    if isinstance(subscription, EndpointSubscription):
        extras = ctx.extras(topic)
        with ctx.regions.sns_lock:
            extras.endpoints.pop(subscription.arn, None)
            extras.endpoint_keys.pop((subscription.protocol, subscription.endpoint), None)
            if subscription.delivery is not None:
                subscription.delivery.unsubscribe()
                subscription.delivery = None
    else:
        subscription.unsubscribe()
    ctx.regions.save_topic(topic)
    return {}


def list_subscriptions(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListSubscriptions: every subscription in the region, by topic, 100 per page."""
    members = [m for topic in ctx.broker.list_topics() for m in _members(ctx, topic)]
    return _subscriptions_page(ctx, members, params)


def list_subscriptions_by_topic(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListSubscriptionsByTopic: 100 per page."""
    topic = ctx.topic(_string(params, "TopicArn"))
    return _subscriptions_page(ctx, _members(ctx, topic), params)


def _redrive_text(subscription: Subscription, extras: SubscriptionExtras) -> str | None:
    """The RedrivePolicy as set, or one written for a dead-letter queue set in Python."""
    dlq = subscription.dead_letter_queue
    if extras.redrive_policy is not None and dlq is extras.redrive_queue:
        return extras.redrive_policy
    if dlq is None:
        return None
    return json.dumps({"deadLetterTargetArn": dlq.arn}, separators=(",", ":"))


def get_subscription_attributes(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """GetSubscriptionAttributes."""
    topic, subscription = _existing(ctx, params)
    values: dict[str, str] = {
        "ConfirmationWasAuthenticated": "true",
        "Owner": ctx.account_id,
        "SubscriptionArn": subscription.arn,
        "SubscriptionPrincipal": f"arn:aws:iam::{ctx.account_id}:root",
        "TopicArn": topic.arn,
    }
    policy: FilterPolicy | None
    if isinstance(subscription, EndpointSubscription):
        values["Endpoint"] = subscription.endpoint
        values["Protocol"] = subscription.protocol
        values["PendingConfirmation"] = str(subscription.pending).lower()
        if subscription.pending:
            values["ConfirmationWasAuthenticated"] = "false"
        policy = subscription.filter_policy
        scope = subscription.filter_policy_scope
        raw = subscription.raw_message_delivery
        values.update(subscription.stored)
        if subscription.protocol in ("http", "https"):
            values["EffectiveDeliveryPolicy"] = (
                subscription.stored.get("DeliveryPolicy") or _DEFAULT_EFFECTIVE_DELIVERY_POLICY
            )
    else:
        extras = ctx.regions.subscription_extras(subscription)
        values["Endpoint"] = _endpoint_of(ctx, subscription)
        values["Protocol"] = subscription.protocol
        values["PendingConfirmation"] = "false"
        policy = subscription.filter_policy
        scope = subscription.filter_policy_scope
        raw = subscription.raw_message_delivery
        values.update(extras.stored)
        redrive = _redrive_text(subscription, extras)
        if redrive is not None:
            values["RedrivePolicy"] = redrive
    values["RawMessageDelivery"] = str(raw).lower()
    if policy is not None:
        # The scope is shown only while there is a policy, as SNS shows it.
        values["FilterPolicy"] = policy.policy_json
        values["FilterPolicyScope"] = scope
    return {"Attributes": dict(sorted(values.items()))}


def set_subscription_attributes(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """SetSubscriptionAttributes: one attribute, checked before anything changes."""
    _topic, subscription = _existing(ctx, params)
    name = _string(params, "AttributeName")
    value = _optional_string(params, "AttributeValue") or ""
    if name not in _SUBSCRIPTION_ATTRIBUTES:
        raise InvalidParameter("Invalid parameter: AttributeName")
    if isinstance(subscription, EndpointSubscription):
        with ctx.regions.sns_lock:
            settings = _endpoint_settings(
                ctx, subscription, subscription.protocol, {name: value}, subscribing=False
            )
            _apply(subscription, settings)
            if subscription.delivery is not None:
                subscription.delivery.configure(
                    filter_policy=subscription.filter_policy,
                    filter_policy_scope=subscription.filter_policy_scope,
                )
        ctx.regions.save_topic(_topic)
        return {}
    if name == "FilterPolicy":
        subscription.configure(filter_policy=value or None)
    elif name == "FilterPolicyScope":
        subscription.configure(filter_policy_scope=value)
    elif name == "RawMessageDelivery":
        subscription.configure(raw_message_delivery=value)
    elif name == "RedrivePolicy":
        dlq = _redrive(ctx, value, "Invalid parameter: ")
        subscription.configure(dead_letter_queue=dlq)
        extras = ctx.regions.subscription_extras(subscription)
        extras.redrive_policy = value or None
        extras.redrive_queue = dlq
    else:
        value = _stored_attribute(name, value, "Invalid parameter: ")
        stored = ctx.regions.subscription_extras(subscription).stored
        if value:
            stored[name] = value
        else:
            stored.pop(name, None)
    ctx.regions.save_topic(_topic)
    return {}


# --- publishing -----------------------------------------------------------------------------


def _blob(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ParameterValueInvalid("A BinaryValue is not valid base64.") from None
    raise ParameterValueInvalid("A BinaryValue must be bytes.")


def _message_attributes(raw: object, where: str) -> dict[str, Attribute] | None:
    """MessageAttributes as the core takes them; the core checks names, types and values."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidParameter("Invalid parameter: MessageAttributes")
    out: dict[str, Attribute] = {}
    for name, value in raw.items():
        if not isinstance(value, dict):
            raise InvalidParameter(f"Invalid parameter: MessageAttributes.{name}")
        data_type = value.get("DataType")
        if data_type is None:
            raise ValidationError(
                f"1 validation error detected: Value null at '{where}.{name}.member.dataType'"
                " failed to satisfy constraint: Member must not be null"
            )
        text = value.get("StringValue")
        blob = value.get("BinaryValue")
        chosen: str | bytes
        # The field the type does not use is passed on as it is, for the core's error.
        if isinstance(data_type, str) and data_type.startswith("Binary"):
            chosen = _blob(blob) if blob is not None else (text if text is not None else b"")
        else:
            chosen = text if text is not None else (_blob(blob) if blob is not None else "")
        out[name] = Attribute(data_type, chosen)
    return out


def _deduplication_id(topic: Topic, extras: TopicExtras, message: object, given: object) -> object:
    """The dedup id to publish with: content-based by the topic's *current* setting."""
    if not topic.fifo or given is not None or not isinstance(message, str):
        return given
    if extras.content_based_deduplication:
        return hashlib.sha256(message.encode("utf-8", "surrogatepass")).hexdigest()
    if topic.content_based_deduplication:  # turned off with SetTopicAttributes
        raise InvalidParameter(
            "Invalid parameter: The topic should either have ContentBasedDeduplication enabled"
            " or MessageDeduplicationId provided explicitly"
        )
    return None


def publish(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Publish to a topic (TopicArn or TargetArn); a phone number is accepted, not texted."""
    topic_arn = _optional_string(params, "TopicArn")
    target_arn = _optional_string(params, "TargetArn")
    phone = _optional_string(params, "PhoneNumber")
    given = [x for x in (topic_arn, target_arn, phone) if x is not None]
    if not given:
        raise InvalidParameter(
            "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
        )
    if len(given) > 1:
        raise InvalidParameter(
            "Invalid parameter: TopicArn Reason: Only one of TopicArn, TargetArn or PhoneNumber"
            " can be set"
        )
    message = params.get("Message")
    if phone is not None:
        if not _E164.fullmatch(phone):
            raise InvalidParameter(
                f"Invalid parameter: PhoneNumber Reason: {phone} is not valid to publish to"
            )
        if not isinstance(message, str) or message == "":
            raise InvalidParameter("Invalid parameter: Empty message")
        return {"MessageId": new_message_id()}
    if target_arn is not None and ":endpoint/" in target_arn:
        raise InvalidParameter(
            "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified"
        )
    topic = ctx.topic(
        topic_arn or target_arn or "", "TopicArn" if topic_arn is not None else "TargetArn"
    )
    attributes = _message_attributes(params.get("MessageAttributes"), "messageAttributes")
    result = topic.publish(
        message,  # type: ignore[arg-type]  # the core checks it
        subject=params.get("Subject"),
        attributes=attributes,
        group_id=params.get("MessageGroupId"),
        deduplication_id=_deduplication_id(  # type: ignore[arg-type]
            topic, ctx.extras(topic), message, params.get("MessageDeduplicationId")
        ),
        message_structure=params.get("MessageStructure"),
    )
    out: dict[str, Any] = {"MessageId": result.message_id}
    if result.sequence_number is not None:
        out["SequenceNumber"] = result.sequence_number
    return out


def publish_batch(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """PublishBatch: every entry is checked before any is published."""
    topic = ctx.topic(_string(params, "TopicArn"))
    extras = ctx.extras(topic)
    entries: list[PublishEntry] = []
    for index, entry in enumerate(_list(params, "PublishBatchRequestEntries"), start=1):
        if not isinstance(entry, dict):
            raise InvalidParameter("Invalid parameter: PublishBatchRequestEntries")
        where = f"publishBatchRequestEntries.{index}.member.messageAttributes"
        message = entry.get("Message")
        entries.append(
            PublishEntry(
                entry.get("Id"),  # type: ignore[arg-type]  # the core checks them
                message,  # type: ignore[arg-type]
                subject=entry.get("Subject"),
                attributes=_message_attributes(entry.get("MessageAttributes"), where),
                group_id=entry.get("MessageGroupId"),
                deduplication_id=_deduplication_id(  # type: ignore[arg-type]
                    topic, extras, message, entry.get("MessageDeduplicationId")
                ),
                message_structure=entry.get("MessageStructure"),
            )
        )
    result = topic.publish_batch(entries)
    successful = []
    for r in result.successful:
        row = {"Id": r.id, "MessageId": r.message_id}
        if r.sequence_number is not None:
            row["SequenceNumber"] = r.sequence_number
        successful.append(row)
    failed = [
        {"Id": f.id, "Code": f.code, "Message": f.message, "SenderFault": f.sender_fault}
        for f in result.failed
    ]
    return {"Successful": successful, "Failed": failed}


# --- tags and permissions -------------------------------------------------------------------


def _tagged(ctx: SnsContext, params: Mapping[str, Any]) -> Topic:
    arn = _string(params, "ResourceArn")
    parts = _arn_parts(arn, "ResourceArn")
    ours = (parts[0], parts[2], parts[3], parts[4]) == ("arn", "sns", ctx.region, ctx.account_id)
    topic = ctx.topic_named(parts[5]) if ours and len(parts) == 6 else None
    if topic is not None:
        return topic
    raise ResourceNotFound("Resource does not exist")


def tag_resource(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """TagResource: add or overwrite tags on a topic (at most 50)."""
    topic = _tagged(ctx, params)
    tags = _check_tags(_list(params, "Tags"))
    extras = ctx.extras(topic)
    if len(extras.tags.keys() | tags.keys()) > _TAG_LIMIT:
        raise TagLimitExceeded("Could not complete request: tag quota of per resource exceeded")
    extras.tags.update(tags)
    ctx.regions.save_topic(topic)
    return {}


def untag_resource(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """UntagResource: keys that are not there are ignored."""
    topic = _tagged(ctx, params)
    tags = ctx.extras(topic).tags
    for key in _list(params, "TagKeys"):
        tags.pop(key, None)
    ctx.regions.save_topic(topic)
    return {}


def list_tags_for_resource(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListTagsForResource."""
    tags = ctx.extras(_tagged(ctx, params)).tags
    return {"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}


def add_permission(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """AddPermission: a statement in the topic's stored policy (mqlite authorises nothing)."""
    topic = ctx.topic(_string(params, "TopicArn"))
    label = _string(params, "Label")
    accounts = _list(params, "AWSAccountId")
    actions = _list(params, "ActionName")
    if not accounts:
        raise _missing("AWSAccountId")
    if not actions:
        raise _missing("ActionName")
    if any(action not in _POLICY_ACTIONS for action in actions):
        raise InvalidParameter("Invalid parameter: Policy statement action out of service scope!")
    extras = ctx.extras(topic)
    policy = _json_object(extras.stored.get("Policy") or _default_policy(ctx, topic)) or {}
    statements = policy.setdefault("Statement", [])
    if any(isinstance(s, dict) and s.get("Sid") == label for s in statements):
        raise InvalidParameter("Invalid parameter: Statement already exists")
    principals = [f"arn:aws:iam::{account}:root" for account in accounts]
    names = [f"SNS:{action}" for action in actions]
    statements.append(
        {
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
            "Action": names[0] if len(names) == 1 else names,
            "Resource": topic.arn,
        }
    )
    extras.stored["Policy"] = json.dumps(policy, separators=(",", ":"))
    ctx.regions.save_topic(topic)
    return {}


def remove_permission(ctx: SnsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """RemovePermission: removing a label that is not there changes nothing."""
    topic = ctx.topic(_string(params, "TopicArn"))
    label = _string(params, "Label")
    extras = ctx.extras(topic)
    policy = _json_object(extras.stored.get("Policy") or _default_policy(ctx, topic)) or {}
    statements = policy.get("Statement", [])
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == label)]
    if len(kept) != len(statements):
        policy["Statement"] = kept
        extras.stored["Policy"] = json.dumps(policy, separators=(",", ":"))
        ctx.regions.save_topic(topic)
    return {}


Operation = Callable[[SnsContext, Mapping[str, Any]], dict[str, Any]]

#: The SNS actions on topics and subscriptions, by API name. SMS, mobile push and data
#: protection actions are not here: the protocol layer answers them.
SNS_OPERATIONS: dict[str, Operation] = {
    "AddPermission": add_permission,
    "ConfirmSubscription": confirm_subscription,
    "CreateTopic": create_topic,
    "DeleteTopic": delete_topic,
    "GetSubscriptionAttributes": get_subscription_attributes,
    "GetTopicAttributes": get_topic_attributes,
    "ListSubscriptions": list_subscriptions,
    "ListSubscriptionsByTopic": list_subscriptions_by_topic,
    "ListTagsForResource": list_tags_for_resource,
    "ListTopics": list_topics,
    "Publish": publish,
    "PublishBatch": publish_batch,
    "RemovePermission": remove_permission,
    "SetSubscriptionAttributes": set_subscription_attributes,
    "SetTopicAttributes": set_topic_attributes,
    "Subscribe": subscribe,
    "TagResource": tag_resource,
    "Unsubscribe": unsubscribe,
    "UntagResource": untag_resource,
}
