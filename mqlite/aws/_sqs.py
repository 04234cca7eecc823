"""SQS's operations on mqlite's state: request members in, response members out.

Each operation takes the request's members as plain Python values (what the JSON protocol
carries, or what the query protocol decodes to) and returns the response members as a dict,
or raises an :class:`~mqlite.MqliteError` that the protocol layer turns into AWS's error.
Nothing here knows about HTTP or about how members are spelled on the wire.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from mqlite._redrive import decode_handle
from mqlite.broker import Broker
from mqlite.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
    MissingParameter,
    MqliteError,
    OverLimit,
    QueueDoesNotExist,
    QueueNameExists,
    ResourceNotFound,
)
from mqlite.message import (
    Attribute,
    DeleteEntry,
    Message,
    SendEntry,
    VisibilityEntry,
    md5_of_attributes,
)
from mqlite.queue import Queue

from ._regions import QueueExtras, ReceiveAttempt, Regions

__all__ = ["SQS_OPERATIONS", "SqsContext", "UnknownOperation"]

#: SenderId reported for every message: mqlite has one anonymous sender.
SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"

_NUMERIC = {
    "VisibilityTimeout": ("visibility_timeout", 0, 43_200),
    "DelaySeconds": ("delay", 0, 900),
    "MessageRetentionPeriod": ("retention", 60, 1_209_600),
    "MaximumMessageSize": ("max_message_size", 1_024, 1_048_576),
    "ReceiveMessageWaitTimeSeconds": ("receive_wait", 0, 20),
}
_FIFO_ONLY = ("ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
_STORED = ("Policy", "RedriveAllowPolicy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds")
_READ_ONLY = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
_SETTABLE = (*_NUMERIC, *_FIFO_ONLY, *_STORED, "RedrivePolicy", "SqsManagedSseEnabled")
_ALL_QUEUE_ATTRIBUTES = (*_READ_ONLY, *_SETTABLE, "FifoQueue")
_SYSTEM_ATTRIBUTES = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "MessageGroupId",
    "MessageDeduplicationId",
    "SequenceNumber",
    "DeadLetterQueueSourceArn",
    "AWSTraceHeader",
)
_INTEGER = re.compile(r"-?[0-9]+")
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ARN = re.compile(r"arn:aws:sqs:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_.-]+)")
_TAG_LIMIT = 50
_ATTEMPT_ID = re.compile(r"[!-~]{1,128}")
#: How long a FIFO receive can be retried with its ReceiveRequestAttemptId.
_ATTEMPT_WINDOW = 300.0
_DEFAULT_LIST_LIMIT = 1_000


class UnknownOperation(MqliteError):
    """The request names an action SQS does not have."""

    code = "UnsupportedOperation"
    legacy_code = "AWS.SimpleQueueService.UnsupportedOperation"
    http_status = 400
    sender_fault = True


class SqsContext:
    """One request's view of the state: its region's broker, and how URLs are written."""

    def __init__(self, regions: Regions, region: str, url_base: str | None = None) -> None:
        self.regions = regions
        self.region = region
        self.broker: Broker = regions.broker(region)
        #: ``https://sqs.<region>.amazonaws.com`` for AWS-shaped URLs, else a server's base.
        self.url_base = url_base or f"https://sqs.{region}.amazonaws.com"

    def url(self, queue: Queue) -> str:
        """The queue's URL as this endpoint writes it."""
        return f"{self.url_base}/{self.regions.account_id}/{queue.name}"

    def queue(self, params: Mapping[str, Any], member: str = "QueueUrl") -> Queue:
        """The queue a request's URL names; ``QueueDoesNotExist`` if there is none."""
        url = _string(params, member)
        path = urlsplit(url).path if "://" in url else url
        parts = [p for p in path.split("/") if p]
        if not parts or (len(parts) >= 2 and parts[-2] != self.regions.account_id):
            raise QueueDoesNotExist("The specified queue does not exist.")
        return self.broker.get_queue(parts[-1])

    def queue_by_arn(self, arn: str) -> Queue | None:
        """The queue *arn* names in this account and region, or ``None``."""
        match = _ARN.fullmatch(arn)
        if match is None or match[2] != self.regions.account_id:
            return None
        try:
            queue = self.regions.broker(match[1]).get_queue(match[3])
        except QueueDoesNotExist:
            return None
        return queue


# --- member access ------------------------------------------------------------------------------


def _missing(name: str) -> MissingParameter:
    return MissingParameter(f"The request must contain the parameter {name}.")


