"""SNS-style :class:`Topic` and :class:`Subscription`: publish, filter, fan out.

Data flow of ``publish``: every check runs first with no lock held (SNS's order and
texts). Then, under the topic lock, the clock is read once, the FIFO dedup window and
sequence number are updated and the topic's :class:`~mqlite._filter_index.FilterIndex`
names the matching subscriptions (subscriptions without a policy always match). The lock
is released before any user callable or queue ``send`` runs. Each delivery is isolated:
a subscriber that raises, or a queue that rejects the message, never fails ``publish`` or
another subscriber. Callables are retried immediately (no sleeping, see
:class:`RetryPolicy`); what still fails goes to the subscription's dead-letter queue,
exactly as it would have been delivered, or is logged and recorded on the subscription.

FIFO topics deliver through an outbox in sequence-number order: whichever publisher finds
nobody delivering delivers everything queued; a publish that finds another thread
delivering returns once its message is queued (SNS returns once a message is accepted), so
no publisher ever waits for a delivery that may be waiting for it.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import logging
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple

import attrs

from . import _validation as v
from ._attribute import Attribute
from ._dedup import DedupWindow
from ._envelope import EnvelopeWriter, attributes_json, iso_timestamp, unsubscribe_url
from ._filter_index import FilterIndex
from ._send import PreparedSend, prepare, without_deduplication_id
from ._sns_validation import (
    check_bool,
    check_id,
    check_topic_name,
    normalize_attributes,
    parse_structure,
)
from .clock import Clock, SystemClock
from .errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    Closed,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidParameter,
    MqliteError,
    NotFound,
    TooManyEntriesInBatchRequest,
)
from .filters import MESSAGE_ATTRIBUTES, FilterPolicy, FilterPolicyError
from .message import (
    BatchResult,
    Notification,
    PublishEntry,
    PublishResult,
    new_message_id,
)
from .queue import Queue

__all__ = ["DeliveryFailure", "RetryPolicy", "Subscription", "Topic"]

logger = logging.getLogger("mqlite.topic")


class _Delivering(threading.local):
    """Per thread: how many FIFO topics' outboxes it is delivering right now. Such a
    thread never waits for another thread's deliveries: that thread may wait for it."""

    depth = 0


_delivering = _Delivering()

MAX_MESSAGE_BYTES: Final = 262_144
MAX_BATCH_ENTRIES: Final = 10
DEDUP_WINDOW: Final = 300.0
#: Key prefix of a durable broker's stored deliveries not yet made (``outbox:<topic>:...``).
OUTBOX: Final = "outbox:"
_FIRST_SEQUENCE_NUMBER: Final = 10_000_000_000_000_000_000
_BATCH_ID_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# SNS reports these batch errors under their plain codes (no SQS wire prefix).
class _SnsEmptyBatch(EmptyBatchRequest):
    legacy_code = "EmptyBatchRequest"


class _SnsTooManyEntries(TooManyEntriesInBatchRequest):
    legacy_code = "TooManyEntriesInBatchRequest"


class _SnsInvalidBatchEntryId(InvalidBatchEntryId):
    legacy_code = "InvalidBatchEntryId"


class _SnsBatchIdsNotDistinct(BatchEntryIdsNotDistinct):
    legacy_code = "BatchEntryIdsNotDistinct"


class _SnsBatchTooLong(BatchRequestTooLong):
    legacy_code = "BatchRequestTooLong"


# --- public helper types ------------------------------------------------------------------


@attrs.frozen(slots=True)
class RetryPolicy:
    """How often a callable subscriber is tried before its delivery counts as failed.

    ``attempts`` is the total number of calls (1 = no retry). Retries happen immediately,
    in the delivering thread: mqlite never sleeps on the wall clock during ``publish``
    (AWS's "immediate retry" phase). Queue targets are never retried: a queue that rejects
    a message is a client-side error, as on AWS.
    """

    attempts: int = 3

    def __attrs_post_init__(self) -> None:
        if (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or not (1 <= self.attempts <= 100)
        ):
            raise ValueError(
                f"RetryPolicy.attempts must be an int from 1 to 100, got {self.attempts!r}"
            )


@attrs.frozen(slots=True)
class DeliveryFailure:
    """One delivery that failed for good: what, why, how many tries, where it went."""

    message_id: str
    error: BaseException
    attempts: int
    dead_lettered: bool


class _Checked(NamedTuple):
    """A publish request that passed every check."""

    message: str
    per_protocol: dict[str, str] | None
    subject: str | None
    attributes: dict[str, Attribute]
    attributes_size: int
    group_id: str | None
    deduplication_id: str | None
    size: int


