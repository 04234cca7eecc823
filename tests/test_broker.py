"""Broker: CreateQueue idempotency, deletes, listing, ARNs (spec/sqs.md §2.5, §2.6)."""

from __future__ import annotations

import pytest

from mqlite.broker import Broker
from mqlite.clock import ManualClock
from mqlite.errors import (
    InvalidParameter,
    InvalidParameterValue,
    NotFound,
    QueueDeletedRecently,
    QueueDoesNotExist,
    QueueNameExists,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def broker(clock: ManualClock) -> Broker:
    return Broker(clock=clock, region="eu-west-1", account_id="123456789012")


def test_create_queue_shares_clock_region_account(broker: Broker, clock: ManualClock) -> None:
    q = broker.create_queue("jobs")
    assert q.clock is clock
    assert q.arn == "arn:aws:sqs:eu-west-1:123456789012:jobs"
    assert q.url == "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"


def test_create_queue_idempotent_same_object(broker: Broker) -> None:
    q = broker.create_queue("jobs", visibility_timeout=60)
    assert broker.create_queue("jobs") is q
    assert broker.create_queue("jobs", visibility_timeout=60) is q
    assert broker.create_queue("jobs", visibility_timeout=60.0) is q
    q.send("x")
    assert broker.create_queue("jobs", visibility_timeout=60) is q  # messages don't matter


def test_create_queue_different_value_raises(broker: Broker) -> None:
    broker.create_queue("jobs", visibility_timeout=60)
    with pytest.raises(QueueNameExists) as err:
        broker.create_queue("jobs", visibility_timeout=30)
    assert err.value.code == "QueueNameExists"
    assert str(err.value) == (
        "A queue already exists with the same name and a different value for attribute"
        " VisibilityTimeout"
    )


def test_create_queue_compares_current_value_after_configure(broker: Broker) -> None:
    q = broker.create_queue("jobs", delay=5)
    q.configure(delay=10)
    assert broker.create_queue("jobs", delay=10) is q
    with pytest.raises(QueueNameExists, match="DelaySeconds"):
        broker.create_queue("jobs", delay=5)


def test_create_queue_default_value_compared_when_given(broker: Broker) -> None:
    q = broker.create_queue("jobs")
    assert broker.create_queue("jobs", visibility_timeout=30) is q
    with pytest.raises(QueueNameExists, match="MessageRetentionPeriod"):
        broker.create_queue("jobs", retention=60)


def test_create_fifo_queue_idempotent(broker: Broker) -> None:
    q = broker.create_queue("o.fifo", content_based_deduplication=True)
    assert q.fifo
    assert broker.create_queue("o.fifo", fifo=True, content_based_deduplication=True) is q
    with pytest.raises(QueueNameExists, match="ContentBasedDeduplication"):
        broker.create_queue("o.fifo", content_based_deduplication=False)


def test_create_queue_dead_letter_compared_by_identity(broker: Broker) -> None:
    dlq = broker.create_queue("dlq")
    other = broker.create_queue("other")
    q = broker.create_queue("jobs", dead_letter_queue=dlq, max_receive_count=3)
    assert broker.create_queue("jobs", dead_letter_queue=dlq) is q
    with pytest.raises(QueueNameExists, match="RedrivePolicy"):
        broker.create_queue("jobs", dead_letter_queue=other)
    with pytest.raises(QueueNameExists, match="RedrivePolicy"):
        broker.create_queue("jobs", max_receive_count=4)


def test_create_queue_invalid_settings_create_nothing(broker: Broker) -> None:
    with pytest.raises(InvalidParameterValue):
        broker.create_queue("bad name")
    with pytest.raises(ValueError, match="VisibilityTimeout"):
        broker.create_queue("jobs", visibility_timeout=-1)
    assert broker.list_queues() == []


def test_create_queue_unknown_setting_is_type_error(broker: Broker) -> None:
    with pytest.raises(TypeError):
        broker.create_queue("jobs", colour="blue")
    with pytest.raises(TypeError):
        broker.create_queue("jobs", clock=ManualClock())


def test_get_queue(broker: Broker) -> None:
    q = broker.create_queue("jobs")
    assert broker.get_queue("jobs") is q
    assert broker.get_queue_by_arn(q.arn) is q
    with pytest.raises(QueueDoesNotExist) as err:
        broker.get_queue("nope")
    assert err.value.code == "QueueDoesNotExist"
    assert isinstance(err.value, LookupError)
    with pytest.raises(QueueDoesNotExist):
        broker.get_queue_by_arn("arn:aws:sqs:eu-west-1:123456789012:nope")
    # The name matches but the region, account or service does not: not this queue.
    for other in (
        q.arn.replace(":sqs:", ":sns:"),
        q.arn.replace(f":{q.arn.split(':')[3]}:", ":eu-north-9:"),
        q.arn.replace(f":{q.arn.split(':')[4]}:", ":999999999999:"),
        "jobs",
        "",
    ):
        with pytest.raises(QueueDoesNotExist):
            broker.get_queue_by_arn(other)


def test_list_queues_prefix_literal_sorted(broker: Broker) -> None:
    for name in ["b", "a2", "a1", "A3", "a.b", "ab"]:
        broker.create_queue(name if name != "a.b" else "a_b")
    assert [q.name for q in broker.list_queues()] == ["A3", "a1", "a2", "a_b", "ab", "b"]
    assert [q.name for q in broker.list_queues("a")] == ["a1", "a2", "a_b", "ab"]
    assert [q.name for q in broker.list_queues("a_")] == ["a_b"]
    assert broker.list_queues("zzz") == []


def test_delete_queue(broker: Broker, clock: ManualClock) -> None:
    q = broker.create_queue("jobs")
    q.send("x")
    broker.delete_queue("jobs")
    assert q.deleted
    with pytest.raises(QueueDoesNotExist):
        q.send("y")
    with pytest.raises(QueueDoesNotExist):
        q.receive()
    with pytest.raises(QueueDoesNotExist):
        broker.get_queue("jobs")
    with pytest.raises(QueueDoesNotExist):
        broker.delete_queue("jobs")
    assert broker.list_queues() == []


def test_recreate_after_delete_waits_60s(broker: Broker, clock: ManualClock) -> None:
    broker.create_queue("jobs")
    broker.delete_queue("jobs")
    clock.advance(59.9)
    with pytest.raises(QueueDeletedRecently) as err:
        broker.create_queue("jobs")
    assert err.value.code == "QueueDeletedRecently"
    broker.create_queue("other")  # other names are unaffected
    clock.advance(0.1)
    q = broker.create_queue("jobs")
    assert q.receive() == []
    assert not q.deleted


def test_deleted_names_are_forgotten_after_the_cool_down(
    broker: Broker, clock: ManualClock
) -> None:
    """The broker remembers a deleted name only for the 60 s it is needed."""
    for i in range(1000):
        broker.create_queue(f"q{i}")
        broker.delete_queue(f"q{i}")
        clock.advance(0.01)
    assert len(broker._deleted_at) == 1000
    clock.advance(59.9)  # the first ~990 deletes are now older than 60 s
    broker.create_queue("later")
    assert 0 < len(broker._deleted_at) <= 20
    with pytest.raises(QueueDeletedRecently):
        broker.create_queue("q999")  # deleted 59.9 s ago: still remembered
    clock.advance(1)
    broker.delete_queue("later")
    assert set(broker._deleted_at) == {"later"}
    broker.create_queue("q999")


def test_deleted_name_deleted_again_keeps_its_latest_time(
    broker: Broker, clock: ManualClock
) -> None:
    broker.create_queue("jobs")
    broker.delete_queue("jobs")
    clock.advance(60)
    broker.create_queue("jobs")
    clock.advance(30)
    broker.delete_queue("jobs")  # its first delete's entry expires now, this one must not
    clock.advance(31)
    broker.create_queue("x")
    with pytest.raises(QueueDeletedRecently):
        broker.create_queue("jobs")
    clock.advance(29)
    broker.create_queue("jobs")


def test_deleting_dead_letter_queue_sources_deliver_normally(
    broker: Broker, clock: ManualClock
) -> None:
    dlq = broker.create_queue("dlq")
    src = broker.create_queue("src", dead_letter_queue=dlq, max_receive_count=1)
    src.send("m")
    [_m] = src.receive(visibility_timeout=1)
    clock.advance(1)
    broker.delete_queue("dlq")
    again = src.receive()
    assert [x.body for x in again] == ["m"]
    assert again[0].receive_count == 2


def test_brokers_are_independent(clock: ManualClock) -> None:
    a, b = Broker(clock=clock), Broker(clock=clock)
    qa = a.create_queue("jobs")
    qb = b.create_queue("jobs")
    assert qa is not qb
    assert a.list_queues() == [qa]


def test_default_broker_uses_system_clock() -> None:
    broker = Broker()
    q = broker.create_queue("jobs")
    assert q.arn == "arn:aws:sqs:us-east-1:000000000000:jobs"


def test_topics(broker: Broker, clock: ManualClock) -> None:
    t = broker.create_topic("news")
    assert broker.create_topic("news") is t
    assert broker.get_topic("news") is t
    assert "eu-west-1:123456789012:news" in t.arn
    broker.create_topic("alerts")
    assert [x.name for x in broker.list_topics()] == ["alerts", "news"]
    broker.delete_topic("news")
    with pytest.raises(NotFound) as err:
        broker.get_topic("news")
    assert err.value.code == "NotFound"
    assert str(err.value) == "Topic does not exist"
    broker.delete_topic("news")  # idempotent


def test_get_unknown_topic(broker: Broker) -> None:
    with pytest.raises(NotFound, match="Topic does not exist"):
        broker.get_topic("nope")
    assert broker.list_topics() == []


def test_topic_shares_clock_and_idempotency(broker: Broker, clock: ManualClock) -> None:
    t = broker.create_topic("events.fifo", content_based_deduplication=True)
    assert t.clock is clock
    assert t.fifo
    assert t.arn == "arn:aws:sns:eu-west-1:123456789012:events.fifo"
    assert broker.create_topic("events.fifo", content_based_deduplication=True) is t
    with pytest.raises(InvalidParameter) as err:
        broker.create_topic("events.fifo", content_based_deduplication=False)
    assert err.value.code == "InvalidParameter"


def test_deleted_topic_refuses_publish(broker: Broker) -> None:
    t = broker.create_topic("news")
    q = broker.create_queue("inbox")
    t.subscribe(q)
    broker.delete_topic("news")
    with pytest.raises(NotFound):
        t.publish("m")
    assert q.stats().visible == 0
    assert broker.create_topic("news") is not t
