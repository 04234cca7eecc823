"""``RemoteTopic``: a :class:`~mqlite.topic.Topic`'s methods on one SNS topic.

Subscribers are SQS queues (``RemoteQueue``): SNS delivers to them itself. Subscribing
also adds a statement to the queue's access policy that lets the topic send to it, as the
AWS console does; without it SNS's deliveries are refused by SQS. Callable subscribers
run in this process and cannot be reached by a service: they raise
``UnsupportedOperation``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mqlite._attribute import Attribute
from mqlite._sns_validation import to_attribute as sns_attribute
from mqlite.clock import Clock
from mqlite.errors import NotFound, ParameterValueInvalid, UnsupportedOperation
from mqlite.filters import FilterPolicy
from mqlite.message import BatchResult, PublishEntry, PublishResult
from mqlite.queue import _entries
from mqlite.topic import DeliveryFailure, RetryPolicy, Subscription, Topic

from ._remote import _SHARED_CLOCK, RemoteQueue, _failures, _wire_attributes

if TYPE_CHECKING:
    from ._remote import RemoteBroker

__all__ = ["RemoteSubscription", "RemoteTopic"]

_SETTINGS = {"fifo", "content_based_deduplication", "clock"}


def create_topic(broker: RemoteBroker, name: str, settings: dict[str, Any]) -> RemoteTopic:
    """``RemoteBroker.create_topic``."""
    unknown = sorted(set(settings) - _SETTINGS)
    if unknown:
        raise TypeError(f"create_topic() got unexpected setting(s): {', '.join(unknown)}")
    if settings.get("clock") is not None:
        raise UnsupportedOperation("A remote topic keeps the service's time: it takes no clock.")
    fifo = settings.get("fifo")
    if fifo is None:
        fifo = isinstance(name, str) and name.endswith(".fifo")
    attributes: dict[str, str] = {}
    if fifo:
        attributes["FifoTopic"] = "true"
    if settings.get("content_based_deduplication"):
        attributes["ContentBasedDeduplication"] = "true"
    response = broker.call(broker.sns.create_topic, Name=name, Attributes=attributes)
    return RemoteTopic(broker, response["TopicArn"])


def _topic_arns(broker: RemoteBroker) -> list[str]:
    arns: list[str] = []
    params: dict[str, Any] = {}
    while True:
        response = broker.call(broker.sns.list_topics, **params)
        arns.extend(t["TopicArn"] for t in response.get("Topics", []))
        token = response.get("NextToken")
        if not token:
            return arns
        params["NextToken"] = token


def find_topic(broker: RemoteBroker, name: str) -> RemoteTopic:
    """``RemoteBroker.get_topic``: SNS has no lookup by name, so the list is searched."""
    for arn in _topic_arns(broker):
        if arn.rsplit(":", 1)[-1] == name:
            return RemoteTopic(broker, arn)
    raise NotFound("Topic does not exist")


def list_topics(broker: RemoteBroker) -> list[Topic]:
    """``RemoteBroker.list_topics``."""
    topics: list[Topic] = [RemoteTopic(broker, arn) for arn in _topic_arns(broker)]
    return sorted(topics, key=lambda t: t.name)


def _sns_attributes(attributes: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    if not attributes:
        return {}
    if not isinstance(attributes, Mapping):
        raise ParameterValueInvalid(
            f"Message attributes must be a mapping of name to value, not"
            f" {type(attributes).__name__}."
        )
    converted: dict[str, Attribute] = {
        # As Topic.publish converts them: a list is a String.Array.
        name: sns_attribute(name, raw)
        for name, raw in attributes.items()
    }
    return _wire_attributes(converted)


def _policy_text(policy: str | Mapping[str, Any] | FilterPolicy) -> str:
    if isinstance(policy, FilterPolicy):
        return policy.policy_json
    if isinstance(policy, str):
        return policy
    return json.dumps(policy)


class RemoteSubscription(Subscription):
    """A :class:`~mqlite.topic.Subscription`'s properties and methods on an SNS one.

    Properties are read from the service (GetSubscriptionAttributes) on first use. The
    delivery counters of a local subscription are not available: SNS reports them to
    CloudWatch.
    """

    def __init__(self, topic: RemoteTopic, arn: str, target: RemoteQueue | None) -> None:
        # No Subscription.__init__: every public member is overridden.
        self._on_topic = topic
        self._arn = arn
        self._sqs_target = target
        self._got: dict[str, str] | None = None

    @property
    def topic(self) -> RemoteTopic:
        """The topic subscribed to."""
        return self._on_topic

    @property
    def arn(self) -> str:
        """The subscription's ARN."""
        return self._arn

    @property
    def target(self) -> RemoteQueue:
        """The subscribed queue."""
        if self._sqs_target is None:
            endpoint = self._load()["Endpoint"]
            self._sqs_target = self._on_topic.broker.get_queue_by_arn(endpoint)
        return self._sqs_target

    def _load(self) -> dict[str, str]:
        if self._got is None:
            broker = self._on_topic.broker
            response = broker.call(
                broker.sns.get_subscription_attributes, SubscriptionArn=self._arn
            )
            self._got = dict(response.get("Attributes", {}))
        return self._got

    @property
    def filter_policy(self) -> FilterPolicy | None:
        """The filter policy, or None."""
        text = self._load().get("FilterPolicy")
        return FilterPolicy(text, self.filter_policy_scope) if text else None

    @property
    def filter_policy_scope(self) -> str:
        """``"MessageAttributes"`` or ``"MessageBody"``."""
        return self._load().get("FilterPolicyScope") or "MessageAttributes"

    @property
    def raw_message_delivery(self) -> bool:
        """Whether the queue gets the bare message rather than SNS's JSON envelope."""
        return self._load().get("RawMessageDelivery", "false") == "true"

    @property
    def dead_letter_queue(self) -> RemoteQueue | None:
        """Where SNS puts deliveries it could not make, or None."""
        text = self._load().get("RedrivePolicy")
        if not text:
            return None
        arn = json.loads(text)["deadLetterTargetArn"]
        return self._on_topic.broker.get_queue_by_arn(arn)

    @property
    def protocol(self) -> str:
        """Always ``"sqs"``: a remote topic delivers to queues."""
        return "sqs"

    @property
    def active(self) -> bool:
        """Whether the subscription still exists (asks the service)."""
        try:
            self._got = None
            self._load()
        except NotFound:
            return False
        return True

    def _no_counters(self) -> UnsupportedOperation:
        return UnsupportedOperation(
            "SNS does not report deliveries per subscription to its caller; see the topic's"
            " CloudWatch metrics (NumberOfNotificationsDelivered, ...Failed)."
        )

    @property
    def delivered(self) -> int:
        """Not available on a remote subscription (CloudWatch has the counts)."""
        raise self._no_counters()

    @property
    def failed(self) -> int:
        """Not available on a remote subscription (CloudWatch has the counts)."""
        raise self._no_counters()

    @property
    def dead_lettered(self) -> int:
        """Not available on a remote subscription (CloudWatch has the counts)."""
        raise self._no_counters()

    @property
    def failures(self) -> list[DeliveryFailure]:
        """Not available on a remote subscription."""
        raise self._no_counters()

    @property
    def last_error(self) -> BaseException | None:
        """Not available on a remote subscription."""
        raise self._no_counters()

    def configure(self, **changes: Any) -> None:
        """Change settings (SetSubscriptionAttributes), with ``subscribe``'s keyword names.

        Raises:
            InvalidParameter: a bad policy or value (the service's message).
        """
        broker = self._on_topic.broker
        for name, value in _subscription_attributes(changes, configuring=True).items():
            broker.call(
                broker.sns.set_subscription_attributes,
                SubscriptionArn=self._arn,
                AttributeName=name,
                AttributeValue=value,
            )
        self._got = None

    def unsubscribe(self) -> None:
        """Remove this subscription (Unsubscribe)."""
        broker = self._on_topic.broker
        broker.call(broker.sns.unsubscribe, SubscriptionArn=self._arn)

    def __repr__(self) -> str:
        return f"<RemoteSubscription {self._arn}>"