def _text_of(value: str | bytes) -> tuple[str, bool]:
    """An attribute value as JSON can hold it: ``(text, is base64 of bytes)``."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii"), True
    return value, False


class _Published:
    """One accepted publish, as every delivery needs it, plus what its deliveries share.

    The shared parts — raw bodies with their MD5, envelope parts (and so the signature),
    the attributes' MD5 and JSON — are computed on first use and kept. A publish is
    delivered by one thread in one pass over its subscriptions, so each is computed at
    most once per publish (per protocol text), never once per subscription.
    """

    __slots__ = (
        "_attributes_json",
        "_envelopes",
        "_prepared",
        "attributes",
        "attributes_size",
        "deduplication_id",
        "group_id",
        "message",
        "message_id",
        "outbox_key",
        "per_protocol",
        "sequence_number",
        "subject",
        "timestamp_ms",
    )

    def __init__(
        self, c: _Checked, message_id: str, timestamp_ms: int, sequence_number: str | None
    ) -> None:
        self.message_id = message_id
        self.message = c.message
        self.per_protocol = c.per_protocol
        self.subject = c.subject
        self.attributes = c.attributes
        self.attributes_size = c.attributes_size
        self.timestamp_ms = timestamp_ms
        self.group_id = c.group_id
        self.deduplication_id = c.deduplication_id
        self.sequence_number = sequence_number
        #: Its stored outbox row (a durable broker's delivery not made before ``publish``
        #: returned), deleted once delivered; ``None`` when it has none.
        self.outbox_key: str | None = None
        #: Raw deliveries prepared for SQS, by protocol text (None: SQS refuses it).
        self._prepared: dict[str, PreparedSend | None] = {}
        self._envelopes: dict[str, tuple[str, str]] = {}
        self._attributes_json: str | None = None

    def text_for(self, protocol: str) -> str:
        if self.per_protocol is None:
            return self.message
        return self.per_protocol.get(protocol, self.per_protocol["default"])

    def prepared(self, protocol: str) -> PreparedSend:
        """The raw delivery of the text for *protocol*: a send prepared once, for every
        queue, with the publish's ids.

        Raises:
            MqliteError: what a queue's send raises for it (SNS never checks a message's
                characters, nor SQS's attribute rules), anew for each delivery.
        """
        # Without a message structure every protocol gets the same text: one entry.
        key = "" if self.per_protocol is None else protocol
        try:
            prepared = self._prepared[key]
        except KeyError:
            prepared = None
            try:
                prepared = prepare(
                    self.text_for(protocol),
                    self.attributes or None,
                    None,
                    self.group_id,
                    self.deduplication_id,
                )
            finally:
                self._prepared[key] = prepared
        if prepared is None:  # refused before: prepare again for a fresh error
            return prepare(self.text_for(protocol), self.attributes or None)
        return prepared

    def to_data(self, targets: list[Subscription]) -> dict[str, Any]:
        """What re-delivers it after a restart: its fields and its targets' ARNs."""
        return {
            "message": self.message,
            "per_protocol": self.per_protocol,
            "subject": self.subject,
            "attributes": {
                name: [a.data_type, *_text_of(a.value)] for name, a in self.attributes.items()
            },
            "attributes_size": self.attributes_size,
            "group_id": self.group_id,
            "deduplication_id": self.deduplication_id,
            "message_id": self.message_id,
            "timestamp_ms": self.timestamp_ms,
            "sequence_number": self.sequence_number,
            "targets": [sub.arn for sub in targets],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> _Published:
        """A publish stored by :meth:`to_data`."""
        attributes = {
            name: Attribute(data_type, base64.b64decode(value) if binary else value)
            for name, (data_type, value, binary) in data["attributes"].items()
        }
        checked = _Checked(
            data["message"],
            data["per_protocol"],
            data["subject"],
            attributes,
            data["attributes_size"],
            data["group_id"],
            data["deduplication_id"],
            0,
        )
        return cls(checked, data["message_id"], data["timestamp_ms"], data["sequence_number"])

    def envelope(self, protocol: str, writer: EnvelopeWriter) -> tuple[str, str]:
        """The envelope of the text for *protocol*, split around its UnsubscribeURL."""
        key = "" if self.per_protocol is None else protocol
        parts = self._envelopes.get(key)
        if parts is None:
            if self._attributes_json is None and self.attributes:
                self._attributes_json = attributes_json(self.attributes)
            parts = self._envelopes[key] = writer.parts(
                message=self.text_for(protocol),
                message_id=self.message_id,
                subject=self.subject,
                timestamp=iso_timestamp(self.timestamp_ms),
                sequence_number=self.sequence_number,
                attributes=self._attributes_json,
            )
        return parts


# --- the subscription ---------------------------------------------------------------------


class Subscription:
    """One subscription of a :class:`Topic`: a target plus its delivery settings.

    Made by :meth:`Topic.subscribe`. Read-only properties: ``topic``, ``target``,
    ``filter_policy`` (a :class:`FilterPolicy` or None), ``filter_policy_scope``,
    ``raw_message_delivery``, ``dead_letter_queue``, ``arn``, ``active``; counters
    ``delivered``, ``failed``, ``dead_lettered``; ``failures`` (the last 100
    :class:`DeliveryFailure`) and ``last_error``.
    """

    def __init__(
        self,
        topic: Topic,
        target: Queue | Callable[[Notification], object],
        seq: int,
        filter_policy: FilterPolicy | None,
        scope: str,
        raw: bool,
        dead_letter_queue: Queue | None,
    ) -> None:
        self._topic = topic
        self._target = target
        # Fixed for the subscription's life, so worked out once rather than per delivery.
        self._queue = target if isinstance(target, Queue) else None
        self._handler = None if isinstance(target, Queue) else target
        self._protocol = "sqs" if self._queue is not None else "lambda"
        # Which text of a MessageStructure=json publish this target gets: a callable may
        # stand for another protocol (an http(s) endpoint's POSTs, say) and name it.
        self._text_key: str = getattr(target, "sns_protocol", self._protocol)
        self._seq = seq
        self._filter_policy = filter_policy
        self._scope = scope
        self._raw = raw
        self._dlq = dead_letter_queue
        self._arn = f"{topic.arn}:{uuid.uuid4()}"
        # JSON-encoded once: every non-raw delivery splices it into the envelope.
        self._unsubscribe_url = json.dumps(unsubscribe_url(topic._region, self._arn))
        self._active = True
        # Serialises configure calls: each works out its new settings from the current
        # ones outside the topic's lock (compiling a policy), so two at once would lose one.
        self._configuring = threading.Lock()
        self._stats_lock = threading.Lock()
        self._delivered = 0
        self._failed = 0
        self._dead_lettered = 0
        self._failures: deque[DeliveryFailure] = deque(maxlen=100)
        #: The topic's published count when this subscribed (set by Topic.subscribe).
        self._published_before = 0

    @property
    def topic(self) -> Topic:
        """The topic this subscription belongs (or belonged) to."""
        return self._topic

    @property
    def target(self) -> Queue | Callable[[Notification], object]:
        """The queue or callable messages are delivered to."""
        return self._target

    @property
    def protocol(self) -> str:
        """``"sqs"`` for a queue target, ``"lambda"`` for a callable."""
        return self._protocol

    @property
    def filter_policy(self) -> FilterPolicy | None:
        """The compiled filter policy, or None (every message matches)."""
        return self._filter_policy

    @property
    def filter_policy_scope(self) -> str:
        """``"MessageAttributes"`` (default) or ``"MessageBody"``."""
        return self._scope

    @property
    def raw_message_delivery(self) -> bool:
        """Whether queues get the bare message instead of the JSON envelope."""
        return self._raw

    @property
    def dead_letter_queue(self) -> Queue | None:
        """Where deliveries that failed for good go, or None (they are logged)."""
        return self._dlq

    @property
    def arn(self) -> str:
        """``{topic_arn}:{uuid}``."""
        return self._arn

    @property
    def active(self) -> bool:
        """False once unsubscribed."""
        return self._active

    @property
    def delivered(self) -> int:
        """Deliveries the target accepted."""
        return self._delivered

    @property
    def failed(self) -> int:
        """Deliveries the target never accepted (after retries), dead-lettered or not."""
        return self._failed

    @property
    def dead_lettered(self) -> int:
        """Failed deliveries the dead-letter queue accepted."""
        return self._dead_lettered

    @property
    def failures(self) -> list[DeliveryFailure]:
        """The last 100 failed deliveries, oldest first."""
        with self._stats_lock:
            return list(self._failures)

    @property
    def last_error(self) -> BaseException | None:
        """The error of the most recent failed delivery, or None."""
        with self._stats_lock:
            return self._failures[-1].error if self._failures else None

    def configure(self, **changes: Any) -> None:
        """Change settings (SetSubscriptionAttributes): ``filter_policy`` (None or ``""``
        removes it), ``filter_policy_scope``, ``raw_message_delivery``,
        ``dead_letter_queue``. Everything is checked before anything changes.

        Cost: O(1), or O(size of the policy) to compile and re-file a new filter policy.

        Raises:
            InvalidParameter: an unknown name or bad value (SetSubscriptionAttributes
                texts, e.g. ``Invalid parameter: FilterPolicy: ...``).
            NotFound: the subscription was removed.
        """
        self._topic._configure(self, changes)

    def _keep_arn(self, arn: str) -> None:
        """Take back the ARN this subscription had before a restart (a durable broker)."""
        self._arn = arn
        self._unsubscribe_url = json.dumps(unsubscribe_url(self._topic._region, arn))

    def unsubscribe(self) -> None:
        """Remove this subscription from its topic (idempotent).

        Cost: O(size of its filter policy) to take it out of the topic's index.
        """
        self._topic.unsubscribe(self)

    def _record_success(self) -> None:
        with self._stats_lock:
            self._delivered += 1

    def _record_failure(self, failure: DeliveryFailure) -> None:
        with self._stats_lock:
            self._failed += 1
            if failure.dead_lettered:
                self._dead_lettered += 1
            self._failures.append(failure)

    def __repr__(self) -> str:
        return f"Subscription({self._arn!r}, protocol={self.protocol!r})"


# --- the topic ----------------------------------------------------------------------------


class Topic:
    """An SNS topic (standard or FIFO) living in this process.

    ``fifo=None`` infers FIFO from the ``.fifo`` suffix. ``retry_policy`` governs callable
    subscribers (default :class:`RetryPolicy`\\ (attempts=3), immediate retries).
    ``executor`` (a :class:`concurrent.futures.Executor`) makes fan-out asynchronous:
    ``publish`` returns once the message is accepted and matched, and deliveries run on
    the executor (use :meth:`flush` to wait for them); a FIFO topic's messages are
    delivered by one task at a time, in sequence order. All methods are thread-safe.

    Example::

        topic = Topic("orders")
        q = Queue("audit")
        topic.subscribe(q, filter_policy={"kind": ["order"]})
        topic.publish("hello", attributes={"kind": "order"})
    """

    def __init__(
        self,
        name: str,
        *,
        fifo: bool | None = None,
        content_based_deduplication: bool = False,
        clock: Clock | None = None,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        retry_policy: RetryPolicy | None = None,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self._name, self._fifo = check_topic_name(name, fifo)
        #: Called after each subscription change (a durable broker stores them).
        self._on_change: Callable[[], None] | None = None
        if not isinstance(content_based_deduplication, bool):
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: ContentBasedDeduplication: Invalid value"
                f" [{v.shown(content_based_deduplication)}]. Must be true or false."
            )
        if content_based_deduplication and not self._fifo:
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: ContentBasedDeduplication is only valid"
                " for FIFO topics"
            )
        # Checked here: a wrong kind would otherwise fail only inside a later publish,
        # after its message was accepted.
        for setting, value, ok in (
            ("region", region, isinstance(region, str)),
            ("account_id", account_id, isinstance(account_id, str)),
            ("clock", clock, clock is None or callable(getattr(clock, "time", None))),
            (
                "retry_policy",
                retry_policy,
                retry_policy is None or isinstance(retry_policy, RetryPolicy),
            ),
            (
                "executor",
                executor,
                executor is None or callable(getattr(executor, "submit", None)),
            ),
        ):
            if not ok:
                raise InvalidParameter(
                    f"Invalid parameter: {setting} Reason: {v.shown(value, quoted=True)} is not"
                    f" a valid {setting}"
                )
        self._content_dedup = content_based_deduplication
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._region = region
        self._account_id = account_id
        self._arn = f"arn:aws:sns:{region}:{account_id}:{name}"
        self._retry = retry_policy if retry_policy is not None else RetryPolicy()
        self._envelope = EnvelopeWriter(self._arn, region, self._fifo)
        self._executor = executor
        self._lock = threading.Lock()
        # A FIFO topic delivers through an outbox, in sequence order: the publisher that
        # finds nobody delivering delivers everything queued (its own messages and those
        # published meanwhile), or hands that to one executor task; the others return
        # once theirs is queued. No lock is held while subscribers run, and no publisher
        # waits for a delivery, so subscribers may publish to this topic or any other,
        # from any thread.
        self._outbox: deque[tuple[_Published, list[Subscription]]] = deque()
        self._draining = False  # a thread (or executor task) is delivering the outbox
        self._queued = 0  # plans ever put in the outbox
        self._delivered = 0  # plans ever taken out of it and delivered
        self._outbox_done = threading.Condition(self._lock)
        self._subs: dict[Hashable, Subscription] = {}
        self._unfiltered: dict[Subscription, None] = {}
        self._index = FilterIndex()
        self._next_sub = 0
        self._dedup = DedupWindow(DEDUP_WINDOW)
        self._dedup_results: dict[str, str | None] = {}
        self._sequence = _FIRST_SEQUENCE_NUMBER
        #: A durable broker's FIFO topics only: appends (without committing) the dedup ids
        #: that left the window and a publish call's new dedup entries (dedup id, message
        #: id, sequence number, expiry). It runs under the topic lock, before the messages
        #: reach the outbox, so the commit of any delivery also holds their dedup ids: a
        #: kill never leaves a delivered message whose retried publish is not recognised.
        self._dedup_store: (
            Callable[[str, list[str], list[tuple[str, str, str, float]]], None] | None
        ) = None
        #: Commits what ``_dedup_store`` appended (before ``publish`` returns).
        self._dedup_sync: Callable[[], None] | None = None
        #: A durable broker's outbox: appends (key, data) to store a delivery that
        #: ``publish`` leaves to another thread or the executor, (key, None) to delete it
        #: once made; ``_dedup_sync`` commits. A reopened broker makes what is left.
        self._outbox_store: Callable[[str, dict[str, Any] | None], None] | None = None
        self._deleted = False
        #: Set when its broker closes: every later call raises Closed.
        self._closed = False
        self._pending: set[concurrent.futures.Future[None]] = set()
        #: Messages accepted (not deduplicated) for monitoring; a subscription's filtered
        #: count is what it did not get of those published since it subscribed.
        self._count_published = 0

    # --- properties ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The topic's name."""
        return self._name

    @property
    def fifo(self) -> bool:
        """Whether this is a FIFO topic."""
        return self._fifo

    @property
    def content_based_deduplication(self) -> bool:
        """Whether FIFO dedup ids default to sha256 of the message."""
        return self._content_dedup

    @property
    def arn(self) -> str:
        """``arn:aws:sns:{region}:{account}:{name}``."""
        return self._arn

    @property
    def clock(self) -> Clock:
        """The clock timestamps and the dedup window follow."""
        return self._clock

    @property
    def retry_policy(self) -> RetryPolicy:
        """How callable subscribers are retried."""
        return self._retry

    @property
    def subscriptions(self) -> list[Subscription]:
        """Current subscriptions, oldest first (a snapshot)."""
        with self._lock:
            return sorted(self._subs.values(), key=lambda s: s._seq)

    def __repr__(self) -> str:
        return f"Topic({self._name!r})"

    # --- subscriptions ------------------------------------------------------------------------

    @staticmethod
    def _target_key(target: object) -> Hashable:
        if isinstance(target, Queue):
            return ("queue", id(target))
        try:
            hash(target)
        except TypeError:
            return ("callable", id(target))
        return ("callable", target)

    def subscribe(
        self,
        target: Queue | Callable[[Notification], object],
        *,
        filter_policy: str | Mapping[str, Any] | FilterPolicy | None = None,
        filter_policy_scope: str | None = None,
        raw_message_delivery: bool | str | None = None,
        dead_letter_queue: Queue | None = None,
    ) -> Subscription:
        """Subscribe a :class:`Queue` or a callable taking a :class:`Notification`.

        A setting left out (None) takes its default: no filter policy, scope
        ``"MessageAttributes"``, raw delivery off, no dead-letter queue. Subscribing the
        same target again returns the existing subscription when every setting passed
        equals the stored one; settings left out are not compared (as with Subscribe's
        attribute map). ``filter_policy=""`` passes "no policy" explicitly.

        Cost: O(size of the filter policy) to compile and file it in the topic's index;
        O(1) without one.

        Raises:
            InvalidParameter: a FIFO queue on a standard topic, a bad filter policy or
                setting (Subscribe's ``Invalid parameter: Attributes Reason: ...`` texts),
                or a re-subscribe with different settings.
            NotFound: the topic was deleted.
        """
        head = "Invalid parameter: Attributes Reason: "
        if isinstance(target, Queue):
            if target.fifo and not self._fifo:
                raise InvalidParameter(
                    "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can"
                    " not be subscribed to standard SNS topics"
                )
        elif not callable(target):
            raise InvalidParameter(
                "Invalid parameter: Endpoint Reason: a subscription target is a Queue or a"
                f" callable, not {type(target).__name__}"
            )
        given = {
            "filter_policy": filter_policy,
            "filter_policy_scope": filter_policy_scope,
            "raw_message_delivery": raw_message_delivery,
            "dead_letter_queue": dead_letter_queue,
        }
        given = {k: val for k, val in given.items() if val is not None}
        try:
            settings = self._resolve(target, given, None, subscribe=True)
        except FilterPolicyError as error:
            raise error.for_subscribe() from None
        policy, scope, raw, dlq = settings
        key = self._target_key(target)
        with self._lock:
            self._check_alive()
            existing = self._subs.get(key)
            if existing is not None:
                same = (
                    ("filter_policy" not in given or existing._filter_policy == policy)
                    and ("filter_policy_scope" not in given or existing._scope == scope)
                    and ("raw_message_delivery" not in given or existing._raw == raw)
                    and ("dead_letter_queue" not in given or existing._dlq is dlq)
                )
                if not same:
                    raise InvalidParameter(
                        head + "Subscription already exists with different attributes"
                    )
                return existing
            sub = Subscription(self, target, self._next_sub, policy, scope, raw, dlq)
            sub._published_before = self._count_published
            self._next_sub += 1
            self._subs[key] = sub
            if policy is None:
                self._unfiltered[sub] = None
            else:
                self._index.add(sub, policy)
        if self._on_change is not None:
            self._on_change()
        return sub

    def _resolve(
        self,
        target: object,
        given: Mapping[str, Any],
        current: Subscription | None,
        *,
        subscribe: bool,
    ) -> tuple[FilterPolicy | None, str, bool, Queue | None]:
        """Check *given* settings over *current* ones; return the full new settings."""
        head = "Invalid parameter: Attributes Reason: " if subscribe else "Invalid parameter: "
        scope = current._scope if current is not None else MESSAGE_ATTRIBUTES
        policy = current._filter_policy if current is not None else None
        raw = current._raw if current is not None else False
        dlq = current._dlq if current is not None else None
        if "filter_policy_scope" in given:
            scope = FilterPolicy.check_scope(given["filter_policy_scope"])
        if "filter_policy" in given:
            text = given["filter_policy"]
            if text is None or text == "":
                policy = None
            elif isinstance(text, FilterPolicy):
                policy = text if text.scope == scope else text.with_scope(scope)
            else:
                if not isinstance(text, str | Mapping):
                    raise FilterPolicyError(
                        f"failed to parse JSON. a filter policy is a str or a mapping, not"
                        f" {type(text).__name__}"
                    )
                try:
                    policy = FilterPolicy(text, scope)
                except (TypeError, ValueError) as error:  # a mapping holding non-JSON values
                    raise FilterPolicyError(f"failed to parse JSON. {error}") from None
        elif policy is not None and policy.scope != scope:
            policy = policy.with_scope(scope)
        if "raw_message_delivery" in given:
            raw = check_bool("RawMessageDelivery", given["raw_message_delivery"], head)
        if "dead_letter_queue" in given:
            dlq = given["dead_letter_queue"]
            if dlq is not None and not isinstance(dlq, Queue):
                raise InvalidParameter(
                    f"{head}RedrivePolicy: deadLetterTargetArn is an invalid arn"
                )
            if dlq is not None:
                if self._fifo and isinstance(target, Queue) and target.fifo and not dlq.fifo:
                    raise InvalidParameter(
                        f"{head}RedrivePolicy: must use a FIFO queue as DLQ for a FIFO"
                        " Subscription to a FIFO Topic."
                    )
                if not self._fifo and dlq.fifo:
                    raise InvalidParameter(
                        f"{head}RedrivePolicy: a FIFO queue can not be the DLQ of a subscription"
                        " to a standard topic."
                    )
        return policy, scope, raw, dlq

    _CONFIGURABLE: Final = frozenset(
        {"filter_policy", "filter_policy_scope", "raw_message_delivery", "dead_letter_queue"}
    )

    def _configure(self, sub: Subscription, changes: Mapping[str, Any]) -> None:
        for name in changes:
            if name not in self._CONFIGURABLE:
                raise InvalidParameter("Invalid parameter: AttributeName")
        with sub._configuring:
            self._check_alive()
            if not sub._active:
                raise NotFound("Subscription does not exist")
            policy, scope, raw, dlq = self._resolve(sub._target, changes, sub, subscribe=False)
            with self._lock:
                if not sub._active:
                    raise NotFound("Subscription does not exist")
                had = sub._filter_policy
                sub._filter_policy, sub._scope, sub._raw, sub._dlq = policy, scope, raw, dlq
                if had is not None and policy is None:
                    self._index.remove(sub)
                    self._unfiltered[sub] = None
                elif policy is not None:
                    self._unfiltered.pop(sub, None)
                    self._index.add(sub, policy)
        if self._on_change is not None:
            self._on_change()

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove *subscription* (idempotent; a subscription of another topic is ignored).

        Cost: O(size of its filter policy) to take it out of the topic's index.

        Raises:
            InvalidParameter: *subscription* is not a :class:`Subscription`.
        """
        if not isinstance(subscription, Subscription):
            raise InvalidParameter(
                "Invalid parameter: SubscriptionArn Reason: a Subscription is required, not"
                f" {type(subscription).__name__}"
            )
        if subscription._topic is not self:
            return
        with self._lock:
            self._check_alive()
            key = self._target_key(subscription._target)
            if self._subs.get(key) is not subscription:
                return
            del self._subs[key]
            subscription._active = False
            if subscription in self._unfiltered:
                del self._unfiltered[subscription]
            if subscription in self._index:
                self._index.remove(subscription)
        if self._on_change is not None:
            self._on_change()

    # --- publishing ---------------------------------------------------------------------------

    def _check(
        self,
        message: object,
        subject: object,
        attributes: Mapping[str, Any] | None,
        group_id: object,
        deduplication_id: object,
        message_structure: object,
    ) -> _Checked:
        if subject is not None:
            if not isinstance(subject, str) or subject == "":
                raise InvalidParameter("Invalid parameter: Subject")
            if (
                len(subject) >= 100  # SNS: less than 100 characters
                or _CONTROL.search(subject)
                or not v.has_valid_characters(subject)
            ):
                raise InvalidParameter(
                    "Invalid parameter: Subject Reason: Subject must be less than 100 characters"
                    " of UTF-8 text without line breaks or control characters"
                )
        if not isinstance(message, str):
            raise InvalidParameter(
                "Invalid parameter: Message Reason: the message must be a str, not"
                f" {type(message).__name__}"
            )
        if message == "":
            raise InvalidParameter("Invalid parameter: Empty message")
        attrs_ = normalize_attributes(attributes)
        attributes_size = v.attributes_size(attrs_) if attrs_ else 0
        size = v.utf8_len(message) + attributes_size
        if size > MAX_MESSAGE_BYTES:
            raise InvalidParameter("Invalid parameter: Message too long")
        gid: str | None = None
        did: str | None = None
        if self._fifo:
            if group_id is None:
                raise InvalidParameter(
                    "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
                )
            gid = check_id("MessageGroupId", group_id)
            if deduplication_id is None:
                if not self._content_dedup:
                    raise InvalidParameter(
                        "Invalid parameter: The topic should either have ContentBasedDeduplication"
                        " enabled or MessageDeduplicationId provided explicitly"
                    )
                did = hashlib.sha256(message.encode("utf-8", "surrogatepass")).hexdigest()
            else:
                did = check_id("MessageDeduplicationId", deduplication_id)
        else:
            if deduplication_id is not None:
                raise InvalidParameter(
                    "Invalid parameter: MessageDeduplicationId Reason: The request includes"
                    " MessageDeduplicationId parameter that is not valid for this topic type"
                )
            if group_id is not None:
                gid = check_id("MessageGroupId", group_id)
        per_protocol: dict[str, str] | None = None
        if message_structure is not None:
            if message_structure != "json":
                raise InvalidParameter(
                    "Invalid parameter: MessageStructure Reason: the only supported value is 'json'"
                )
            per_protocol = parse_structure(message)
        return _Checked(message, per_protocol, subject, attrs_, attributes_size, gid, did, size)

    def publish(
        self,
        message: str,
        *,
        subject: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> PublishResult:
        """Publish one message and deliver it to every matching subscription.

        Delivery happens before ``publish`` returns, except on a FIFO topic while another
        thread (or, from inside a subscriber, the calling thread) is delivering the
        topic's earlier messages: then the message is queued and that delivery loop
        delivers it next; :meth:`flush` waits for it.

        Cost: O(message + attributes) to check, plus FilterIndex.match, plus one delivery
        per matching subscription (not per subscription).

        Raises:
            InvalidParameter: SNS's checks (subject, empty or too long message, FIFO group
                and dedup ids, message structure).
            ParameterValueInvalid: a malformed message attribute.
            NotFound: the topic was deleted.
        """
        checked = self._check(
            message, subject, attributes, group_id, deduplication_id, message_structure
        )
        [result] = self._publish([(checked, None)])
        return result

    def publish_batch(self, entries: Iterable[PublishEntry]) -> BatchResult[PublishResult]:
        """Publish up to 10 messages; every entry is checked before any is published.

        Cost: as :meth:`publish` for each entry.

        Raises:
            EmptyBatchRequest, TooManyEntriesInBatchRequest, InvalidBatchEntryId,
            BatchEntryIdsNotDistinct, BatchRequestTooLong: whole-request problems (SNS's
                texts); any entry failing a Publish check raises that error (nothing
                is published).
        """
        try:
            items = list(entries)
        except TypeError:
            items = None
        if items is None or not all(isinstance(e, PublishEntry) for e in items):
            raise InvalidParameter(
                "Invalid parameter: PublishBatchRequestEntries Reason: the entries must be an"
                " iterable of PublishEntry"
            )
        if not items:
            raise _SnsEmptyBatch("The batch request doesn't contain any entries.")
        if len(items) > MAX_BATCH_ENTRIES:
            raise _SnsTooManyEntries("The batch request contains more entries than permissible.")
        seen: set[str] = set()
        for entry in items:
            entry_id = entry.id
            if not isinstance(entry_id, str) or len(entry_id) > 80:
                raise _SnsInvalidBatchEntryId(
                    f"The Id of a batch entry in the batch request is too long: {v.shown(entry_id)}"
                )
            if not _BATCH_ID_CHARS.fullmatch(entry_id):
                raise _SnsInvalidBatchEntryId(
                    "The Id of a batch entry in the batch request contains an impermissible"
                    f" character: {entry_id}"
                )
            if entry_id in seen:
                raise _SnsBatchIdsNotDistinct(
                    "Two or more batch entries in the request have the same Id."
                )
            seen.add(entry_id)
        checked = [
            (
                self._check(
                    e.message,
                    e.subject,
                    e.attributes,
                    e.group_id,
                    e.deduplication_id,
                    e.message_structure,
                ),
                e.id,
            )
            for e in items
        ]
        if sum(c.size for c, _ in checked) > MAX_MESSAGE_BYTES:
            raise _SnsBatchTooLong(
                "The length of all the messages put together is more than the limit."
            )
        return BatchResult(self._publish(checked), [])

    def _publish(self, checked: Sequence[tuple[_Checked, str | None]]) -> list[PublishResult]:
        """Accept checked messages, then deliver them (or hand them to whoever delivers)."""
        results, plans, drain, kept = self._accept(checked)
        for published, targets in plans:
            self._dispatch(published, targets)
        if drain:
            self._start_drain()
        if kept is not None:
            assert self._dedup_sync is not None
            self._dedup_sync()
        return results

    def _accept(
        self, checked: Sequence[tuple[_Checked, str | None]]
    ) -> tuple[
        list[PublishResult],
        list[tuple[_Published, list[Subscription]]],
        bool,
        list[tuple[str, str, str, float]] | None,
    ]:
        """Give each checked message its id (and sequence number), and match it.

        Returns the results, the standard topic's deliveries to make, whether the
        caller must start delivering the FIFO outbox, and (a durable broker's FIFO topic
        only, else ``None``) the new dedup entries to store. A FIFO message goes into the outbox
        in the same lock hold that gives it its sequence number, so the outbox is always
        in sequence order, whatever other publishers do meanwhile.
        """
        results: list[PublishResult] = []
        plans: list[tuple[_Published, list[Subscription]]] = []
        accepted: list[tuple[_Published, list[Subscription]]] = []  # FIFO: into the outbox
        kept: list[tuple[str, str, str, float]] | None = None  # new dedup entries, if stored
        with self._lock:
            self._check_alive()
            now = self._clock.time()
            ms = int(now * 1000)
            expired: list[str] = []
            if self._dedup_store is not None and self._dedup.next_expiry <= now:
                # Forgotten here, so the file forgets exactly the same ids (admit then
                # finds nothing due).
                expired = self._dedup.expire_keys(now)
            for c, entry_id in checked:
                seq: str | None = None
                message_id = new_message_id()
                if self._fifo:
                    assert c.deduplication_id is not None
                    earlier = self._dedup.admit(c.deduplication_id, message_id, now)
                    if earlier is not None:
                        results.append(
                            PublishResult(earlier, self._dedup_results.get(earlier), entry_id)
                        )
                        continue
                    self._sequence += 1
                    seq = f"{self._sequence:020d}"
                    self._dedup_results[message_id] = seq
                    if self._dedup_store is not None:
                        if kept is None:
                            kept = []
                        kept.append((c.deduplication_id, message_id, seq, now + DEDUP_WINDOW))
                    if len(self._dedup_results) > 2 * len(self._dedup) + 64:
                        live = set(self._dedup.message_ids())
                        self._dedup_results = {
                            k: val for k, val in self._dedup_results.items() if k in live
                        }
                results.append(PublishResult(message_id, seq, entry_id))
                targets = self._match(c)
                self._count_published += 1
                if not targets:
                    continue
                published = _Published(c, message_id, ms, seq)
                if self._fifo:
                    self._outbox.append((published, targets))
                    self._queued += 1
                    accepted.append((published, targets))
                else:
                    plans.append((published, targets))
            if self._dedup_store is not None and (kept is not None or expired):
                # Appended before the lock is released: no delivery of these messages
                # can be committed without them.
                kept = kept or []  # non-None: the caller commits what was appended
                self._dedup_store(self._name, expired, kept)
            drain = bool(self._outbox) and not self._draining
            if drain:
                self._draining = True
            store = self._outbox_store
            if store is not None:
                # Deliveries publish does not make before it returns (queued behind
                # another thread's, or on the executor) are stored until made.
                later = plans if self._executor is not None else []
                if self._fifo and (self._executor is not None or not drain):
                    later = accepted
                for published, targets in later:
                    order = published.sequence_number or ""
                    key = f"{OUTBOX}{self._name}:{order}:{published.message_id}"
                    published.outbox_key = key
                    store(key, published.to_data(targets))
                if later and kept is None:
                    kept = []  # the caller commits what was appended
        return results, plans, drain, kept

    def _restore_dedup(self, entries: list[tuple[str, str, str, float]], sequence: int) -> None:
        """Take back a durable FIFO topic's dedup window: (dedup id, message id, sequence
        number, expiry) entries, earliest expiry first, and its last sequence number."""
        with self._lock:
            for key, message_id, seq, expiry in entries:
                self._dedup.restore(key, message_id, expiry)
                self._dedup_results[message_id] = seq
            self._sequence = max(self._sequence, sequence)

    def _match(self, c: _Checked) -> list[Subscription]:
        """Matching subscriptions in subscription order (lock held)."""
        matched: list[Subscription] = []
        if len(self._index):
            matched = self._index.match(attributes=c.attributes, body=c.message)  # type: ignore[assignment]
        if not self._unfiltered:
            return matched
        if not matched:
            return list(self._unfiltered)
        return sorted([*matched, *self._unfiltered], key=lambda s: s._seq)

    def _dispatch(self, published: _Published, targets: list[Subscription]) -> None:
        """Deliver a standard topic's message now, or as a task on the executor."""
        if self._executor is None:
            self._deliver_all(published, targets)
            return
        future = self._executor.submit(self._deliver_all, published, targets)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _start_drain(self) -> None:
        """Deliver the FIFO outbox here, or as one task on the executor (``_draining``
        is set). One loop at a time delivers it, so any executor keeps sequence order."""
        if self._executor is None:
            self._drain()
            return
        try:
            self._executor.submit(self._drain)
        except BaseException:  # e.g. a shut-down executor: the next publish tries again
            with self._lock:
                self._draining = False
                self._outbox_done.notify_all()
            raise

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every message published so far has been delivered.

        Cost: a wait; O(1) to check.

        What can still be pending: deliveries running on the executor (``executor=``
        mode) and, on a FIFO topic, messages queued behind a delivery another thread is
        making (a publish that finds one returns once its message is queued). Returns True
        when nothing published before the call is left, False when *timeout* seconds ran
        out first. Called from inside a delivery (a subscriber) it does not wait (what it
        would wait for may be that very delivery, or queued behind it) and returns whether
        nothing is left. A synchronous standard topic has nothing pending: True at once.

        Raises:
            InvalidParameter: *timeout* is not None nor a number of seconds >= 0.
        """
        if timeout is not None:
            if (
                isinstance(timeout, bool)
                or not isinstance(timeout, int | float)
                or not timeout >= 0  # NaN included
            ):
                raise InvalidParameter(
                    "flush: timeout must be None or a number of seconds >= 0, not"
                    f" {v.shown(timeout, quoted=True)}"
                )
            if timeout >= threading.TIMEOUT_MAX:
                timeout = None  # longer than any wait can be: wait as long as needed
        with self._lock:
            target = self._queued
            pending = list(self._pending)
            take_over = False
            if self._delivered < target:
                if _delivering.depth:
                    return False
                self._outbox_done.wait_for(
                    lambda: self._delivered >= target or not self._draining, timeout
                )
                if self._delivered < target:
                    if self._draining:
                        return False  # timed out
                    # The thread delivering left by an exception: deliver the rest here.
                    self._draining = take_over = True
        if take_over:
            self._drain()
        if not pending:
            return True
        if _delivering.depth:
            # A delivery task waiting for the tasks could be waiting for itself.
            return all(future.done() for future in pending)
        _, not_done = concurrent.futures.wait(pending, timeout=timeout)
        return not not_done

    # --- delivery -----------------------------------------------------------------------------

    def _drain(self) -> None:
        """Deliver the outbox until it is empty (the caller set ``_draining``).

        A publisher that finds it running returns at once: this loop delivers its message
        in turn. Waiting for it instead could deadlock, since this thread may be waiting
        for that publisher (a subscriber joining a thread that publishes).
        """
        _delivering.depth += 1
        stepped_down = False
        try:
            while True:
                with self._lock:
                    if not self._outbox:
                        # Stepping down in the same lock hold as the emptiness check, so
                        # a plan queued meanwhile always finds a drainer or none.
                        self._draining = False
                        stepped_down = True
                        self._outbox_done.notify_all()
                        return
                    published, targets = self._outbox.popleft()
                try:
                    self._deliver_all(published, targets)
                finally:
                    with self._lock:
                        self._delivered += 1
                        self._outbox_done.notify_all()
        finally:
            _delivering.depth -= 1
            if not stepped_down:  # left by an exception (KeyboardInterrupt, ...)
                with self._lock:
                    # The next publish or flush delivers what is left.
                    self._draining = False
                    self._outbox_done.notify_all()

    def _deliver_all(self, published: _Published, targets: list[Subscription]) -> None:
        # Marked as a delivery, so a flush() from a subscriber does not wait for itself.
        _delivering.depth += 1
        try:
            for sub in targets:
                try:
                    self._deliver(sub, published)
                except Exception:  # never let one subscriber break the others
                    logger.exception("mqlite: unexpected error delivering to %s", sub.arn)
        finally:
            _delivering.depth -= 1
        key = published.outbox_key
        store = self._outbox_store
        if key is not None and store is not None:
            # Made: its stored row goes (after the deliveries' own commits).
            store(key, None)
            assert self._dedup_sync is not None
            try:
                self._dedup_sync()
            except MqliteError:  # a closed or failed file: the row stays, and is made again
                logger.warning("mqlite: could not store that %s was delivered", key)

    def _send(self, queue: Queue, sub: Subscription, p: _Published, *, raw: bool) -> None:
        """Send *p* to *queue* for *sub*: the bare text (*raw*), or the envelope.

        Both go in as a prepared send: the raw text is checked and hashed once per
        publish, whatever the number of queues; the queue makes its own checks (size,
        ids) and raises its own errors.
        """
        if raw:
            prepared = p.prepared(sub._protocol)
            if prepared[7] is not None and not queue.fifo:  # a FIFO topic's dedup id
                prepared = without_deduplication_id(prepared)
        else:
            head, tail = p.envelope(sub._protocol, self._envelope)
            prepared = prepare(
                head + sub._unsubscribe_url + tail,
                None,
                None,
                p.group_id,
                p.deduplication_id if queue.fifo else None,
            )
        queue._send(prepared)

    def _deliver(self, sub: Subscription, p: _Published) -> None:
        queue = sub._queue
        attempts = 0
        error: BaseException
        if queue is not None:
            attempts = 1
            try:
                self._send(queue, sub, p, raw=sub._raw)
            except Exception as exc:  # a rejecting queue is a client-side error: no retry
                error = exc
            else:
                sub._record_success()
                return
        else:
            handler = sub._handler
            assert handler is not None
            note = Notification(
                p.message_id,
                self._arn,
                p.subject,
                p.text_for(sub._text_key),
                p.timestamp_ms,
                dict(p.attributes),
                p.group_id,
                p.deduplication_id,
                p.sequence_number,
            )
            while True:
                attempts += 1
                try:
                    handler(note)
                except Exception as exc:
                    error = exc
                    if attempts < self._retry.attempts:
                        continue
                    break
                else:
                    sub._record_success()
                    return
        self._fail(sub, p, error, attempts)

    def _fail(self, sub: Subscription, p: _Published, error: BaseException, attempts: int) -> None:
        dlq = sub._dlq
        dead_lettered = False
        if dlq is not None:
            # A raw message the DLQ refuses too (attributes SQS cannot take) goes in as the
            # envelope, which carries the same message and attributes as JSON text.
            for raw in (True, False) if sub._raw else (False,):
                try:
                    self._send(dlq, sub, p, raw=raw)
                except Exception as exc:
                    dlq_error = exc
                else:
                    dead_lettered = True
                    break
            else:
                logger.warning(
                    "mqlite: delivery of %s to %s failed (%r) and its dead-letter queue %s"
                    " rejected it (%r)",
                    p.message_id,
                    sub.arn,
                    error,
                    dlq.name,
                    dlq_error,
                )
        if not dead_lettered and dlq is None:
            logger.warning(
                "mqlite: delivery of %s to %s failed after %d attempt(s): %r",
                p.message_id,
                sub.arn,
                attempts,
                error,
            )
        sub._record_failure(DeliveryFailure(p.message_id, error, attempts, dead_lettered))

    # --- lifecycle ----------------------------------------------------------------------------

    def _check_alive(self) -> None:
        if self._closed:
            raise Closed(f"The topic {self._name} is closed.")
        if self._deleted:
            raise NotFound("Topic does not exist")

    def _shut(self) -> None:
        """Refuse every later call (the broker is closing), and free the dedup window.
        Subscriptions stay as they are: a durable broker's file keeps them."""
        with self._lock:
            self._closed = True
            self._dedup.clear()
            self._dedup_results = {}

    def _mark_deleted(self) -> None:
        """Remove every subscription and refuse further calls (``Broker.delete_topic``)."""
        with self._lock:
            self._deleted = True
            for sub in self._subs.values():
                sub._active = False
            self._subs.clear()
            self._unfiltered.clear()
            self._index = FilterIndex()
