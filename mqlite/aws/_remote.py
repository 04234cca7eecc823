"""``connect()``: mqlite's Broker, Queue and Topic API over a real SQS/SNS endpoint.

Theory of operation: a :class:`RemoteQueue` holds a queue URL and a boto3 client, and
each method is one request (a batch over SQS's 256 KiB request limit is split into
several). Arguments are checked with the same rules (and the same errors) as a local
:class:`~mqlite.queue.Queue` where that is cheap — bodies, attributes, batch ids — and
everything else is left to the service, whose answer is translated back
(:mod:`mqlite.aws._remote_errors`). Results are the local types (``Message``,
``SendResult``, ``BatchResult`` ...), with every MD5 the service returns checked.

``RemoteQueue`` subclasses ``Queue`` so that code typed against ``Queue`` — ``Worker``,
``AsyncWorker``, application code — accepts it; it overrides every public method and
keeps no local message state. Its clock is the system clock: the service keeps time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from mqlite import _validation as v
from mqlite._attribute import Attribute
from mqlite._settings import DEFAULT_MAX_IN_FLIGHT, SETTING_NAMES
from mqlite.broker import Broker
from mqlite.clock import Clock, Interrupt, SystemClock
from mqlite.errors import (
    Closed,
    InvalidAttributeValue,
    InvalidParameterValue,
    MqliteError,
    QueueDoesNotExist,
    ReceiptHandleIsInvalid,
    UnsupportedOperation,
)
from mqlite.message import (
    BatchFailure,
    BatchResult,
    DeleteEntry,
    DeleteResult,
    Message,
    QueueStats,
    SendEntry,
    SendResult,
    VisibilityEntry,
    VisibilityResult,
    md5_of_attributes,
    md5_of_body,
)
from mqlite.queue import Queue, _entries

from ._remote_errors import ChecksumMismatch, translate

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config

    from mqlite._redrive import RedriveTask
    from mqlite.topic import Topic

    from ._remote_topic import RemoteTopic

__all__ = ["RemoteBroker", "RemoteQueue", "connect"]

#: The most one SendMessageBatch request may carry (bodies plus attributes) on SQS
#: endpoints that still enforce the original limit; larger batches are split.
MAX_REQUEST_BYTES = 262_144

_R = TypeVar("_R")

_NUMERIC = {
    "visibility_timeout": "VisibilityTimeout",
    "delay": "DelaySeconds",
    "retention": "MessageRetentionPeriod",
    "max_message_size": "MaximumMessageSize",
    "receive_wait": "ReceiveMessageWaitTimeSeconds",
}
_FIFO_ONLY = {
    "content_based_deduplication": ("ContentBasedDeduplication", False),
    "deduplication_scope": ("DeduplicationScope", "queue"),
    "fifo_throughput_limit": ("FifoThroughputLimit", "perQueue"),
}
_COUNTS = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]
_SHARED_CLOCK = SystemClock()


def connect(
    endpoint_url: str | None = None,
    *,
    region: str | None = None,
    session: boto3.Session | None = None,
    config: Config | None = None,
) -> RemoteBroker:
    """A :class:`RemoteBroker` on SQS and SNS at *endpoint_url* (AWS itself when None).

    *region* defaults to the session's region, else ``us-east-1`` when an endpoint is
    given. *session* (a ``boto3.Session``) supplies credentials; the default session reads
    them as boto3 always does (environment, ``~/.aws``, instance roles). *config* (a
    ``botocore.config.Config``) is merged over mqlite's defaults: standard retry mode
    (throttling and 5xx answers retried with backoff) and a connection pool big enough
    for a busy ``Worker``.

    Raises:
        InvalidParameterValue: no region could be found.
    """
    import boto3
    from botocore.config import Config

    session = session if session is not None else boto3.Session()
    region = region or session.region_name or ("us-east-1" if endpoint_url else None)
    if region is None:
        raise InvalidParameterValue(
            "No region: pass connect(region=...) or set AWS_DEFAULT_REGION."
        )
    merged = Config(retries={"mode": "standard"}, max_pool_connections=64)
    if config is not None:
        merged = merged.merge(config)
    return RemoteBroker(session, endpoint_url, region, merged)


class RemoteBroker(Broker):
    """``Broker``'s queue and topic methods on an SQS/SNS endpoint (see :func:`connect`).

    Queues and topics live in the service: two brokers (in two processes, on two
    machines) connected to the same endpoint, region and account see the same ones.
    A ``Broker`` to the type checker, so code annotated with ``Broker`` takes one; it
    overrides every public member and keeps no local state.
    """

    def __init__(
        self, session: boto3.Session, endpoint_url: str | None, region: str, config: Config
    ) -> None:
        # No Broker.__init__: there is nothing local to hold.
        self._session = session
        self._endpoint_url = endpoint_url
        self._region = region
        self._config = config
        self._where = endpoint_url or f"SQS/SNS in {region}"
        self.sqs: Any = session.client(
            "sqs", endpoint_url=endpoint_url, region_name=region, config=config
        )
        self._sns: Any = None
        self._sns_lock = threading.Lock()
        self._account: str | None = None
        self._closed = False

    @property
    def sns(self) -> Any:
        """The boto3 SNS client (made on first use)."""
        if self._sns is None:
            with self._sns_lock:
                if self._sns is None:
                    self._sns = self._session.client(
                        "sns",
                        endpoint_url=self._endpoint_url,
                        region_name=self._region,
                        config=self._config,
                    )
        return self._sns

    @property
    def region(self) -> str:
        """The region every request goes to."""
        return self._region

    @property
    def account_id(self) -> str:
        """The account of the credentials (STS GetCallerIdentity, asked once).

        Needs an endpoint that answers STS too (AWS, moto, LocalStack; mqlite's
        ``Server`` does not). A queue's ``arn`` names its account without asking.
        """
        if self._account is None:
            sts = self._session.client(
                "sts",
                endpoint_url=self._endpoint_url,
                region_name=self._region,
                config=self._config,
            )
            self._account = str(self.call(sts.get_caller_identity)["Account"])
        return self._account

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint, or None for AWS's own."""
        return self._endpoint_url

    @property
    def clock(self) -> Clock:
        """The system clock: a remote service keeps its own time."""
        return _SHARED_CLOCK

    def __repr__(self) -> str:
        return f"<RemoteBroker {self._where}>"

    def call(self, operation: Callable[..., _R], **params: Any) -> _R:
        """Run one boto3 call; its errors come back as :class:`MqliteError`."""
        if self._closed:
            raise Closed("The broker is closed.")
        try:
            return operation(**params)
        except (ClientError, BotoCoreError, ResponseParserError) as exc:
            raise translate(exc, self._where) from exc

    @property
    def path(self) -> str | None:
        """Always ``None``: the service stores the queues."""
        return None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Refuse later calls through this broker (raising ``Closed``); the service's
        queues and topics are left as they are. Cost: O(1)."""
        self._closed = True

    # --- queues --------------------------------------------------------------------------

    def create_queue(self, name: str, **settings: Any) -> RemoteQueue:
        """Create a queue, or return the existing one (CreateQueue idempotency).

        Takes ``Broker.create_queue``'s settings; ``dead_letter_queue`` must be a
        :class:`RemoteQueue`. Durations go to SQS in whole seconds.

        Raises:
            QueueNameExists: the queue exists with a different value for a setting passed.
            InvalidParameterValue, InvalidAttributeValue, ...: as the service answers.
            UnsupportedOperation: ``clock`` or ``max_in_flight`` (the service sets both).
            TypeError: an unknown setting name.
        """
        fifo = settings.pop("fifo", None)
        if fifo is None:
            fifo = isinstance(name, str) and name.endswith(".fifo")
        attributes = _queue_attributes(settings, fifo=bool(fifo), creating=True)
        if fifo:
            attributes["FifoQueue"] = "true"
        response = self.call(self.sqs.create_queue, QueueName=name, Attributes=attributes)
        return RemoteQueue(self, response["QueueUrl"])

    def get_queue(self, name: str) -> RemoteQueue:
        """The queue called *name* (GetQueueUrl). Raises ``QueueDoesNotExist``."""
        response = self.call(self.sqs.get_queue_url, QueueName=name)
        return RemoteQueue(self, response["QueueUrl"])

    def get_queue_by_arn(self, arn: str) -> RemoteQueue:
        """The queue whose ARN is *arn*. Raises ``QueueDoesNotExist``."""
        parts = arn.split(":") if isinstance(arn, str) else []
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
            raise QueueDoesNotExist("The specified queue does not exist.")
        response = self.call(
            self.sqs.get_queue_url, QueueName=parts[5], QueueOwnerAWSAccountId=parts[4]
        )
        return RemoteQueue(self, response["QueueUrl"])

    def list_queues(self, prefix: str = "") -> list[Queue]:
        """Queues whose name starts with *prefix*, by name (ListQueues, every page).

        On AWS a queue just created may take a moment to be listed.
        """
        params: dict[str, Any] = {"MaxResults": 1000}
        if prefix:
            params["QueueNamePrefix"] = prefix
        urls: list[str] = []
        while True:
            response = self.call(self.sqs.list_queues, **params)
            urls.extend(response.get("QueueUrls", []))
            token = response.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
        queues: list[Queue] = [RemoteQueue(self, url) for url in urls]
        return sorted((q for q in queues if q.name.startswith(prefix)), key=lambda q: q.name)

    def delete_queue(self, name: str) -> None:
        """Delete the queue and its messages (DeleteQueue). Raises ``QueueDoesNotExist``."""
        url = self.call(self.sqs.get_queue_url, QueueName=name)["QueueUrl"]
        self.call(self.sqs.delete_queue, QueueUrl=url)

    def cancel_redrive(self, handle: str) -> int:
        """Not available: cancel SQS move tasks with CancelMessageMoveTask."""
        raise UnsupportedOperation(
            "cancel_redrive is not available on a remote broker; SQS cancels move tasks with"
            " CancelMessageMoveTask."
        )

    # --- topics --------------------------------------------------------------------------

    def create_topic(self, name: str, **settings: Any) -> RemoteTopic:
        """Create a topic, or return the existing one (CreateTopic).

        Settings as ``Broker.create_topic``: ``fifo``, ``content_based_deduplication``.

        Raises:
            InvalidParameter: as the service answers.
            UnsupportedOperation: ``clock``.
        """
        from ._remote_topic import create_topic

        return create_topic(self, name, settings)

    def get_topic(self, name: str) -> RemoteTopic:
        """The topic called *name*. Raises ``NotFound``."""
        from ._remote_topic import find_topic

        return find_topic(self, name)

    def list_topics(self) -> list[Topic]:
        """Every topic, by name (ListTopics, every page)."""
        from ._remote_topic import list_topics

        return list_topics(self)

    def delete_topic(self, name: str) -> None:
        """Delete the topic and its subscriptions. Raises ``NotFound``."""
        topic = self.get_topic(name)
        self.call(self.sns.delete_topic, TopicArn=topic.arn)


# --- conversions -----------------------------------------------------------------------------


def _seconds(value: object) -> object:
    """A duration as SQS takes it: whole seconds (rounded up). Non-numbers pass through so
    the service (or boto3's checks) refuses them with its own error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        return math.ceil(value)
    return value


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    seconds = _seconds(value)
    return str(seconds)


def _queue_attributes(settings: dict[str, Any], *, fifo: bool, creating: bool) -> dict[str, str]:
    """SQS queue attributes for ``create_queue`` / ``configure`` keyword settings."""
    unknown = sorted(set(settings) - SETTING_NAMES - {"clock"})
    if unknown:
        verb = "create_queue" if creating else "configure"
        raise TypeError(f"{verb}() got unexpected setting(s): {', '.join(unknown)}")
    if settings.get("clock") is not None:
        raise UnsupportedOperation("A remote queue keeps the service's time: it takes no clock.")
    if "max_in_flight" in settings:
        raise UnsupportedOperation(
            "SQS sets the in-flight limit itself (120,000 messages): max_in_flight cannot"
            " be set on a remote queue."
        )
    out: dict[str, str] = {}
    for key, aws in _NUMERIC.items():
        if key in settings:
            out[aws] = _text(settings[key])
    for key, (aws, default) in _FIFO_ONLY.items():
        if key in settings:
            value = settings[key]
            # A standard queue's defaults are what a local Queue accepts without complaint;
            # SQS refuses the attribute itself, so it is left out.
            if fifo or value != default:
                out[aws] = _text(value)
    if "dead_letter_queue" in settings:
        dlq = settings["dead_letter_queue"]
        if dlq is None:
            if not creating:
                out["RedrivePolicy"] = ""
        elif isinstance(dlq, RemoteQueue):
            out["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": dlq.arn,
                    "maxReceiveCount": settings.get("max_receive_count", 10),
                },
                separators=(",", ":"),
            )
        else:
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: the dead-letter queue"
                f" of a remote queue is a RemoteQueue, not {type(dlq).__name__}."
            )
    return out