def _subscription_attributes(changes: Mapping[str, Any], *, configuring: bool) -> dict[str, str]:
    known = {"filter_policy", "filter_policy_scope", "raw_message_delivery", "dead_letter_queue"}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise TypeError(f"unexpected setting(s): {', '.join(unknown)}")
    out: dict[str, str] = {}
    if "filter_policy" in changes:
        policy = changes["filter_policy"]
        if policy is not None:
            out["FilterPolicy"] = _policy_text(policy)
        elif configuring:
            out["FilterPolicy"] = ""
    if changes.get("filter_policy_scope") is not None:
        out["FilterPolicyScope"] = str(changes["filter_policy_scope"])
    if "raw_message_delivery" in changes:
        raw = changes["raw_message_delivery"]
        if raw or configuring:
            out["RawMessageDelivery"] = str(raw).lower() if isinstance(raw, bool) else str(raw)
    if "dead_letter_queue" in changes:
        dlq = changes["dead_letter_queue"]
        if isinstance(dlq, RemoteQueue):
            out["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq.arn})
        elif dlq is not None:
            raise UnsupportedOperation(
                "The dead-letter queue of a remote subscription is a RemoteQueue, not"
                f" {type(dlq).__name__}."
            )
        elif configuring:
            out["RedrivePolicy"] = ""
    return out


def _allow_topic(queue: RemoteQueue, topic_arn: str) -> None:
    """Add to *queue*'s access policy a statement that lets *topic_arn* send to it."""
    broker = queue.broker
    got = broker.call(
        broker.sqs.get_queue_attributes,
        QueueUrl=queue.url,
        AttributeNames=["Policy", "QueueArn"],
    ).get("Attributes", {})
    queue_arn = got.get("QueueArn") or queue.arn
    policy: dict[str, Any] = (
        json.loads(got["Policy"]) if got.get("Policy") else {"Version": "2012-10-17"}
    )
    statements: list[dict[str, Any]] = policy.setdefault("Statement", [])
    sid = "topic-" + topic_arn.replace(":", "-")[-100:]
    if any(s.get("Sid") == sid for s in statements):
        return
    statements.append(
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
        }
    )
    broker.call(
        broker.sqs.set_queue_attributes,
        QueueUrl=queue.url,
        Attributes={"Policy": json.dumps(policy, separators=(",", ":"))},
    )