def _string(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise _missing(name)
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Value for parameter {name} must be a string.")
    return value


def _optional_string(params: Mapping[str, Any], name: str) -> str | None:
    return None if params.get(name) is None else _string(params, name)


def _optional_int(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        value = int(value)
    if type(value) is not int:
        raise InvalidParameterValue(f"Value {value} for parameter {name} is invalid.")
    return value


def _list(params: Mapping[str, Any], name: str) -> list[Any]:
    value = params.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidParameterValue(f"Value for parameter {name} must be a list.")
    return value


def _map(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = params.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidParameterValue(f"Value for parameter {name} must be a map.")
    return value


def _blob(value: object, name: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Value for parameter {name} must be base64 text.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterValue(f"Value for parameter {name} is not valid base64.") from None


# --- attributes in and out ----------------------------------------------------------------------


def _message_attributes(params: Mapping[str, Any], member: str) -> dict[str, Attribute] | None:
    raw = _map(params, member)
    if not raw:
        return None
    out: dict[str, Attribute] = {}
    for name, value in raw.items():
        if not isinstance(value, dict):
            raise InvalidParameterValue(f"Message (user) attribute '{name}' is malformed.")
        data_type = value.get("DataType")
        if not isinstance(data_type, str) or not data_type:
            raise InvalidParameterValue(
                f"The message attribute '{name}' must contain non-empty message attribute type."
            )
        if value.get("StringListValues") or value.get("BinaryListValues"):
            raise InvalidParameterValue(
                f"Message attribute '{name}': list values are reserved and not supported."
            )
        if data_type.startswith("Binary"):
            blob = value.get("BinaryValue")
            if blob is None:
                raise InvalidParameterValue(
                    f"Message (user) attribute '{name}' must contain a non-empty value of type"
                    " 'Binary'."
                )
            out[name] = Attribute(data_type, _blob(blob, f"{name}.BinaryValue"))
        else:
            text = value.get("StringValue")
            if not isinstance(text, str):
                kind = data_type.split(".", 1)[0]
                raise InvalidParameterValue(
                    f"Message (user) attribute '{name}' must contain a non-empty value of type"
                    f" '{kind}'."
                )
            out[name] = Attribute(data_type, text)
    return out


def _attribute_out(attr: Attribute) -> dict[str, Any]:
    if isinstance(attr.value, bytes):
        return {"DataType": attr.data_type, "BinaryValue": attr.value}
    return {"DataType": attr.data_type, "StringValue": attr.value}


def _system_attributes(params: Mapping[str, Any], member: str) -> dict[str, Attribute] | None:
    raw = _message_attributes(params, member)
    if raw is None:
        return None
    for name, attr in raw.items():
        if name != "AWSTraceHeader":
            raise InvalidParameterValue(
                f"Message system attribute name '{name}' is invalid. Supported: AWSTraceHeader."
            )
        if attr.data_type != "String" or not attr.value:
            raise InvalidParameterValue(
                "Message system attribute 'AWSTraceHeader' must be a non-empty String."
            )
    return raw


def _wanted(names: list[Any]) -> Callable[[str], bool]:
    """A test for which message attributes a ReceiveMessage asked for."""
    exact: set[str] = set()
    prefixes: list[str] = []
    for name in names:
        if not isinstance(name, str):
            continue
        if name in ("All", ".*", "*"):
            return lambda _n: True
        if name.endswith(".*"):
            prefixes.append(name[:-2])
        else:
            exact.add(name)
    return lambda n: n in exact or any(n.startswith(p) for p in prefixes)


# --- queue attributes ---------------------------------------------------------------------------


def _bool_text(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    return lowered == "true"


def _settings_from(
    ctx: SqsContext, attributes: Mapping[str, Any], *, fifo: bool, queue: Queue | None
) -> tuple[dict[str, Any], dict[str, str], bool | None]:
    """Queue settings, stored-only attributes and SqsManagedSseEnabled from wire attributes."""
    settings: dict[str, Any] = {}
    stored: dict[str, str] = {}
    sse: bool | None = None
    for name, value in attributes.items():
        if not isinstance(value, str):
            raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
        if name in _NUMERIC:
            key, low, high = _NUMERIC[name]
            if not _INTEGER.fullmatch(value) or not low <= int(value) <= high:
                raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
            settings[key] = int(value)
        elif name == "FifoQueue":
            if not fifo:
                raise InvalidAttributeName(f"Unknown Attribute {name}.")
            if not _bool_text(name, value):
                raise InvalidAttributeValue(
                    "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is"
                    " not supported."
                )
        elif name in _FIFO_ONLY:
            if not fifo:
                if name == "ContentBasedDeduplication":
                    raise InvalidAttributeName(f"Unknown Attribute {name}.")
                raise InvalidAttributeName(
                    f"You can specify the {name} only when FifoQueue is set to true."
                )
            if name == "ContentBasedDeduplication":
                settings["content_based_deduplication"] = _bool_text(name, value)
            elif name == "DeduplicationScope":
                settings["deduplication_scope"] = value
            else:
                settings["fifo_throughput_limit"] = value
        elif name == "RedrivePolicy":
            settings.update(_redrive_policy(ctx, value, fifo=fifo, queue=queue))
        elif name == "RedriveAllowPolicy":
            stored[name] = _redrive_allow_policy(value)
        elif name == "KmsDataKeyReusePeriodSeconds":
            if value and (not _INTEGER.fullmatch(value) or not 60 <= int(value) <= 86_400):
                raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
            stored[name] = value
        elif name == "SqsManagedSseEnabled":
            sse = _bool_text(name, value)
        elif name in _STORED:
            if name == "Policy" and value:
                try:
                    json.loads(value)
                except ValueError:
                    raise InvalidAttributeValue("Invalid value for the parameter Policy.") from None
            stored[name] = value
        else:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    if sse and stored.get("KmsMasterKeyId"):
        raise InvalidAttributeName(
            "You can use one type of server-side encryption (SSE) at one time. You can either"
            " enable KMS SSE or SQS SSE."
        )
    return settings, stored, sse


def _redrive_policy(
    ctx: SqsContext, text: str, *, fifo: bool, queue: Queue | None
) -> dict[str, Any]:
    if text == "":
        return {"dead_letter_queue": None}

    def invalid(reason: str) -> InvalidParameterValue:
        return InvalidParameterValue(
            f"Value {text} for parameter RedrivePolicy is invalid. Reason: {reason}"
        )

    try:
        policy = json.loads(text)
    except ValueError:
        raise invalid("Redrive policy is not a valid JSON map.") from None
    if not isinstance(policy, dict):
        raise invalid("Redrive policy is not a valid JSON map.")
    for key in ("deadLetterTargetArn", "maxReceiveCount"):
        if key not in policy:
            raise InvalidParameterValue(f"The required parameter '{key}' is missing")
    count = policy["maxReceiveCount"]
    if isinstance(count, str) and _INTEGER.fullmatch(count):
        count = int(count)
    if type(count) is not int or not 1 <= count <= 1_000:
        raise invalid(
            f"Invalid value for maxReceiveCount: {policy['maxReceiveCount']}, valid values are"
            " from 1 to 1000 both inclusive."
        )
    arn = policy["deadLetterTargetArn"]
    target = ctx.queue_by_arn(arn) if isinstance(arn, str) else None
    if target is None or target.deleted:
        raise invalid("Dead letter target does not exist.")
    if target.fifo != fifo:
        raise invalid("Dead-letter queue must be same type of queue as the source.")
    allow = ctx.regions.extras(target).stored.get("RedriveAllowPolicy")
    if allow and queue is not None and not _allows(allow, queue.arn):
        raise invalid(
            f"Queue {queue.arn} does not have permission to use {target.arn} as a dead letter"
            " queue."
        )
    return {"dead_letter_queue": target, "max_receive_count": count}


def _allows(policy_text: str, source_arn: str) -> bool:
    policy = json.loads(policy_text)
    permission = policy.get("redrivePermission")
    if permission == "denyAll":
        return False
    if permission == "byQueue":
        return source_arn in policy.get("sourceQueueArns", [])
    return True


def _redrive_allow_policy(text: str) -> str:
    if text == "":
        return text
    invalid = InvalidAttributeValue("Invalid value for the parameter RedriveAllowPolicy.")
    try:
        policy = json.loads(text)
    except ValueError:
        raise invalid from None
    if not isinstance(policy, dict):
        raise invalid
    permission = policy.get("redrivePermission")
    arns = policy.get("sourceQueueArns")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise invalid
    if permission == "byQueue":
        if not isinstance(arns, list) or not 1 <= len(arns) <= 10:
            raise invalid
    elif arns is not None:
        raise invalid
    return text


def _queue_attributes(ctx: SqsContext, queue: Queue, names: list[Any]) -> dict[str, str]:
    wanted: set[str] = set()
    for name in names:
        if name == "All":
            wanted.update(_ALL_QUEUE_ATTRIBUTES)
        elif name in _ALL_QUEUE_ATTRIBUTES:
            wanted.add(name)
        else:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    if not wanted:
        return {}
    extras = ctx.regions.extras(queue)
    stats = queue.stats()
    values: dict[str, str] = {
        "ApproximateNumberOfMessages": str(stats.visible),
        "ApproximateNumberOfMessagesDelayed": str(stats.delayed),
        "ApproximateNumberOfMessagesNotVisible": str(stats.in_flight),
        "CreatedTimestamp": str(extras.created),
        "LastModifiedTimestamp": str(extras.modified),
        "QueueArn": queue.arn,
        "VisibilityTimeout": _int_text(queue.visibility_timeout),
        "DelaySeconds": _int_text(queue.delay),
        "MessageRetentionPeriod": _int_text(queue.retention),
        "MaximumMessageSize": str(queue.max_message_size),
        "ReceiveMessageWaitTimeSeconds": _int_text(queue.receive_wait),
    }
    if not extras.stored.get("KmsMasterKeyId"):
        values["SqsManagedSseEnabled"] = "false" if extras.stored.get("sse") == "false" else "true"
    else:
        values["SqsManagedSseEnabled"] = "false"
        values["KmsMasterKeyId"] = extras.stored["KmsMasterKeyId"]
        values["KmsDataKeyReusePeriodSeconds"] = (
            extras.stored.get("KmsDataKeyReusePeriodSeconds") or "300"
        )
    for name in ("Policy", "RedriveAllowPolicy"):
        if extras.stored.get(name):
            values[name] = extras.stored[name]
    dlq = queue.dead_letter_queue
    if dlq is not None and not dlq.deleted:
        values["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": queue.max_receive_count},
            separators=(",", ":"),
        )
    if queue.fifo:
        values["FifoQueue"] = "true"
        values["ContentBasedDeduplication"] = str(queue.content_based_deduplication).lower()
        values["DeduplicationScope"] = queue.deduplication_scope
        values["FifoThroughputLimit"] = queue.fifo_throughput_limit
    return {
        name: values[name] for name in _ALL_QUEUE_ATTRIBUTES if name in wanted and name in values
    }


def _int_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _store(extras: QueueExtras, stored: Mapping[str, str], sse: bool | None) -> None:
    for name, value in stored.items():
        if value == "" and name in ("Policy", "RedriveAllowPolicy", "KmsMasterKeyId"):
            extras.stored.pop(name, None)
            if name == "KmsMasterKeyId":
                extras.stored.pop("KmsDataKeyReusePeriodSeconds", None)
        else:
            extras.stored[name] = value
    if stored.get("KmsMasterKeyId"):
        extras.stored["sse"] = "false"
    elif sse is not None:
        extras.stored["sse"] = "true" if sse else "false"


# --- operations: queues -------------------------------------------------------------------------


def create_queue(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """CreateQueue: a new queue, or the existing one when every given attribute matches."""
    name = _string(params, "QueueName")
    attributes = _map(params, "Attributes")
    tags = _map(params, "tags")
    fifo_text = attributes.get("FifoQueue")
    fifo = isinstance(fifo_text, str) and fifo_text.lower() == "true"
    if fifo_text is not None and not fifo:
        raise InvalidAttributeName("Unknown Attribute FifoQueue.")
    settings, stored, sse = _settings_from(ctx, attributes, fifo=fifo, queue=None)
    if not fifo and name.endswith(".fifo"):
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )
    existing = _existing(ctx, name)
    if existing is not None:
        _check_same_stored(ctx, existing, stored)
    _check_tags(name, tags, existing_count=0)
    queue = ctx.broker.create_queue(name, fifo=fifo, **settings)
    if existing is None:
        extras = ctx.regions.extras(queue)
        _store(extras, stored, sse)
        extras.tags.update(tags)
        if "dead_letter_queue" in settings and settings["dead_letter_queue"] is not None:
            _check_allowed(ctx, queue, settings["dead_letter_queue"])
        ctx.regions.save_queue(queue)
    return {"QueueUrl": ctx.url(queue)}


def _existing(ctx: SqsContext, name: str) -> Queue | None:
    try:
        return ctx.broker.get_queue(name)
    except QueueDoesNotExist:
        return None


def _check_same_stored(ctx: SqsContext, queue: Queue, stored: Mapping[str, str]) -> None:
    extras = ctx.regions.extras(queue)
    for name, value in stored.items():
        if extras.stored.get(name, "") != value:
            raise QueueNameExists(
                "A queue already exists with the same name and a different value for attribute"
                f" {name}"
            )


def _check_allowed(ctx: SqsContext, source: Queue, dlq: Queue) -> None:
    allow = ctx.regions.extras(dlq).stored.get("RedriveAllowPolicy")
    if allow and not _allows(allow, source.arn):
        ctx.broker.delete_queue(source.name)
        raise InvalidParameterValue(
            f"Value for parameter RedrivePolicy is invalid. Reason: Queue {source.arn} does not"
            f" have permission to use {dlq.arn} as a dead letter queue."
        )


def _check_tags(name: str, tags: Mapping[str, Any], existing_count: int) -> None:
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise InvalidParameterValue(
                f"Tag key {key!r} is invalid: 1 to 128 characters, not aws:."
            )
        if not isinstance(value, str) or len(value) > 256:
            raise InvalidParameterValue(
                f"Tag value for {key!r} is invalid: at most 256 characters."
            )
    if existing_count + len(tags) > _TAG_LIMIT:
        raise InvalidParameterValue(f"Too many tags added for queue {name}.")


def get_queue_url(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """GetQueueUrl."""
    owner = _optional_string(params, "QueueOwnerAWSAccountId")
    if owner is not None and owner != ctx.regions.account_id:
        raise QueueDoesNotExist("The specified queue does not exist.")
    return {"QueueUrl": ctx.url(ctx.broker.get_queue(_string(params, "QueueName")))}


def delete_queue(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """DeleteQueue."""
    ctx.broker.delete_queue(ctx.queue(params).name)
    return {}


def _page(
    items: list[str], params: Mapping[str, Any], key: str, *, always: bool = False
) -> dict[str, Any]:
    limit = _optional_int(params, "MaxResults")
    token = _optional_string(params, "NextToken")
    start = 0
    if token is not None:
        try:
            start = int(base64.b64decode(token, validate=True).decode("ascii"))
        except (binascii.Error, ValueError):
            raise InvalidParameterValue("Invalid NextToken value.") from None
    if limit is not None and not 1 <= limit <= 1_000:
        raise InvalidParameterValue(
            f"Value {limit} for parameter MaxResults is invalid. Reason: MaxResults must be an"
            " integer between 1 and 1000."
        )
    size = limit if limit is not None else _DEFAULT_LIST_LIMIT
    page = items[start : start + size]
    out: dict[str, Any] = {}
    if page or always:
        out[key] = page
    if limit is not None and start + size < len(items):
        out["NextToken"] = base64.b64encode(str(start + size).encode()).decode()
    return out


def list_queues(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListQueues, by name, with MaxResults/NextToken pages."""
    prefix = _optional_string(params, "QueueNamePrefix") or ""
    urls = [ctx.url(q) for q in ctx.broker.list_queues(prefix)]
    return _page(urls, params, "QueueUrls")


def list_dead_letter_source_queues(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListDeadLetterSourceQueues: the queues whose RedrivePolicy targets this one."""
    dlq = ctx.queue(params)
    urls = [ctx.url(q) for q in ctx.broker.list_queues() if q.dead_letter_queue is dlq]
    return _page(urls, params, "queueUrls", always=True)


def get_queue_attributes(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """GetQueueAttributes (``All`` or a list of names)."""
    queue = ctx.queue(params)
    values = _queue_attributes(ctx, queue, _list(params, "AttributeNames"))
    return {"Attributes": values} if values else {}


def set_queue_attributes(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """SetQueueAttributes: checked as a whole, then applied."""
    queue = ctx.queue(params)
    attributes = _map(params, "Attributes")
    for name in attributes:
        if name in _READ_ONLY:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    settings, stored, sse = _settings_from(ctx, attributes, fifo=queue.fifo, queue=queue)
    if settings:
        queue.configure(**settings)
    extras = ctx.regions.extras(queue)
    _store(extras, stored, sse)
    extras.modified = int(ctx.regions.clock.time())
    ctx.regions.save_queue(queue)
    return {}


def purge_queue(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """PurgeQueue."""
    ctx.queue(params).purge()
    return {}


def tag_queue(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """TagQueue: add or overwrite tags."""
    queue = ctx.queue(params)
    tags = _map(params, "Tags")
    extras = ctx.regions.extras(queue)
    new = sum(1 for k in tags if k not in extras.tags)
    _check_tags(queue.name, tags, existing_count=len(extras.tags) + new - len(tags))
    extras.tags.update(tags)
    ctx.regions.save_queue(queue)
    return {}


def untag_queue(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """UntagQueue: missing keys are ignored."""
    queue = ctx.queue(params)
    extras = ctx.regions.extras(queue)
    for key in _list(params, "TagKeys"):
        extras.tags.pop(key, None)
    ctx.regions.save_queue(queue)
    return {}


def list_queue_tags(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListQueueTags: no ``Tags`` key when there are none."""
    tags = ctx.regions.extras(ctx.queue(params)).tags
    return {"Tags": dict(tags)} if tags else {}


def add_permission(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """AddPermission: a statement in the stored policy (mqlite does no authorisation)."""
    queue = ctx.queue(params)
    label = _string(params, "Label")
    accounts = _list(params, "AWSAccountIds")
    actions = _list(params, "Actions")
    if not _LABEL.fullmatch(label):
        raise InvalidParameterValue(
            f"Value {label} for parameter Label is invalid. Reason: Must be 1 to 80 alphanumeric"
            " characters, hyphens or underscores."
        )
    if not accounts:
        raise _missing("AWSAccountIds")
    if not actions:
        raise _missing("Actions")
    if len(actions) > 7:
        raise OverLimit(f"{len(actions)} Actions were found, maximum allowed is 7.")
    extras = ctx.regions.extras(queue)
    policy = json.loads(extras.stored.get("Policy") or "null") or {
        "Version": "2008-10-17",
        "Id": f"{queue.arn}/SQSDefaultPolicy",
        "Statement": [],
    }
    statements = policy.setdefault("Statement", [])
    if any(s.get("Sid") == label for s in statements):
        raise InvalidParameterValue(
            f"Value {label} for parameter Label is invalid. Reason: Already exists."
        )
    principals = [f"arn:aws:iam::{a}:root" for a in accounts]
    names = [f"SQS:{a}" for a in actions]
    statements.append(
        {
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
            "Action": names[0] if len(names) == 1 else names,
            "Resource": queue.arn,
        }
    )
    extras.stored["Policy"] = json.dumps(policy, separators=(",", ":"))
    ctx.regions.save_queue(queue)
    return {}


def remove_permission(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """RemovePermission: removing the last statement removes the policy."""
    queue = ctx.queue(params)
    label = _string(params, "Label")
    extras = ctx.regions.extras(queue)
    policy = json.loads(extras.stored.get("Policy") or "null") or {}
    statements = policy.get("Statement", [])
    kept = [s for s in statements if s.get("Sid") != label]
    if len(kept) == len(statements):
        raise InvalidParameterValue(
            f"Value {label} for parameter Label is invalid. Reason: can't find label."
        )
    if kept:
        policy["Statement"] = kept
        extras.stored["Policy"] = json.dumps(policy, separators=(",", ":"))
    else:
        extras.stored.pop("Policy", None)
    ctx.regions.save_queue(queue)
    return {}


# --- operations: messages -----------------------------------------------------------------------


def _send_result(result: Any, system_md5: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"MessageId": result.message_id, "MD5OfMessageBody": result.md5_of_body}
    if result.md5_of_attributes is not None:
        out["MD5OfMessageAttributes"] = result.md5_of_attributes
    if system_md5 is not None:
        out["MD5OfMessageSystemAttributes"] = system_md5
    if result.sequence_number is not None:
        out["SequenceNumber"] = result.sequence_number
    return out


def send_message(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """SendMessage."""
    queue = ctx.queue(params)
    body = params.get("MessageBody")
    if body is None or body == "":
        raise _missing("MessageBody")
    if not isinstance(body, str):
        raise InvalidParameterValue("Value for parameter MessageBody must be a string.")
    attributes = _message_attributes(params, "MessageAttributes")
    system = _system_attributes(params, "MessageSystemAttributes")
    result = queue.send(
        body,
        attributes=attributes,
        delay=_optional_int(params, "DelaySeconds"),
        group_id=_optional_string(params, "MessageGroupId"),
        deduplication_id=_optional_string(params, "MessageDeduplicationId"),
    )
    return _send_result(result, md5_of_attributes(system) if system else None)


def _entries(params: Mapping[str, Any], member: str) -> list[dict[str, Any]]:
    entries = _list(params, member)
    if not all(isinstance(e, dict) for e in entries):
        raise InvalidParameterValue(f"Each entry of {member} must be a structure.")
    return entries


def _failed(entry_id: str, error: MqliteError) -> dict[str, Any]:
    return {
        "Id": entry_id,
        "SenderFault": error.sender_fault,
        "Code": error.legacy_code,
        "Message": error.message,
    }


def _batch_out(result: Any, success: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if result.successful:
        out["Successful"] = [success(s) for s in result.successful]
    if result.failed:
        out["Failed"] = [
            {"Id": f.id, "SenderFault": f.sender_fault, "Code": f.code, "Message": f.message}
            for f in result.failed
        ]
    return out


def send_message_batch(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """SendMessageBatch: each entry succeeds or fails alone."""
    queue = ctx.queue(params)
    raw = _entries(params, "Entries")
    entries: list[SendEntry] = []
    pre_failed: list[dict[str, Any]] = []
    system_md5: dict[str, str] = {}
    for e in raw:
        entry_id = e.get("Id")
        try:
            attributes = _message_attributes(e, "MessageAttributes")
            system = _system_attributes(e, "MessageSystemAttributes")
        except MqliteError as error:
            if isinstance(entry_id, str):
                pre_failed.append(_failed(entry_id, error))
                continue
            raise
        if system and isinstance(entry_id, str):
            system_md5[entry_id] = md5_of_attributes(system) or ""
        delay = e.get("DelaySeconds")
        entries.append(
            SendEntry(
                entry_id,  # type: ignore[arg-type]  # checked by send_batch
                e.get("MessageBody", ""),
                attributes=attributes,
                delay=delay,
                group_id=e.get("MessageGroupId"),
                deduplication_id=e.get("MessageDeduplicationId"),
            )
        )
    if not entries and pre_failed:
        return {"Failed": pre_failed}
    result = queue.send_batch(entries)
    out = _batch_out(result, lambda s: {"Id": s.id, **_send_result(s, system_md5.get(s.id))})
    if pre_failed:
        out["Failed"] = out.get("Failed", []) + pre_failed
    return out


def receive_message(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ReceiveMessage, with the system and message attributes asked for."""
    queue = ctx.queue(params)
    count = _optional_int(params, "MaxNumberOfMessages")
    if count is not None and not 1 <= count <= 10:
        raise InvalidParameterValue(
            f"Value {count} for parameter MaxNumberOfMessages is invalid. Reason: Must be between"
            " 1 and 10, if provided."
        )
    wait = _optional_int(params, "WaitTimeSeconds")
    if wait is not None and not 0 <= wait <= 20:
        raise InvalidParameterValue(
            f"Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <="
            " 20, if provided."
        )
    visibility = _optional_int(params, "VisibilityTimeout")
    if visibility is not None and not 0 <= visibility <= 43_200:
        raise InvalidParameterValue(
            f"Value {visibility} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0"
            " and <= 43200, if provided."
        )
    attempt_id = _optional_string(params, "ReceiveRequestAttemptId")
    if attempt_id is not None and not _ATTEMPT_ID.fullmatch(attempt_id):
        raise InvalidParameterValue(
            f"Value {attempt_id} for parameter ReceiveRequestAttemptId is invalid. Reason: It"
            " must be 1 to 128 alphanumeric or punctuation characters."
        )
    if attempt_id is not None and queue.fifo:
        messages = _attempt(ctx, queue, attempt_id, count or 1, visibility, wait)
    else:
        messages = queue.receive(count or 1, visibility_timeout=visibility, wait=wait)
    system_names = {
        *_list(params, "AttributeNames"),
        *_list(params, "MessageSystemAttributeNames"),
    }
    wants_all_system = "All" in system_names
    wanted = _wanted(_list(params, "MessageAttributeNames"))
    out = [_message_out(m, queue, system_names, wants_all_system, wanted) for m in messages]
    return {"Messages": out} if out else {}


def _attempt(
    ctx: SqsContext,
    queue: Queue,
    attempt_id: str,
    count: int,
    visibility: int | None,
    wait: int | None,
) -> list[Message]:
    """A FIFO receive under *attempt_id*: a retry within 5 minutes gets the same messages."""
    extras = ctx.regions.extras(queue)
    now = queue.clock.time()
    with extras.attempts_lock:
        ended = extras.forget_attempts(now)
        earlier = extras.attempts.get(attempt_id)
    if ended:
        ctx.regions.drop_attempts(queue, ended)
    if earlier is not None:
        spent = InvalidParameterValue(
            f"Value {attempt_id} for parameter ReceiveRequestAttemptId is invalid. Reason:"
            " The receiveRequestAttemptId is not valid anymore since the receive call is not"
            " retryable."
        )
        if earlier.spent:
            raise spent
        # The same messages and handles again, with their visibility timeout started afresh.
        timeout = visibility if visibility is not None else queue.visibility_timeout
        try:
            for handle in earlier.handles:
                queue.change_visibility(handle, timeout)
        except MqliteError:
            # A message came back and went to another receive meanwhile.
            earlier.spent = True
            ctx.regions.save_attempt(queue, attempt_id)
            raise spent from None
        return earlier.messages
    messages = queue.receive(count, visibility_timeout=visibility, wait=wait)
    if messages:
        attempt = ReceiveAttempt(now + _ATTEMPT_WINDOW, messages)
        with extras.attempts_lock:
            # Two requests with one new attempt id at once (a client bug: a retry follows
            # a lost answer): each gets what it received, and the later one is kept.
            extras.attempts.pop(attempt_id, None)  # so the newest stays last in order
            extras.attempts[attempt_id] = attempt
            for handle in attempt.handles:
                extras.attempt_of[handle] = attempt_id
        # Stored before the answer: a retry after a restart gets these messages again.
        ctx.regions.save_attempt(queue, attempt_id)
    return messages


def _touched(ctx: SqsContext, queue: Queue, handles: Iterable[object]) -> None:
    # Deleting or re-timing a message ends the retry of the receive that returned it.
    if queue.fifo:
        extras = ctx.regions.extras(queue)
        if extras.attempt_of:
            for handle in handles:
                if isinstance(handle, str):
                    with extras.attempts_lock:
                        spent = extras.touched(handle)
                    if spent is not None:
                        ctx.regions.save_attempt(queue, spent)


def _message_out(
    message: Message,
    queue: Queue,
    system_names: set[Any],
    all_system: bool,
    wanted: Callable[[str], bool],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.md5_of_body,
        "Body": message.body,
    }
    system = _system_values(message)
    chosen = {
        name: value
        for name, value in system.items()
        if value is not None and (all_system or name in system_names)
    }
    if chosen:
        out["Attributes"] = chosen
    attributes = {n: a for n, a in message.attributes.items() if wanted(n)}
    if attributes:
        out["MessageAttributes"] = {n: _attribute_out(a) for n, a in attributes.items()}
        out["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
    return out


def _system_values(message: Message) -> dict[str, str | None]:
    first = message.first_receive_timestamp
    return {
        "SenderId": SENDER_ID,
        "SentTimestamp": str(message.sent_timestamp),
        "ApproximateReceiveCount": str(message.receive_count),
        # A received message always has one, even a first receive at epoch 0.
        "ApproximateFirstReceiveTimestamp": str(first) if message.receive_count else None,
        "MessageGroupId": message.group_id,
        "MessageDeduplicationId": message.deduplication_id,
        "SequenceNumber": message.sequence_number,
        "DeadLetterQueueSourceArn": message.dead_letter_source_arn,
    }


def delete_message(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """DeleteMessage."""
    queue = ctx.queue(params)
    handle = _string(params, "ReceiptHandle")
    queue.delete(handle)
    _touched(ctx, queue, [handle])
    return {}


def delete_message_batch(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """DeleteMessageBatch."""
    queue = ctx.queue(params)
    entries = [
        DeleteEntry(e.get("Id"), e.get("ReceiptHandle"))  # type: ignore[arg-type]
        for e in _entries(params, "Entries")
    ]
    result = queue.delete_batch(entries)
    done = {s.id for s in result.successful}
    _touched(ctx, queue, [e.receipt_handle for e in entries if e.id in done])
    return _batch_out(result, lambda s: {"Id": s.id})


def change_message_visibility(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ChangeMessageVisibility."""
    queue = ctx.queue(params)
    timeout = _optional_int(params, "VisibilityTimeout")
    if timeout is None:
        raise _missing("VisibilityTimeout")
    handle = _string(params, "ReceiptHandle")
    queue.change_visibility(handle, timeout)
    _touched(ctx, queue, [handle])
    return {}


def change_message_visibility_batch(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ChangeMessageVisibilityBatch."""
    queue = ctx.queue(params)
    entries = [
        VisibilityEntry(
            e.get("Id"),  # type: ignore[arg-type]
            e.get("ReceiptHandle"),  # type: ignore[arg-type]
            e.get("VisibilityTimeout", 0),
        )
        for e in _entries(params, "Entries")
    ]
    result = queue.change_visibility_batch(entries)
    done = {s.id for s in result.successful}
    _touched(ctx, queue, [e.receipt_handle for e in entries if e.id in done])
    return _batch_out(result, lambda s: {"Id": s.id})


# --- operations: message move tasks -------------------------------------------------------------


def _source(ctx: SqsContext, arn: str) -> Queue:
    queue = ctx.queue_by_arn(arn)
    if queue is None:
        raise ResourceNotFound(
            "The resource that you specified for the SourceArn parameter doesn't exist."
        )
    return queue


def start_message_move_task(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """StartMessageMoveTask."""
    source = _source(ctx, _string(params, "SourceArn"))
    destination_arn = _optional_string(params, "DestinationArn")
    destination = None
    if destination_arn is not None:
        destination = ctx.queue_by_arn(destination_arn)
        if destination is None:
            raise ResourceNotFound(
                "The resource that you specified for the DestinationArn parameter doesn't exist."
            )
    rate = _optional_int(params, "MaxNumberOfMessagesPerSecond")
    if rate is not None:
        task = source.start_redrive(destination, rate=rate)
    else:
        # SQS's default rate; stored as not given, so the listing leaves it out.
        task = source._dead_letters.start_redrive(source, destination, 500, rate_given=False)
    return {"TaskHandle": task.handle}


def list_message_move_tasks(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListMessageMoveTasks, newest first."""
    source = _source(ctx, _string(params, "SourceArn"))
    limit = _optional_int(params, "MaxResults")
    tasks = source.redrive_tasks(limit if limit is not None else 1)
    results = []
    for task in tasks:
        entry: dict[str, Any] = {
            "SourceArn": task.source_arn,
            "Status": task.status,
            "ApproximateNumberOfMessagesMoved": task.moved,
            "ApproximateNumberOfMessagesToMove": task.to_move,
            "StartedTimestamp": task.started_timestamp,
        }
        if task.handle is not None:
            entry["TaskHandle"] = task.handle
        if task.destination_arn is not None:
            entry["DestinationArn"] = task.destination_arn
        if task._rate_given:
            entry["MaxNumberOfMessagesPerSecond"] = max(1, round(task.rate))
        if task.failure_reason is not None:
            entry["FailureReason"] = task.failure_reason
        results.append(entry)
    return {"Results": results}


def cancel_message_move_task(ctx: SqsContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """CancelMessageMoveTask."""
    handle = _string(params, "TaskHandle")
    _task_id, source_arn = decode_handle(handle)
    source = _source(ctx, source_arn)
    broker = ctx.regions.broker(source.arn.split(":")[3])
    return {"ApproximateNumberOfMessagesMoved": broker.cancel_redrive(handle)}


Operation = Callable[[SqsContext, Mapping[str, Any]], dict[str, Any]]

#: Every SQS action, by its API name.
SQS_OPERATIONS: dict[str, Operation] = {
    "AddPermission": add_permission,
    "CancelMessageMoveTask": cancel_message_move_task,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
    "CreateQueue": create_queue,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "DeleteQueue": delete_queue,
    "GetQueueAttributes": get_queue_attributes,
    "GetQueueUrl": get_queue_url,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "ListMessageMoveTasks": list_message_move_tasks,
    "ListQueueTags": list_queue_tags,
    "ListQueues": list_queues,
    "PurgeQueue": purge_queue,
    "ReceiveMessage": receive_message,
    "RemovePermission": remove_permission,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "SetQueueAttributes": set_queue_attributes,
    "StartMessageMoveTask": start_message_move_task,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
}
