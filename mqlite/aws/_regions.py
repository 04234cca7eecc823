"""The state behind an AWS endpoint: one :class:`~mqlite.Broker` per region.

Every region shares one clock and one account. What SQS keeps about a queue that mqlite's
core has no use for (tags, the access policy, encryption settings, timestamps of creation
and change) is kept here, beside the queue it belongs to; the same for SNS topics (display
name, policies, tags) and subscriptions (delivery policy, role ARN), and for subscriptions
the core cannot hold at all (e-mail, SMS, HTTP and other endpoints mqlite does not deliver to).

With a *path*, the regions are durable: *path* is a directory holding one broker file per
region, ``<region>.mqlite`` (a ``Broker(path=...)`` each, made on the region's first use),
and a ``server.lock`` file that keeps a second server off the directory while this one has
it. Every region file already there is opened at once, so its queues and topics are served
and listed from the start. The extras above are stored in the region's file too, through
the broker's own small API (``Broker._save_extra`` / ``Broker._extras``: this module never
touches SQLite): a queue's as ``sqs-queue:<name>``, a topic's, with its endpoint
subscriptions and its core subscriptions' extras, as ``sns-topic:<name>``. Each change is
committed before the request that made it is answered, and the region's broker deletes them
with their queue or topic. FIFO receive attempts (``ReceiveRequestAttemptId``, a five-minute
retry window) are stored one per key, ``sqs-attempt:<queue>:<attempt id>``, with the messages
they returned; each is deleted when a later receive on its queue finds its window ended
(or at opening), and a spent one is stored without its messages.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import weakref
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import attrs

from mqlite._store import check_durability
from mqlite.broker import QUEUE_ATTEMPTS, QUEUE_EXTRAS, TOPIC_EXTRAS, Broker
from mqlite.clock import Clock, SystemClock
from mqlite.errors import Closed, InvalidParameterValue, MqliteError, StorageError
from mqlite.filters import FilterPolicy
from mqlite.message import Attribute, Message

from ._http_delivery import HttpSender, HttpTarget

if TYPE_CHECKING:
    from mqlite.queue import Queue
    from mqlite.topic import Subscription, Topic

__all__ = [
    "EndpointSubscription",
    "QueueExtras",
    "ReceiveAttempt",
    "Regions",
    "SubscriptionExtras",
    "TopicExtras",
]


@attrs.define
class ReceiveAttempt:
    """A FIFO receive a client may retry with the same ``ReceiveRequestAttemptId``."""

    expires: float
    messages: list[Message]
    #: A message of it was deleted or had its visibility changed: a retry is refused.
    spent: bool = False

    @property
    def handles(self) -> list[str]:
        """The receipt handles it returned (every received message has one)."""
        return [m.receipt_handle for m in self.messages if m.receipt_handle is not None]

    def to_data(self) -> dict[str, Any]:
        """JSON-able, for a durable region's file (a spent attempt keeps no messages: a
        retry of it is refused whatever they were)."""
        messages = [] if self.spent else [_message_data(m) for m in self.messages]
        return {"expires": self.expires, "spent": self.spent, "messages": messages}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ReceiveAttempt:
        """The attempt :meth:`to_data` gave."""
        return cls(data["expires"], [_message_from(m) for m in data["messages"]], data["spent"])


def _attempt_key(queue_name: str, attempt_id: str) -> str:
    """The extras key of a stored receive attempt (queue names hold no ``:``)."""
    return f"{QUEUE_ATTEMPTS}{queue_name}:{attempt_id}"


def _message_data(message: Message) -> list[Any]:
    fields: list[Any] = list(message)
    # Each attribute as [type, text value, is binary]; a binary value in base64.
    fields[5] = {
        name: [a.data_type, base64.b64encode(a.value).decode("ascii"), True]
        if isinstance(a.value, bytes)
        else [a.data_type, a.value, False]
        for name, a in message.attributes.items()
    }
    return fields


def _message_from(fields: list[Any]) -> Message:
    fields[5] = {
        name: Attribute(data_type, base64.b64decode(value) if binary else value)
        for name, (data_type, value, binary) in fields[5].items()
    }
    return Message(*fields)


@attrs.define
class QueueExtras:
    """SQS queue attributes stored as data only: mqlite does no authorisation or encryption."""

    created: int
    modified: int
    tags: dict[str, str] = attrs.Factory(dict)
    #: Stored, settable attributes without behaviour (Policy, RedriveAllowPolicy, Kms*, ...).
    stored: dict[str, str] = attrs.Factory(dict)
    #: FIFO receives by attempt id, oldest first (so expired ones are dropped from the front).
    attempts: dict[str, ReceiveAttempt] = attrs.Factory(dict)
    #: The attempt each receipt handle was returned by.
    attempt_of: dict[str, str] = attrs.Factory(dict)
    #: Held while :attr:`attempts` and :attr:`attempt_of` are read or changed: requests
    #: are served by many threads at once.
    attempts_lock: threading.Lock = attrs.field(factory=threading.Lock, eq=False, repr=False)

    def forget_attempts(self, now: float) -> list[str]:
        """Drop attempts past their 5-minute window, returning their ids: amortised O(1)
        per attempt."""
        gone: list[str] = []
        while self.attempts:
            attempt_id, attempt = next(iter(self.attempts.items()))
            if attempt.expires > now:
                break
            del self.attempts[attempt_id]
            gone.append(attempt_id)
            for handle in attempt.handles:
                self.attempt_of.pop(handle, None)
        return gone

    def touched(self, handle: str) -> str | None:
        """A message was deleted or its visibility changed through *handle*: the id of
        the attempt this made spent, if one was not already."""
        attempt_id = self.attempt_of.pop(handle, None)
        if attempt_id is None:
            return None
        attempt = self.attempts.get(attempt_id)
        if attempt is None or attempt.spent:
            return None
        attempt.spent = True
        return attempt_id


@attrs.define
class EndpointSubscription:
    """A subscription to an endpoint outside this process: kept, listed and configured.

    E-mail, SMS, Lambda, Firehose and mobile endpoints, and SQS queues that do not exist in
    this account (yet), are never sent anything. HTTP(S) endpoints are sent their
    confirmation request, and once confirmed, every message (through :attr:`delivery`).
    """

    arn: str
    protocol: str
    endpoint: str
    #: True until ConfirmSubscription is called with :attr:`token`.
    pending: bool
    token: str
    filter_policy: FilterPolicy | None = None
    filter_policy_scope: str = "MessageAttributes"
    raw_message_delivery: bool = False
    #: Stored attributes without behaviour here (DeliveryPolicy, RedrivePolicy, ...).
    stored: dict[str, str] = attrs.Factory(dict)
    #: A confirmed http(s) subscription's delivery: the core subscription that POSTs.
    delivery: Subscription | None = None


@attrs.define
class TopicExtras:
    """SNS topic attributes stored as data only, tags, and endpoint subscriptions."""

    #: The current ContentBasedDeduplication (the core keeps the value the topic was made with).
    content_based_deduplication: bool
    tags: dict[str, str] = attrs.Factory(dict)
    #: Settable attributes without behaviour (DisplayName, Policy, DeliveryPolicy, ...).
    stored: dict[str, str] = attrs.Factory(dict)
    #: Subscriptions the core does not hold, by ARN, oldest first.
    endpoints: dict[str, EndpointSubscription] = attrs.Factory(dict)
    #: The ARN of each endpoint subscription, by (protocol, endpoint): Subscribe's key.
    endpoint_keys: dict[tuple[str, str], str] = attrs.Factory(dict)
    #: Core subscriptions by ARN, so finding one is not a scan of the topic's.
    by_arn: weakref.WeakValueDictionary[str, Subscription] = attrs.Factory(
        weakref.WeakValueDictionary
    )


@attrs.define
class SubscriptionExtras:
    """Attributes of a core subscription that the core has no use for."""

    stored: dict[str, str] = attrs.Factory(dict)
    #: Whether Subscribe made it (a re-subscribe then compares the stored attributes).
    subscribed: bool = False
    #: The RedrivePolicy text as set, and the queue it named when it was set.
    redrive_policy: str | None = None
    redrive_queue: Queue | None = None


#: A region's file in a durable directory: ``<region>.mqlite``.
_SUFFIX = ".mqlite"
#: Region names as the wire reads them (a signature's scope, an ARN), short enough to be
#: a file name everywhere: nothing else becomes a file.
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
#: The file whose lock keeps a second server off a durable directory.
_LOCK_NAME = "server.lock"


class Regions:
    """Per-region brokers sharing a clock and an account, made on first use.

    ``path=None`` keeps every region in memory. With a *path* (a directory, made if
    missing), each region is a durable ``Broker(path=<path>/<region>.mqlite,
    durability=durability)``; the regions already stored there are opened now, and
    :meth:`close` closes them. Raises ``StorageError`` when *path* is not a directory or
    another server holds it, or a region file there cannot be opened (open elsewhere,
    damaged, not mqlite's: see ``Broker``); ``InvalidParameterValue`` for a *durability*
    other than ``"crash"`` or ``"power"``.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        account_id: str = "000000000000",
        path: str | os.PathLike[str] | None = None,
        durability: str = "crash",
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.account_id = account_id
        #: The directory of the region files, or None when every region is in memory.
        self.path: Path | None = Path(path) if path is not None else None
        # Checked now: an empty directory opens no broker until the first request.
        self.durability = check_durability(durability)
        self._lock = threading.Lock()
        self._brokers: dict[str, Broker] = {}
        self._lock_file: IO[bytes] | None = None
        self._extras: weakref.WeakKeyDictionary[Queue, QueueExtras] = weakref.WeakKeyDictionary()
        self._topic_extras: weakref.WeakKeyDictionary[Topic, TopicExtras] = (
            weakref.WeakKeyDictionary()
        )
        self._subscription_extras: weakref.WeakKeyDictionary[Subscription, SubscriptionExtras] = (
            weakref.WeakKeyDictionary()
        )
        #: Serialises CreateTopic and Subscribe, which check before they change.
        self.sns_lock = threading.RLock()
        self._http_sender: HttpSender | None = None
        #: Durable regions only: False once closed, until :meth:`reopen`.
        self._open_now = False
        # Serialises taking and storing a snapshot, so a later state is never overwritten
        # by an earlier one.
        self._save_lock = threading.Lock()
        if self.path is not None:
            self.reopen()

    def reopen(self) -> None:
        """Durable regions: open the directory again after :meth:`close` (else nothing).

        Raises what the constructor raises for a directory it cannot have.
        """
        if self.path is None or self._open_now:
            return
        path = self.path
        if path.exists() and not path.is_dir():
            raise StorageError(
                f"{str(path)!r} is not a directory: durable server state is a directory"
                " holding one file per region."
            )
        path.mkdir(parents=True, exist_ok=True)
        lock_file = _lock_directory(path)
        with self._lock:
            self._lock_file = lock_file
            self._open_now = True
        try:
            for entry in sorted(path.iterdir()):
                region = entry.name[: -len(_SUFFIX)]
                if entry.name.endswith(_SUFFIX) and _REGION.fullmatch(region):
                    self.broker(region)
        except BaseException:
            self.close()
            raise

    def _open(self, region: str) -> Broker:
        if self.path is None:
            return Broker(clock=self.clock, region=region, account_id=self.account_id)
        if not _REGION.fullmatch(region):
            raise InvalidParameterValue(f"The region {region!r} is not a valid region name.")
        return Broker(
            clock=self.clock,
            region=region,
            account_id=self.account_id,
            path=self.path / f"{region}{_SUFFIX}",
            durability=self.durability,
        )

    def broker(self, region: str = "us-east-1") -> Broker:
        """The broker behind *region*, made on first use (in a durable directory, its file).

        Raises:
            InvalidParameterValue: durable regions only: *region* is not a region name.
            Closed: durable regions only, after :meth:`close`.
            StorageError: its file cannot be opened (see ``Broker``).
        """
        with self._lock:
            broker = self._brokers.get(region)
            if broker is None:
                if self.path is not None and not self._open_now:
                    raise Closed("The server's durable state is closed.")
                broker = self._open(region)
                self._brokers[region] = broker
                if self.path is not None:
                    try:
                        self._restore(broker)
                    except BaseException:
                        del self._brokers[region]
                        broker.close()
                        raise
            return broker

    def extras(self, queue: Queue) -> QueueExtras:
        """What the wire keeps about *queue* beyond its settings (made, and in a durable
        directory stored, on first use: a queue made in Python is created then)."""
        with self._lock:
            extras = self._extras.get(queue)
            if extras is not None:
                return extras
            now = int(self.clock.time())
            extras = QueueExtras(created=now, modified=now)
            self._extras[queue] = extras
        self.save_queue(queue)
        return extras

    # --- storing (durable regions) ---------------------------------------------------------

    def _broker_of(self, arn: str) -> Broker | None:
        """The durable broker an ARN's region has open, else ``None`` (nothing to store)."""
        if self.path is None:
            return None
        with self._lock:
            return self._brokers.get(arn.split(":")[3])

    def save_queue(self, queue: Queue) -> None:
        """Store what is kept here about *queue* (durable regions; else nothing), committed
        before this returns. Call it after every change."""
        broker = self._broker_of(queue.arn)
        if broker is None or queue.deleted:
            return
        with self._save_lock:
            with self._lock:
                extras = self._extras.get(queue)
            if extras is None:
                return
            # Move tasks keep their rates themselves (``move:<name>``); written here too
            # for readers of files made before that.
            rates = {
                task._task_id: max(1, round(task.rate))
                for task in queue._dead_letters.history(queue)
                if task._rate_given
            }
            broker._save_extra(
                f"{QUEUE_EXTRAS}{queue.name}",
                {
                    "created": extras.created,
                    "modified": extras.modified,
                    "tags": dict(extras.tags),
                    "stored": dict(extras.stored),
                    "task_rates": rates,
                },
            )

    def save_attempt(self, queue: Queue, attempt_id: str) -> None:
        """Store *queue*'s receive attempt *attempt_id* as it is now (durable regions; else
        nothing), committed before this returns."""
        broker = self._broker_of(queue.arn)
        if broker is None or queue.deleted:
            return
        with self._lock:
            extras = self._extras.get(queue)
            attempt = None if extras is None else extras.attempts.get(attempt_id)
        if attempt is not None:
            broker._save_extra(_attempt_key(queue.name, attempt_id), attempt.to_data())

    def drop_attempts(self, queue: Queue, attempt_ids: list[str]) -> None:
        """Delete *queue*'s stored receive attempts *attempt_ids* (their window ended), in
        one commit (durable regions; else nothing)."""
        broker = self._broker_of(queue.arn)
        if broker is not None and attempt_ids:
            broker._drop_extras([_attempt_key(queue.name, each) for each in attempt_ids])

    def save_topic(self, topic: Topic) -> None:
        """Store what is kept here about *topic*, its endpoint subscriptions and its core
        subscriptions (durable regions; else nothing), committed before this returns."""
        broker = self._broker_of(topic.arn)
        if broker is None:
            return
        try:
            if broker.get_topic(topic.name) is not topic:
                return  # deleted: its extras went with it
        except MqliteError:
            return
        with self._save_lock:
            with self._lock:
                extras = self._topic_extras.get(topic)
                subs = {
                    sub.arn: each
                    for sub in topic.subscriptions
                    if (each := self._subscription_extras.get(sub)) is not None
                }
            if extras is None:
                extras = self.topic_extras(topic)
            broker._save_extra(
                f"{TOPIC_EXTRAS}{topic.name}",
                {
                    "content_based_deduplication": extras.content_based_deduplication,
                    "tags": dict(extras.tags),
                    "stored": dict(extras.stored),
                    "endpoints": [_endpoint_row(e) for e in list(extras.endpoints.values())],
                    "subscriptions": {
                        arn: {
                            "stored": dict(each.stored),
                            "subscribed": each.subscribed,
                            "redrive_policy": each.redrive_policy,
                            "redrive_queue": None
                            if each.redrive_queue is None
                            else each.redrive_queue.name,
                        }
                        for arn, each in subs.items()
                    },
                },
            )

    def _restore(self, broker: Broker) -> None:
        """Put back what a durable *broker*'s file keeps for this layer (lock held)."""
        for key, data in broker._extras(QUEUE_EXTRAS).items():
            try:
                queue = broker.get_queue(key[len(QUEUE_EXTRAS) :])
            except MqliteError:
                continue
            self._extras[queue] = QueueExtras(
                created=data["created"],
                modified=data["modified"],
                tags=data["tags"],
                stored=data["stored"],
            )
            # Files made before move tasks kept this themselves: a rate recorded here
            # was given, so store that with the task.
            rates = data.get("task_rates", {})
            for task in queue._dead_letters.history(queue):
                if task._task_id in rates and not task._rate_given:
                    task._rate_given = True
                    broker._save_tasks(task)
        self._restore_attempts(broker)
        for key, data in broker._extras(TOPIC_EXTRAS).items():
            try:
                topic = broker.get_topic(key[len(TOPIC_EXTRAS) :])
            except MqliteError:
                continue
            extras = TopicExtras(
                data["content_based_deduplication"], tags=data["tags"], stored=data["stored"]
            )
            self._topic_extras[topic] = extras
            for row in data["endpoints"]:
                endpoint = _endpoint_from(row)
                extras.endpoints[endpoint.arn] = endpoint
                extras.endpoint_keys[endpoint.protocol, endpoint.endpoint] = endpoint.arn
                if not endpoint.pending:
                    self._deliver(topic, endpoint, self._sender_locked())
            kept = data["subscriptions"]
            for sub in topic.subscriptions:
                row = kept.get(sub.arn)
                if row is None:
                    continue
                dlq_name = row["redrive_queue"]
                self._subscription_extras[sub] = SubscriptionExtras(
                    stored=row["stored"],
                    subscribed=row["subscribed"],
                    redrive_policy=row["redrive_policy"],
                    redrive_queue=None if dlq_name is None else _queue_or_none(broker, dlq_name),
                )
                extras.by_arn[sub.arn] = sub

    def _restore_attempts(self, broker: Broker) -> None:
        """Put back the FIFO receive attempts still inside their window (lock held), oldest
        first; the others are deleted from the file."""
        now = self.clock.time()
        ended: list[str] = []
        kept: list[tuple[float, QueueExtras, str, ReceiveAttempt]] = []
        for key, data in broker._extras(QUEUE_ATTEMPTS).items():
            name, _, attempt_id = key[len(QUEUE_ATTEMPTS) :].partition(":")
            try:
                extras = self._extras.get(broker.get_queue(name))
            except MqliteError:
                extras = None
            if extras is None or data["expires"] <= now:
                ended.append(key)
                continue
            kept.append((data["expires"], extras, attempt_id, ReceiveAttempt.from_data(data)))
        kept.sort(key=lambda each: each[0])
        for _, extras, attempt_id, attempt in kept:
            extras.attempts[attempt_id] = attempt
            for handle in attempt.handles:
                extras.attempt_of[handle] = attempt_id
        broker._drop_extras(ended)

    def start_delivery(self, topic: Topic, subscription: EndpointSubscription) -> None:
        """Deliver to a confirmed http(s) *subscription* (a core subscription that POSTs:
        filtering, ordering and counts are the core's). Other protocols: nothing."""
        self._deliver(topic, subscription, self.http_sender)

    @staticmethod
    def _deliver(topic: Topic, subscription: EndpointSubscription, sender: HttpSender) -> None:
        if subscription.protocol not in ("http", "https") or subscription.delivery is not None:
            return
        target = HttpTarget(
            sender,
            subscription.endpoint,
            subscription.arn,
            topic.arn.split(":")[3],
            lambda: subscription.raw_message_delivery,
            topic.arn,
        )
        subscription.delivery = topic.subscribe(
            target,
            filter_policy=subscription.filter_policy,
            filter_policy_scope=subscription.filter_policy_scope,
        )

    @property
    def http_sender(self) -> HttpSender:
        """What POSTs to http(s) subscriptions, made on first use."""
        with self._lock:
            return self._sender_locked()

    def _sender_locked(self) -> HttpSender:
        if self._http_sender is None:
            self._http_sender = HttpSender()
        return self._http_sender

    def close(self) -> None:
        """Stop background work (POSTs to http(s) subscriptions) once what is queued is sent.

        Durable regions: then close every region's file and free the directory. Safe to
        call twice.
        """
        with self._lock:
            sender, self._http_sender = self._http_sender, None
        if sender is not None:
            sender.close()
        if self.path is None:
            return
        with self._lock:
            brokers = list(self._brokers.values())
            self._brokers.clear()
            lock_file, self._lock_file = self._lock_file, None
            self._open_now = False
        for broker in brokers:
            broker.close()
        if lock_file is not None:
            lock_file.close()  # closing the descriptor releases its lock

    def topic_extras(self, topic: Topic) -> TopicExtras:
        """What the wire keeps about *topic* beyond the core's settings."""
        with self._lock:
            extras = self._topic_extras.get(topic)
            if extras is None:
                extras = TopicExtras(topic.content_based_deduplication)
                self._topic_extras[topic] = extras
            return extras

    def subscription_extras(self, subscription: Subscription) -> SubscriptionExtras:
        """What the wire keeps about a core *subscription* beyond its settings."""
        with self._lock:
            extras = self._subscription_extras.get(subscription)
            if extras is None:
                extras = SubscriptionExtras()
                self._subscription_extras[subscription] = extras
            return extras


def _queue_or_none(broker: Broker, name: str) -> Queue | None:
    try:
        return broker.get_queue(name)
    except MqliteError:
        return None


def _endpoint_row(endpoint: EndpointSubscription) -> dict[str, Any]:
    policy = endpoint.filter_policy
    return {
        "arn": endpoint.arn,
        "protocol": endpoint.protocol,
        "endpoint": endpoint.endpoint,
        "pending": endpoint.pending,
        "token": endpoint.token,
        "filter_policy": None if policy is None else policy.policy_json,
        "filter_policy_scope": endpoint.filter_policy_scope,
        "raw_message_delivery": endpoint.raw_message_delivery,
        "stored": dict(endpoint.stored),
    }


def _endpoint_from(row: dict[str, Any]) -> EndpointSubscription:
    scope = row["filter_policy_scope"]
    text = row["filter_policy"]
    return EndpointSubscription(
        arn=row["arn"],
        protocol=row["protocol"],
        endpoint=row["endpoint"],
        pending=row["pending"],
        token=row["token"],
        filter_policy=None if text is None else FilterPolicy(text, scope),
        filter_policy_scope=scope,
        raw_message_delivery=row["raw_message_delivery"],
        stored=row["stored"],
    )


def _lock_directory(path: Path) -> IO[bytes] | None:
    """Hold an exclusive lock on *path*'s lock file, or raise if another server holds it.

    Each region's file refuses a second opener by itself; the lock also covers regions
    not made yet. Without ``fcntl`` (Windows) the region files' own locks are all there is.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - POSIX only
        return None
    lock_file = open(path / _LOCK_NAME, "ab")  # noqa: SIM115 - held open until close()
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock_file.close()
        raise StorageError(
            f"The directory {str(path)!r} is in use by another mqlite server."
        ) from None
    return lock_file
