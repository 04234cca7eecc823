"""Dead-letter queues and redrive (spec/sqs.md §8.5, §9.1)."""

from __future__ import annotations

import pytest

from mqlite.broker import Broker
from mqlite.clock import ManualClock
from mqlite.errors import InvalidParameterValue, MqliteError
from mqlite.queue import Queue


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_moves_on_receive_that_would_exceed(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock)
    src = Queue("src", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    src.send("m")
    [m] = src.receive(visibility_timeout=0)
    assert m.receive_count == 1
    assert src.receive() == []
    assert dlq.stats().visible == 1
    assert src.stats().visible == 0


def test_no_move_without_receive(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock)
    src = Queue("src", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    src.send("m")
    src.receive(visibility_timeout=0)
    clock.advance(1000)
    assert src.stats().visible == 1
    assert dlq.stats().visible == 0


def test_n2_fifo_content_based(clock: ManualClock) -> None:
    dlq = Queue("dlq.fifo", clock=clock)
    src = Queue(
        "src.fifo",
        clock=clock,
        content_based_deduplication=True,
        dead_letter_queue=dlq,
        max_receive_count=2,
    )
    src.send("m", group_id="g")
    assert len(src.receive(visibility_timeout=0)) == 1
    assert len(src.receive(visibility_timeout=0)) == 1
    assert src.receive(visibility_timeout=0) == []
    assert dlq.stats().visible == 1


def test_moving_receive_keeps_filling(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock)
    src = Queue("src", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    src.send("poison")
    src.receive(visibility_timeout=0)
    src.send("a")
    src.send("b")
    assert sorted(m.body for m in src.receive(10)) == ["a", "b"]
    assert dlq.stats().visible == 1


def test_moved_message_keeps_identity(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock)
    src = Queue("src", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    res = src.send("m", attributes={"k": "v", "n": 3})
    [m1] = src.receive(visibility_timeout=0)
    assert src.receive() == []
    [d] = dlq.receive()
    assert d.message_id == res.message_id == m1.message_id
    assert d.body == "m"
    assert d.attributes == m1.attributes
    assert d.md5_of_attributes == res.md5_of_attributes
    assert d.md5_of_body == res.md5_of_body
    assert m1.receive_count == 1
    assert d.receive_count == 2
    assert d.sent_timestamp == m1.sent_timestamp
    rec = dlq.peek(include_in_flight=True)
    assert rec
    assert rec[0].dead_letter_source_arn == src.arn


@pytest.mark.parametrize("fifo", [False, True])
def test_dead_letter_receipt_handles_start_after_its_inherited_count(
    clock: ManualClock, fifo: bool
) -> None:
    suffix = ".fifo" if fifo else ""
    dlq = Queue(f"dlq{suffix}", clock=clock)
    src = Queue(f"src{suffix}", clock=clock, dead_letter_queue=dlq, max_receive_count=2)
    ids = {"group_id": "g", "deduplication_id": "d"} if fifo else {}
    src.send("m", **ids)  # type: ignore[arg-type]
    for _ in range(2):
        src.receive(visibility_timeout=0)
    assert src.receive() == []  # moved, with receive count 2
    [m] = dlq.receive()
    assert m.receive_count == 3
    # A handle ends in the 48-bit receive count that issued it (12 hex digits). The DLQ
    # issued only count 3: handles naming counts 1 and 2 were never handed out here.
    assert m.receipt_handle is not None
    assert m.receipt_handle.endswith(f"{3:012x}")
    for count in (1, 2):
        forged = m.receipt_handle[:-12] + f"{count:012x}"
        with pytest.raises(MqliteError) as e:
            dlq.delete(forged)
        assert e.value.code == "ReceiptHandleIsInvalid"
    assert dlq.stats().in_flight == 1  # nothing changed
    dlq.delete(m)
    assert dlq.stats().total == 0
    dlq.check_invariants()


def test_standard_keeps_retention_anchor(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock, retention=600)
    src = Queue("src", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    src.send("m")
    src.receive(visibility_timeout=0)
    clock.advance(500)
    assert src.receive() == []  # moved now
    assert dlq.stats().visible == 1
    clock.advance(100)  # 600 s after the original send
    assert dlq.stats().visible == 0


def test_dead_letters_older_than_direct_sends_expire_in_enqueue_order(
    clock: ManualClock,
) -> None:
    # The DLQ holds newer messages sent to it directly when older dead letters arrive:
    # each must still expire by its own enqueue time.
    dlq = Queue("dlq", clock=clock, retention=600)
    src = Queue("src", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    src.send("old")  # t = 0
    clock.advance(100)
    dlq.send("direct")  # t = 100
    src.receive(visibility_timeout=0)
    assert src.receive() == []  # "old" moves to the DLQ, keeping t = 0
    dlq.check_invariants()
    clock.advance(499)  # t = 599
    assert dlq.stats().visible == 2
    clock.advance(1)  # t = 600: "old" expires, "direct" stays
    assert [m.body for m in dlq.peek()] == ["direct"]
    clock.advance(100)  # t = 700: "direct" expires
    assert dlq.stats().total == 0
    dlq.check_invariants()


def test_clock_moved_back_still_expires_every_message(clock: ManualClock) -> None:
    q = Queue("q", clock=clock, retention=60)
    start = clock.time()
    q.send("first")
    clock.set(start - 30)
    q.send("earlier")  # enqueued before "first" by the clock's reading
    q.check_invariants()
    clock.set(start + 30)  # 60 s after "earlier"
    assert [m.body for m in q.peek()] == ["first"]
    clock.set(start + 60)
    assert q.stats().total == 0
    q.check_invariants()


def test_fifo_dlq_group_dedup_retention(clock: ManualClock) -> None:
    dlq = Queue("dlq.fifo", clock=clock, retention=600)
    src = Queue("src.fifo", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    r1 = src.send("m", group_id="g", deduplication_id="same")
    src.receive(visibility_timeout=0)
    clock.advance(500)
    assert src.receive() == []
    [p] = dlq.peek()
    assert p.group_id == "g"
    assert p.deduplication_id == r1.message_id
    clock.advance(599)  # retention restarted at the move
    assert dlq.stats().visible == 1
    clock.advance(1)
    assert dlq.stats().visible == 0


def test_fifo_shared_dedup_ids_do_not_collide_in_dlq(clock: ManualClock) -> None:
    dlq = Queue("dlq.fifo", clock=clock)
    a = Queue("a.fifo", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    b = Queue("b.fifo", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    for q in (a, b):
        q.send("m", group_id="g", deduplication_id="same")
        q.receive(visibility_timeout=0)
        assert q.receive() == []
    assert dlq.stats().visible == 2


def test_fifo_move_unblocks_group(broker: Broker) -> None:
    dlq = broker.create_queue("dlq.fifo")
    src = broker.create_queue(
        "src.fifo",
        dead_letter_queue=dlq,
        max_receive_count=1,
        content_based_deduplication=True,
    )
    src.send("poison", group_id="g")
    src.send("next", group_id="g")
    [_m] = src.receive(1, visibility_timeout=0)
    assert [x.body for x in src.receive(10)] == ["next"]


@pytest.mark.moto_differs("moto accepts a standard dead-letter queue for a FIFO queue")
def test_kind_mismatch(broker: Broker) -> None:
    with pytest.raises(InvalidParameterValue) as err:
        broker.create_queue("src.fifo", dead_letter_queue=broker.create_queue("dlq"))
    assert err.value.code == "InvalidParameterValue"
    assert "Dead-letter queue must be same type of queue as the source." in str(err.value)
    with pytest.raises(InvalidParameterValue):
        broker.create_queue("src", dead_letter_queue=broker.create_queue("dlq.fifo"))


def test_dead_letter_queue_must_share_the_clock(clock: ManualClock) -> None:
    # A dead letter keeps its enqueue time; judged by another clock it could expire at once.
    elsewhere = Queue("dlq")  # the system clock
    with pytest.raises(InvalidParameterValue) as err:
        Queue("src", clock=clock, dead_letter_queue=elsewhere)
    assert err.value.code == "InvalidParameterValue"
    assert "the dead-letter queue must run on the source queue's clock" in str(err.value)
    with pytest.raises(InvalidParameterValue):
        Queue("src", clock=clock, dead_letter_queue=Queue("dlq", clock=ManualClock()))
    src = Queue("src", clock=clock)
    with pytest.raises(InvalidParameterValue):
        src.configure(dead_letter_queue=elsewhere)
    assert src.dead_letter_queue is None  # nothing changed
    # Two queues on the system clock tell the same time, and so do queues of one Broker.
    assert Queue("s", dead_letter_queue=elsewhere).dead_letter_queue is elsewhere
    broker = Broker(clock=clock)
    dlq = broker.create_queue("b-dlq")
    assert broker.create_queue("b", dead_letter_queue=dlq).dead_letter_queue is dlq


@pytest.mark.parametrize("n", [0, 1001, -1])
def test_max_receive_count_range(clock: ManualClock, n: int) -> None:
    dlq = Queue("dlq", clock=clock)
    with pytest.raises(InvalidParameterValue) as err:
        Queue("src", clock=clock, dead_letter_queue=dlq, max_receive_count=n)
    assert "valid values are from 1 to 1000 both inclusive" in str(err.value)


def test_max_receive_count_bounds_accepted(broker: Broker) -> None:
    dlq = broker.create_queue("dlq")
    assert (
        broker.create_queue("a", dead_letter_queue=dlq, max_receive_count=1).max_receive_count == 1
    )
    q = broker.create_queue("b", dead_letter_queue=dlq, max_receive_count=1000)
    assert q.max_receive_count == 1000


def test_chain(clock: ManualClock) -> None:
    last = Queue("last", clock=clock)
    mid = Queue("mid", clock=clock, dead_letter_queue=last, max_receive_count=1)
    src = Queue("src", clock=clock, dead_letter_queue=mid, max_receive_count=1)
    src.send("m")
    src.receive(visibility_timeout=0)
    assert src.receive() == []
    # the count continues (2 > 1): the first receive in mid moves it on
    assert mid.receive(visibility_timeout=0) == []
    [d] = last.receive()
    assert d.body == "m"
    assert d.dead_letter_source_arn == mid.arn


def _poison(src: Queue, bodies: list[str], clock: ManualClock) -> None:
    for b in bodies:
        src.send(b)
        clock.advance(1)
    for _ in bodies:
        src.receive(10, visibility_timeout=0)
    assert src.receive(10) == []


def test_redrive_to_sources(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock)
    a = Queue("a", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    b = Queue("b", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    a.send("a1")
    b.send("b1")
    ids = {m.message_id for q in (a, b) for m in q.receive(visibility_timeout=0)}
    assert a.receive() == []
    assert b.receive() == []
    assert dlq.stats().visible == 2
    assert dlq.redrive() == 2
    [ma] = a.receive()
    [mb] = b.receive()
    assert (ma.body, mb.body) == ("a1", "b1")
    assert ma.receive_count == 1
    assert mb.receive_count == 1
    assert ma.message_id not in ids
    assert mb.message_id not in ids
    assert ma.dead_letter_source_arn is None


def test_redrive_to_destination_oldest_first_max(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock)
    src = Queue("src", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    dest = Queue("dest", clock=clock)
    _poison(src, ["m0", "m1", "m2"], clock)
    assert dlq.stats().visible == 3
    assert dlq.redrive(dest, max_messages=2) == 2
    assert [m.body for m in dest.receive(10)] == ["m0", "m1"]
    assert dlq.redrive(dest) == 1
    assert [m.body for m in dest.receive(10)] == ["m2"]
    assert dlq.redrive(dest) == 0


def test_redrive_errors(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock)
    src = Queue("src", clock=clock, dead_letter_queue=dlq)  # kept: a DLQ needs a live source
    with pytest.raises(InvalidParameterValue) as err:
        dlq.redrive(Queue("x.fifo", clock=clock))
    assert "same type" in str(err.value)
    with pytest.raises(InvalidParameterValue) as err:
        dlq.redrive(max_messages=0)
    assert "max_messages" in str(err.value)
    assert src.dead_letter_queue is dlq


def test_redrive_needs_a_dead_letter_queue(clock: ManualClock) -> None:
    plain = Queue("plain", clock=clock)
    plain.send("m")
    for call in (plain.redrive, lambda: plain.start_redrive(rate=1)):
        with pytest.raises(InvalidParameterValue) as err:
            call()
        assert str(err.value) == "Source queue must be configured as a Dead Letter Queue."
    assert plain.stats().visible == 1
    # It is one while a live queue names it, and stops being one when none does.
    broker = Broker(clock=clock)
    dlq = broker.create_queue("dlq")
    src = broker.create_queue("src", dead_letter_queue=dlq)
    broker.create_queue("other", dead_letter_queue=dlq)  # the broker keeps it alive
    assert dlq.redrive() == 0
    src.configure(dead_letter_queue=None)
    assert dlq.redrive() == 0  # "other" still names it
    broker.delete_queue("other")
    with pytest.raises(InvalidParameterValue):
        dlq.redrive()


def test_direct_messages_stay_without_destination(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock)
    src = Queue("src", clock=clock, dead_letter_queue=dlq)
    dlq.send("direct")
    assert dlq.redrive() == 0
    assert dlq.stats().visible == 1
    assert src.stats().visible == 0


def test_redrive_returns_dead_letters_to_the_queue_object_they_came_from(
    clock: ManualClock,
) -> None:
    """A dead letter names its source queue itself, not its name: a source that stopped
    naming the DLQ still gets its messages back, and a queue re-created under a deleted
    source's name does not get the old one's."""
    broker = Broker(clock=clock)
    dlq = broker.create_queue("dlq")
    old = broker.create_queue("src", dead_letter_queue=dlq, max_receive_count=1)
    moved = broker.create_queue("moved", dead_letter_queue=dlq, max_receive_count=1)
    _poison(old, ["from old"], clock)
    _poison(moved, ["from moved"], clock)
    moved.configure(dead_letter_queue=None)
    broker.delete_queue("src")
    clock.advance(60)  # SQS's wait before a name is used again
    new = broker.create_queue("src", dead_letter_queue=dlq)
    assert dlq.redrive() == 1
    assert [m.body for m in moved.receive(10)] == ["from moved"]
    assert new.stats().visible == 0
    [stays] = dlq.peek()
    assert (stays.body, stays.dead_letter_source_arn) == ("from old", old.arn)


def test_deleted_dlq_at_move_time_delivers_normally(clock: ManualClock) -> None:
    broker = Broker(clock=clock)
    dlq = broker.create_queue("dlq")
    src = broker.create_queue("src", dead_letter_queue=dlq, max_receive_count=1)
    src.send("m")
    src.receive(visibility_timeout=0)
    broker.delete_queue("dlq")
    [m] = src.receive()
    assert m.receive_count == 2


def test_errors_are_mqlite_errors(clock: ManualClock) -> None:
    with pytest.raises(MqliteError):
        Queue("src", clock=clock, dead_letter_queue=Queue("d", clock=clock), max_receive_count=0)