def _wire_attributes(attributes: Mapping[str, Attribute]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, attr in attributes.items():
        if isinstance(attr.value, bytes):
            out[name] = {"DataType": attr.data_type, "BinaryValue": attr.value}
        else:
            out[name] = {"DataType": attr.data_type, "StringValue": attr.value}
    return out


def _local_attributes(wire: Mapping[str, Any]) -> dict[str, Attribute]:
    out: dict[str, Attribute] = {}
    for name, value in wire.items():
        if "BinaryValue" in value:
            out[name] = Attribute(value["DataType"], bytes(value["BinaryValue"]))
        else:
            out[name] = Attribute(value["DataType"], value.get("StringValue", ""))
    return out


def _mismatch(what: str, message_id: str, got: object, want: object) -> NoReturn:
    raise ChecksumMismatch(
        f"The MD5 of the {what} of message {message_id} returned by the service ({got}) does not"
        f" match the one computed here ({want}): the message was altered on the way."
    )


def _check_sent(
    response: Mapping[str, Any], body: str, attributes: Mapping[str, Attribute]
) -> SendResult:
    message_id = response["MessageId"]
    digest = response.get("MD5OfMessageBody")
    want = md5_of_body(body)
    if digest != want:
        _mismatch("body", message_id, digest, want)
    attrs_digest = response.get("MD5OfMessageAttributes")
    if attributes:
        want_attrs = md5_of_attributes(attributes)
        if attrs_digest != want_attrs:
            _mismatch("attributes", message_id, attrs_digest, want_attrs)
    return SendResult(
        message_id,
        want,
        attrs_digest,
        response.get("SequenceNumber"),
        response.get("Id"),
    )


def _message(raw: Mapping[str, Any]) -> Message:
    body: str = raw["Body"]
    message_id: str = raw["MessageId"]
    want = md5_of_body(body)
    if raw.get("MD5OfBody") != want:
        _mismatch("body", message_id, raw.get("MD5OfBody"), want)
    attributes = _local_attributes(raw.get("MessageAttributes") or {})
    attrs_digest = raw.get("MD5OfMessageAttributes")
    if attributes:
        want_attrs = md5_of_attributes(attributes)
        if attrs_digest != want_attrs:
            _mismatch("attributes", message_id, attrs_digest, want_attrs)
    system = raw.get("Attributes") or {}
    return Message(
        body,
        message_id,
        raw["ReceiptHandle"],
        want,
        attrs_digest if attributes else None,
        attributes,
        int(system.get("ApproximateReceiveCount", 1)),
        int(system.get("SentTimestamp", 0)),
        int(system.get("ApproximateFirstReceiveTimestamp", 0)),
        system.get("MessageGroupId"),
        system.get("MessageDeduplicationId"),
        system.get("SequenceNumber"),
        system.get("DeadLetterQueueSourceArn"),
    )


def _handle(handle: str | Message) -> str:
    text = handle.receipt_handle if isinstance(handle, Message) else handle
    if not isinstance(text, str) or not text:
        raise ReceiptHandleIsInvalid(
            f'The input receipt handle "{v.shown(text)}" is not a valid receipt handle.'
        )
    return text


def _failures(response: Mapping[str, Any]) -> list[BatchFailure]:
    return [
        BatchFailure(f["Id"], f.get("Code", ""), f.get("Message", ""), bool(f.get("SenderFault")))
        for f in response.get("Failed", [])
    ]


def _entry_size(entry: SendEntry, attributes: Mapping[str, Attribute]) -> int:
    size = v.utf8_len(entry.body) if isinstance(entry.body, str) else 0
    return size + v.attributes_size(attributes)


# --- the queue -------------------------------------------------------------------------------


class RemoteQueue(Queue):
    """A :class:`~mqlite.queue.Queue`'s methods on one SQS queue (see :func:`connect`).

    Settings (``visibility_timeout``, ``dead_letter_queue``, ...) are read from the
    service on first use and cached; :meth:`configure` and :meth:`refresh` update them.
    ``peek``, ``redrive`` and a ``clock`` raise ``UnsupportedOperation``.
    """

    # An interrupted long poll is abandoned, not recalled: what it still receives comes
    # back with one more receive counted, so a Worker interrupts it only to stop.
    _interrupts_are_free = False

    def __init__(self, broker: RemoteBroker, url: str) -> None:
        # No Queue.__init__: every public method is overridden and no local state is kept.
        self._broker = broker
        self._sqs = broker.sqs
        self._url = url
        self._name = url.rstrip("/").rsplit("/", 1)[-1]
        self._fifo = self._name.endswith(".fifo")
        self._attributes: dict[str, str] | None = None
        self._deleted = False
        self._closed = False

    def _call(self, operation: Callable[..., _R], **params: Any) -> _R:
        if self._closed or self._broker._closed:
            raise Closed(f"The queue {self._name} is closed.")
        try:
            return operation(**params)
        except (ClientError, BotoCoreError, ResponseParserError) as exc:
            error = translate(exc, self._broker._where)
            if isinstance(error, QueueDoesNotExist):
                self._deleted = True
            raise error from exc

    @property
    def path(self) -> str | None:
        """Always ``None``: the service stores the messages."""
        return None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or its broker's) was called."""
        return self._closed or self._broker._closed

    def close(self) -> None:
        """Refuse later calls on this object (raising ``Closed``); the service's queue is
        left as it is. A long poll already in progress runs to its end. Cost: O(1)."""
        self._closed = True

    # --- properties ----------------------------------------------------------------------

    @property
    def broker(self) -> RemoteBroker:
        """The broker (and so the boto3 client) this queue talks through."""
        return self._broker

    @property
    def name(self) -> str:
        """The queue's name."""
        return self._name

    @property
    def fifo(self) -> bool:
        """Whether this is a FIFO queue (its name ends in ``.fifo``)."""
        return self._fifo

    @property
    def url(self) -> str:
        """The queue URL the service gave."""
        return self._url

    @property
    def arn(self) -> str:
        """The queue's ARN (QueueArn)."""
        return self._attribute("QueueArn")

    @property
    def clock(self) -> Clock:
        """The system clock: the service keeps time."""
        return _SHARED_CLOCK

    @property
    def deleted(self) -> bool:
        """True once a call found the queue gone (or it was deleted through this object)."""
        return self._deleted

    @property
    def visibility_timeout(self) -> float:
        """VisibilityTimeout, as last read from the service."""
        return int(self._attribute("VisibilityTimeout"))

    @property
    def delay(self) -> float:
        """DelaySeconds, as last read from the service."""
        return int(self._attribute("DelaySeconds"))

    @property
    def retention(self) -> float:
        """MessageRetentionPeriod, as last read from the service."""
        return int(self._attribute("MessageRetentionPeriod"))

    @property
    def max_message_size(self) -> int:
        """MaximumMessageSize, as last read from the service."""
        return int(self._attribute("MaximumMessageSize"))

    @property
    def receive_wait(self) -> float:
        """ReceiveMessageWaitTimeSeconds, as last read from the service."""
        return int(self._attribute("ReceiveMessageWaitTimeSeconds"))

    @property
    def content_based_deduplication(self) -> bool:
        """ContentBasedDeduplication (FIFO), as last read from the service."""
        return self._attribute("ContentBasedDeduplication", "false") == "true"

    @property
    def deduplication_scope(self) -> str:
        """DeduplicationScope (FIFO), as last read from the service."""
        return self._attribute("DeduplicationScope", "queue")

    @property
    def fifo_throughput_limit(self) -> str:
        """FifoThroughputLimit (FIFO), as last read from the service."""
        return self._attribute("FifoThroughputLimit", "perQueue")

    @property
    def dead_letter_queue(self) -> RemoteQueue | None:
        """The queue named by the RedrivePolicy, or None."""
        policy = self._redrive_policy()
        if policy is None:
            return None
        return self._broker.get_queue_by_arn(policy["deadLetterTargetArn"])

    @property
    def max_receive_count(self) -> int:
        """The RedrivePolicy's maxReceiveCount (10 when there is no policy)."""
        policy = self._redrive_policy()
        return 10 if policy is None else int(policy["maxReceiveCount"])

    @property
    def max_in_flight(self) -> int:
        """SQS's in-flight limit (it is not a queue attribute)."""
        return DEFAULT_MAX_IN_FLIGHT

    def settings(self) -> dict[str, Any]:
        """Every setting by its constructor name, as last read from the service."""
        return {
            "visibility_timeout": self.visibility_timeout,
            "delay": self.delay,
            "retention": self.retention,
            "max_message_size": self.max_message_size,
            "receive_wait": self.receive_wait,
            "content_based_deduplication": self.content_based_deduplication,
            "deduplication_scope": self.deduplication_scope,
            "fifo_throughput_limit": self.fifo_throughput_limit,
            "dead_letter_queue": self.dead_letter_queue,
            "max_receive_count": self.max_receive_count,
            "max_in_flight": self.max_in_flight,
        }

    def refresh(self) -> None:
        """Read the queue's attributes again (another client may have changed them)."""
        self._attributes = None
        self._load()

    def _load(self) -> dict[str, str]:
        attributes = self._attributes
        if attributes is None:
            response = self._call(
                self._sqs.get_queue_attributes, QueueUrl=self._url, AttributeNames=["All"]
            )
            attributes = self._attributes = dict(response.get("Attributes", {}))
        return attributes

    def _attribute(self, name: str, default: str | None = None) -> str:
        value = self._load().get(name, default)
        if value is None:
            raise MqliteError(f"The service did not report the {name} of queue {self._name}.")
        return value

    def _redrive_policy(self) -> dict[str, Any] | None:
        text = self._load().get("RedrivePolicy")
        if not text:
            return None
        policy: dict[str, Any] = json.loads(text)
        return policy

    def __repr__(self) -> str:
        return f"<RemoteQueue {self._url}>"

    # Many objects can stand for one service queue (get_queue, list_queues and
    # dead_letter_queue each make one): they are equal when they name the same URL.
    def __eq__(self, other: object) -> bool:
        if isinstance(other, RemoteQueue):
            return self._url == other._url
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._url)

    def configure(self, **changes: Any) -> None:
        """Change settings (SetQueueAttributes), with the constructor's keyword names.

        ``max_receive_count`` alone rewrites the current RedrivePolicy (it means nothing
        without a dead-letter queue, so it is then ignored, as SQS stores no such thing).

        Raises:
            InvalidAttributeName, InvalidAttributeValue, InvalidParameterValue: as the
                service answers; nothing changes.
            QueueDoesNotExist: the queue was deleted.
        """
        if "fifo" in changes and bool(changes.pop("fifo")) != self._fifo:
            raise InvalidAttributeValue(
                "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is"
                " not supported."
            )
        if (
            "max_receive_count" in changes
            and "dead_letter_queue" not in changes
            and self._redrive_policy() is not None
        ):
            changes["dead_letter_queue"] = self.dead_letter_queue
        attributes = _queue_attributes(changes, fifo=self._fifo, creating=False)
        if attributes:
            self._call(self._sqs.set_queue_attributes, QueueUrl=self._url, Attributes=attributes)
        self._attributes = None

    # --- sending -------------------------------------------------------------------------

    def send(
        self,
        body: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        delay: float | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> SendResult:
        """Send one message (SendMessage); arguments and errors as ``Queue.send``.

        Raises:
            MissingParameter, InvalidMessageContents, InvalidParameterValue: as
                ``Queue.send`` (checked here, or by the service).
            ChecksumMismatch: the service's MD5s do not match what was sent.
            ServiceUnavailable: the endpoint could not be reached.
        """
        v.check_body(body)
        attrs = v.normalize_attributes(attributes) if attributes else {}
        params: dict[str, Any] = {"QueueUrl": self._url, "MessageBody": body}
        if attrs:
            params["MessageAttributes"] = _wire_attributes(attrs)
        if delay is not None:
            params["DelaySeconds"] = _seconds(delay)
        if group_id is not None:
            params["MessageGroupId"] = group_id
        if deduplication_id is not None:
            params["MessageDeduplicationId"] = deduplication_id
        response = self._call(self._sqs.send_message, **params)
        return _check_sent(response, body, attrs)

    def send_batch(self, entries: Iterable[SendEntry]) -> BatchResult[SendResult]:
        """Send up to 10 messages (SendMessageBatch); each succeeds or fails on its own.

        Entries that together exceed 256 KiB go in several requests, in order. If a later
        request fails as a whole (the endpoint went away), its entries are reported in
        ``failed`` with that error's code; the earlier ones were sent.

        Raises:
            EmptyBatchRequest, TooManyEntriesInBatchRequest, InvalidBatchEntryId,
            BatchEntryIdsNotDistinct, BatchRequestTooLong: the whole batch is refused.
        """
        items = _entries(entries, SendEntry)
        v.check_batch_ids(e.id for e in items)
        failed: list[BatchFailure] = []
        chunks: list[list[tuple[SendEntry, dict[str, Attribute], dict[str, Any]]]] = [[]]
        size = 0
        for e in items:
            try:
                v.check_body(e.body)
                attrs = v.normalize_attributes(e.attributes)
            except MqliteError as error:
                failed.append(BatchFailure(e.id, error.legacy_code, error.message, True))
                continue
            wire: dict[str, Any] = {"Id": e.id, "MessageBody": e.body}
            if attrs:
                wire["MessageAttributes"] = _wire_attributes(attrs)
            if e.delay is not None:
                wire["DelaySeconds"] = _seconds(e.delay)
            if e.group_id is not None:
                wire["MessageGroupId"] = e.group_id
            if e.deduplication_id is not None:
                wire["MessageDeduplicationId"] = e.deduplication_id
            entry_size = _entry_size(e, attrs)
            if chunks[-1] and size + entry_size > MAX_REQUEST_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append((e, attrs, wire))
            size += entry_size
        successful: list[SendResult] = []
        for n, chunk in enumerate(c for c in chunks if c):
            try:
                response = self._call(
                    self._sqs.send_message_batch,
                    QueueUrl=self._url,
                    Entries=[wire for _, _, wire in chunk],
                )
            except MqliteError as error:
                if n == 0:
                    raise
                failed.extend(
                    BatchFailure(e.id, error.code, error.message, error.sender_fault)
                    for e, _, _ in chunk
                )
                continue
            sent = {e.id: (e, attrs) for e, attrs, _ in chunk}
            for ok in response.get("Successful", []):
                e, attrs = sent[ok["Id"]]
                successful.append(_check_sent(ok, e.body, attrs))
            failed.extend(_failures(response))
        order = {e.id: i for i, e in enumerate(items)}
        successful.sort(key=lambda r: order[r.id or ""])
        failed.sort(key=lambda f: order.get(f.id, 0))
        return BatchResult(successful, failed)

    # --- receiving -----------------------------------------------------------------------

    def _receive_params(
        self, max_messages: int, visibility_timeout: float | None, wait: float | None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "QueueUrl": self._url,
            "MaxNumberOfMessages": max_messages,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if visibility_timeout is not None:
            params["VisibilityTimeout"] = _seconds(visibility_timeout)
        if wait is not None:
            params["WaitTimeSeconds"] = _seconds(wait)
        if self._fifo:
            # boto3 retries a receive that failed on the way back; with an attempt id a
            # FIFO queue hands the retry the same messages instead of hiding them.
            params["ReceiveRequestAttemptId"] = uuid.uuid4().hex
        return params

    def receive(
        self,
        max_messages: int = 1,
        *,
        visibility_timeout: float | None = None,
        wait: float | None = None,
        interrupt: Interrupt | None = None,
    ) -> list[Message]:
        """Receive up to *max_messages* (1..10), long-polling up to *wait* seconds.

        ``wait`` None means the queue's ReceiveMessageWaitTimeSeconds (the service applies
        it). Durations go to SQS in whole seconds, rounded up.

        A long poll sent cannot be cut short, so with an *interrupt* the request runs on a
        thread of its own and the call returns ``[]`` as soon as the interrupt is set;
        whatever the request still returns is made visible again at once (its receive
        count has gone up, as for any receive). An interrupt set beforehand sends a short
        poll.

        Raises:
            InvalidParameterValue: an argument out of range.
            QueueDoesNotExist: the queue was deleted.
            ChecksumMismatch: a message's MD5 does not match its body or attributes.
            ServiceUnavailable: the endpoint could not be reached.
        """
        if interrupt is not None and interrupt.is_set():
            wait = 0
        params = self._receive_params(max_messages, visibility_timeout, wait)
        if interrupt is None or wait == 0:
            response = self._call(self._sqs.receive_message, **params)
        else:
            response = self._interruptible(params, interrupt)
        return [_message(m) for m in response.get("Messages", [])]

    def _interruptible(self, params: dict[str, Any], interrupt: Interrupt) -> dict[str, Any]:
        """A receive request that *interrupt* abandons (its late messages are released)."""
        handoff = _Handoff()
        done = threading.Event()
        failure: list[BaseException] = []

        def blocking() -> None:
            try:
                response: dict[str, Any] = self._call(self._sqs.receive_message, **params)
            except BaseException as exc:  # handed to the caller, re-raised there
                failure.append(exc)
            else:
                if not handoff.deliver(response):
                    self._release(response)  # the caller gave up: give the messages back
            finally:
                done.set()

        threading.Thread(target=blocking, name="mqlite-remote-receive", daemon=True).start()
        if not interrupt._add(done.set):
            try:
                done.wait()
            finally:
                interrupt._discard(done.set)
        if failure:
            raise failure[0]
        # Arrived (even if the interrupt came too): ours to return. Not yet: released later.
        late = handoff.abandon()
        return {} if late is None else late

    async def receive_async(
        self,
        max_messages: int = 1,
        *,
        visibility_timeout: float | None = None,
        wait: float | None = None,
        interrupt: Interrupt | None = None,
    ) -> list[Message]:
        """The awaitable twin of :meth:`receive`: the request runs on a thread.

        Cancelling it, or setting *interrupt*, does not lose messages: whatever the request
        still returns is made visible again at once.
        """
        if interrupt is not None and interrupt.is_set():
            wait = 0
        params = self._receive_params(max_messages, visibility_timeout, wait)
        handoff = _Handoff()

        def blocking() -> dict[str, Any]:
            response: dict[str, Any] = self._call(self._sqs.receive_message, **params)
            if not handoff.deliver(response):
                self._release(response)  # the caller is gone: give the messages back
            return response

        loop = asyncio.get_running_loop()
        if interrupt is not None and wait != 0:
            # Its own thread: an abandoned long poll must not hold up the loop's executor
            # (asyncio.run waits for that at exit).
            request = _on_thread(loop, blocking)
        else:
            request = loop.run_in_executor(None, blocking)
        try:
            gave_up = (
                interrupt is not None
                and wait != 0
                and await _interrupted(request, interrupt)
                and handoff.abandon() is None
            )
            if gave_up:  # the response, if it comes, is released by blocking()
                request.add_done_callback(_retrieve)
                return []
            response = await request
        except asyncio.CancelledError:
            late = handoff.abandon()
            if late is not None:  # it had already arrived: release it off the loop
                _background.submit(self._release, late)
            raise
        return [_message(m) for m in response.get("Messages", [])]

    def _release(self, response: Mapping[str, Any]) -> None:
        """Make visible again the messages of a receive nobody will handle."""
        messages = response.get("Messages", [])
        if not messages:
            return
        try:
            self.change_visibility_batch(
                VisibilityEntry(str(i), m["ReceiptHandle"], 0) for i, m in enumerate(messages)
            )
        except MqliteError:
            pass  # they come back after their visibility timeout anyway

    # --- deleting and visibility ---------------------------------------------------------

    def delete(self, handle: str | Message) -> None:
        """Delete a received message by its receipt handle (or the ``Message``).

        Raises:
            ReceiptHandleIsInvalid: the handle was never issued.
            InvalidParameterValue: FIFO, and the handle has expired.
            QueueDoesNotExist: the queue was deleted.
        """
        self._call(self._sqs.delete_message, QueueUrl=self._url, ReceiptHandle=_handle(handle))

    def delete_batch(self, entries: Iterable[DeleteEntry]) -> BatchResult[DeleteResult]:
        """Delete up to 10 messages (DeleteMessageBatch); each succeeds or fails alone."""
        items = _entries(entries, DeleteEntry)
        v.check_batch_ids(e.id for e in items)
        response = self._call(
            self._sqs.delete_message_batch,
            QueueUrl=self._url,
            Entries=[{"Id": e.id, "ReceiptHandle": e.receipt_handle} for e in items],
        )
        return BatchResult(
            [DeleteResult(ok["Id"]) for ok in response.get("Successful", [])],
            _failures(response),
        )

    def change_visibility(self, handle: str | Message, timeout: float) -> None:
        """Hide an in-flight message for *timeout* more seconds (ChangeMessageVisibility).

        Raises:
            ReceiptHandleIsInvalid: the handle was never issued.
            InvalidParameterValue: *timeout* out of range, the message is gone, or the
                12-hour cap would be passed.
        """
        self._call(
            self._sqs.change_message_visibility,
            QueueUrl=self._url,
            ReceiptHandle=_handle(handle),
            VisibilityTimeout=_seconds(timeout),
        )

    def change_visibility_batch(
        self, entries: Iterable[VisibilityEntry]
    ) -> BatchResult[VisibilityResult]:
        """Change the visibility of up to 10 messages; each succeeds or fails alone."""
        items = _entries(entries, VisibilityEntry)
        v.check_batch_ids(e.id for e in items)
        response = self._call(
            self._sqs.change_message_visibility_batch,
            QueueUrl=self._url,
            Entries=[
                {
                    "Id": e.id,
                    "ReceiptHandle": e.receipt_handle,
                    "VisibilityTimeout": _seconds(e.timeout),
                }
                for e in items
            ],
        )
        return BatchResult(
            [VisibilityResult(ok["Id"]) for ok in response.get("Successful", [])],
            _failures(response),
        )

    # --- whole-queue operations ----------------------------------------------------------

    def purge(self) -> None:
        """Delete every message (PurgeQueue). Raises ``PurgeQueueInProgress`` within 60 s."""
        self._call(self._sqs.purge_queue, QueueUrl=self._url)

    def stats(self) -> QueueStats:
        """The service's Approximate* counts: visible, in flight (NotVisible), delayed.

        On SQS these are approximate and lag behind sends and deletes by up to a minute.
        """
        response = self._call(
            self._sqs.get_queue_attributes, QueueUrl=self._url, AttributeNames=_COUNTS
        )
        got = response.get("Attributes", {})
        return QueueStats(
            int(got.get("ApproximateNumberOfMessages", 0)),
            int(got.get("ApproximateNumberOfMessagesNotVisible", 0)),
            int(got.get("ApproximateNumberOfMessagesDelayed", 0)),
        )

    def peek(
        self, *, include_in_flight: bool = False, include_delayed: bool = False
    ) -> list[Message]:
        """Not available: SQS has no way to look at messages without receiving them."""
        raise UnsupportedOperation(
            "peek is not available on a remote queue: SQS cannot show messages without"
            " receiving them."
        )

    def redrive(self, destination: Queue | None = None, *, max_messages: int | None = None) -> int:
        """Not available on a remote queue (use SQS's StartMessageMoveTask)."""
        raise UnsupportedOperation(
            "redrive is not available on a remote queue; SQS moves messages with"
            " StartMessageMoveTask."
        )

    def start_redrive(self, destination: Queue | None = None, *, rate: float) -> RedriveTask:
        """Not available on a remote queue (use SQS's StartMessageMoveTask)."""
        raise UnsupportedOperation(
            "start_redrive is not available on a remote queue; SQS moves messages with"
            " StartMessageMoveTask."
        )

    def redrive_tasks(self, max_results: int = 1) -> list[RedriveTask]:
        """Not available on a remote queue (use SQS's ListMessageMoveTasks)."""
        raise UnsupportedOperation("redrive_tasks is not available on a remote queue.")

    def check_invariants(self) -> None:
        """Nothing to check: a remote queue keeps no local state."""

    # --- asyncio twins -------------------------------------------------------------------

    async def send_async(
        self,
        body: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        delay: float | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> SendResult:
        """The awaitable twin of :meth:`send` (the request runs on a thread)."""
        return await asyncio.to_thread(
            self.send,
            body,
            attributes=attributes,
            delay=delay,
            group_id=group_id,
            deduplication_id=deduplication_id,
        )

    async def send_batch_async(self, entries: Iterable[SendEntry]) -> BatchResult[SendResult]:
        """The awaitable twin of :meth:`send_batch`."""
        return await asyncio.to_thread(self.send_batch, list(entries))

    async def delete_async(self, handle: str | Message) -> None:
        """The awaitable twin of :meth:`delete`."""
        await asyncio.to_thread(self.delete, handle)

    async def delete_batch_async(self, entries: Iterable[DeleteEntry]) -> BatchResult[DeleteResult]:
        """The awaitable twin of :meth:`delete_batch`."""
        return await asyncio.to_thread(self.delete_batch, list(entries))

    async def change_visibility_async(self, handle: str | Message, timeout: float) -> None:
        """The awaitable twin of :meth:`change_visibility`."""
        await asyncio.to_thread(self.change_visibility, handle, timeout)

    async def change_visibility_batch_async(
        self, entries: Iterable[VisibilityEntry]
    ) -> BatchResult[VisibilityResult]:
        """The awaitable twin of :meth:`change_visibility_batch`."""
        return await asyncio.to_thread(self.change_visibility_batch, list(entries))

    async def purge_async(self) -> None:
        """The awaitable twin of :meth:`purge`."""
        await asyncio.to_thread(self.purge)

    async def stats_async(self) -> QueueStats:
        """The awaitable twin of :meth:`stats`."""
        return await asyncio.to_thread(self.stats)


class _Handoff:
    """Who owns a receive_async's response: the awaiting task, or nobody (it was cancelled).

    The request runs on a thread and cannot be stopped; whichever of "the response
    arrives" and "the task is cancelled" comes second releases the messages, so they are
    never left hidden — whether or not the event loop is still running by then.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._response: dict[str, Any] | None = None

    def deliver(self, response: dict[str, Any]) -> bool:
        """The request returned; False when the task was cancelled meanwhile."""
        with self._lock:
            if self._cancelled:
                return False
            self._response = response
            return True

    def abandon(self) -> dict[str, Any] | None:
        """The task was cancelled; returns the response if it had already arrived."""
        with self._lock:
            self._cancelled = True
            return self._response


async def _interrupted(request: asyncio.Future[Any], interrupt: Interrupt) -> bool:
    """Wait for *request* or *interrupt*; True when the interrupt came first."""
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()

    def done() -> None:
        if not woken.done():
            woken.set_result(None)

    def wake() -> None:
        try:
            loop.call_soon_threadsafe(done)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    if not interrupt._add(wake):
        try:
            await asyncio.wait({request, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupt._discard(wake)
            woken.cancel()
    return not request.done()


def _on_thread(
    loop: asyncio.AbstractEventLoop, call: Callable[[], dict[str, Any]]
) -> asyncio.Future[dict[str, Any]]:
    """Run *call* on a daemon thread of its own; its outcome completes the returned future."""
    future: asyncio.Future[dict[str, Any]] = loop.create_future()

    def settle(result: dict[str, Any] | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            assert result is not None
            future.set_result(result)

    def run() -> None:
        result: dict[str, Any] | None = None
        error: BaseException | None = None
        try:
            result = call()
        except BaseException as exc:  # handed to the awaiting task
            error = exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    threading.Thread(target=run, name="mqlite-remote-receive", daemon=True).start()
    return future


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Read an abandoned request's outcome, so a failure is not reported as unretrieved."""
    if not future.cancelled():
        future.exception()


# Releases after a cancelled receive_async; one small pool for the whole process.
_background = concurrent.futures.ThreadPoolExecutor(
    max_workers=2, thread_name_prefix="mqlite-remote"
)