class RemoteTopic(Topic):
    """A :class:`~mqlite.topic.Topic`'s methods on one SNS topic (see ``connect``).

    A ``Topic`` to the type checker; it overrides every public member and keeps no local
    state. SNS delivers, so :meth:`flush` has nothing to wait for.
    """

    def __init__(self, broker: RemoteBroker, arn: str) -> None:
        # No Topic.__init__: every public member is overridden.
        self._broker = broker
        self._arn = arn
        self._name = arn.rsplit(":", 1)[-1]

    @property
    def broker(self) -> RemoteBroker:
        """The broker (and so the boto3 clients) this topic talks through."""
        return self._broker

    @property
    def name(self) -> str:
        """The topic's name."""
        return self._name

    @property
    def arn(self) -> str:
        """The topic's ARN."""
        return self._arn

    @property
    def fifo(self) -> bool:
        """Whether this is a FIFO topic (its name ends in ``.fifo``)."""
        return self._name.endswith(".fifo")

    @property
    def content_based_deduplication(self) -> bool:
        """ContentBasedDeduplication, read from the service."""
        response = self._broker.call(self._broker.sns.get_topic_attributes, TopicArn=self._arn)
        got: dict[str, str] = response.get("Attributes", {})
        return got.get("ContentBasedDeduplication") == "true"

    @property
    def clock(self) -> Clock:
        """The system clock: the service keeps time."""
        return _SHARED_CLOCK

    @property
    def retry_policy(self) -> RetryPolicy:
        """Not available: SNS retries deliveries to queues by its own policy."""
        raise UnsupportedOperation(
            "A remote topic has no retry policy of its own: SNS retries deliveries to SQS itself."
        )

    def flush(self, timeout: float | None = None) -> bool:
        """True at once: SNS delivers; there is nothing here to wait for."""
        return True

    @property
    def subscriptions(self) -> list[Subscription]:
        """Every subscription of the topic (ListSubscriptionsByTopic, every page)."""
        subs: list[Subscription] = []
        params: dict[str, Any] = {"TopicArn": self._arn}
        while True:
            response = self._broker.call(self._broker.sns.list_subscriptions_by_topic, **params)
            subs.extend(
                RemoteSubscription(self, s["SubscriptionArn"], None)
                for s in response.get("Subscriptions", [])
            )
            token = response.get("NextToken")
            if not token:
                return subs
            params["NextToken"] = token

    def __repr__(self) -> str:
        return f"<RemoteTopic {self._arn}>"

    def subscribe(
        self,
        target: Any,
        *,
        filter_policy: Any = None,
        filter_policy_scope: Any = None,
        raw_message_delivery: Any = False,
        dead_letter_queue: Any = None,
    ) -> RemoteSubscription:
        """Subscribe a :class:`RemoteQueue` (Subscribe, protocol ``sqs``).

        Also lets the topic send to the queue (a statement in the queue's Policy).

        Raises:
            UnsupportedOperation: a callable or a local ``Queue`` as target.
            InvalidParameter: a bad filter policy or setting (the service's message).
            NotFound: the topic does not exist.
        """
        if not isinstance(target, RemoteQueue):
            kind = "a callable" if callable(target) else type(target).__name__
            raise UnsupportedOperation(
                f"A remote topic delivers to remote queues only, not to {kind}: SNS cannot"
                " reach code or queues inside this process."
            )
        attributes = _subscription_attributes(
            {
                "filter_policy": filter_policy,
                "filter_policy_scope": filter_policy_scope,
                "raw_message_delivery": raw_message_delivery,
                "dead_letter_queue": dead_letter_queue,
            },
            configuring=False,
        )
        _allow_topic(target, self._arn)
        response = self._broker.call(
            self._broker.sns.subscribe,
            TopicArn=self._arn,
            Protocol="sqs",
            Endpoint=target.arn,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        return RemoteSubscription(self, response["SubscriptionArn"], target)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove *subscription* (Unsubscribe).

        Raises:
            UnsupportedOperation: a subscription of a local topic.
        """
        if not isinstance(subscription, RemoteSubscription):
            raise UnsupportedOperation(
                "A remote topic unsubscribes remote subscriptions only, not"
                f" {type(subscription).__name__}."
            )
        subscription.unsubscribe()

    def _publish_params(
        self,
        message: str,
        subject: str | None,
        attributes: Mapping[str, Any] | None,
        group_id: str | None,
        deduplication_id: str | None,
        message_structure: str | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"Message": message}
        wire = _sns_attributes(attributes)
        if wire:
            params["MessageAttributes"] = wire
        for key, value in (
            ("Subject", subject),
            ("MessageGroupId", group_id),
            ("MessageDeduplicationId", deduplication_id),
            ("MessageStructure", message_structure),
        ):
            if value is not None:
                params[key] = value
        return params

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
        """Publish one message (Publish); SNS delivers it to the matching queues.

        Raises:
            InvalidParameter, ParameterValueInvalid: as the service answers.
            NotFound: the topic does not exist.
        """
        params = self._publish_params(
            message, subject, attributes, group_id, deduplication_id, message_structure
        )
        response = self._broker.call(self._broker.sns.publish, TopicArn=self._arn, **params)
        return PublishResult(response["MessageId"], response.get("SequenceNumber"))

    def publish_batch(self, entries: Iterable[PublishEntry]) -> BatchResult[PublishResult]:
        """Publish up to 10 messages (PublishBatch); each entry succeeds or fails alone.

        Raises:
            EmptyBatchRequest, TooManyEntriesInBatchRequest, InvalidBatchEntryId,
            BatchEntryIdsNotDistinct, BatchRequestTooLong: as the service answers.
        """
        items = _entries(entries, PublishEntry)
        wire = []
        for e in items:
            params = self._publish_params(
                e.message,
                e.subject,
                e.attributes,
                e.group_id,
                e.deduplication_id,
                e.message_structure,
            )
            wire.append({"Id": e.id, **params})
        response = self._broker.call(
            self._broker.sns.publish_batch,
            TopicArn=self._arn,
            PublishBatchRequestEntries=wire,
        )
        return BatchResult(
            [
                PublishResult(ok["MessageId"], ok.get("SequenceNumber"), ok["Id"])
                for ok in response.get("Successful", [])
            ],
            _failures(response),
        )
