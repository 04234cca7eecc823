"""A durable broker's move tasks, FIFO topic dedup windows and extras across a reopen."""

from __future__ import annotations

import shutil
from pathlib import Path

from _durable_support import dead_lettered

from mqlite import Broker, ManualClock
from mqlite._redrive import CANCELLED, COMPLETED, RUNNING, RedriveTask


def _listed(task: RedriveTask) -> tuple[object, ...]:
    return (
        task.handle,
        task.status,
        task.moved,
        task.to_move,
        task.started_timestamp,
        task.rate,
        task.destination_arn,
        task.failure_reason,
    )


def test_a_running_move_task_goes_on_after_a_reopen_counting_time_while_closed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.db"
    clock = ManualClock(1_000)
    with Broker(path=path, clock=clock) as broker:
        _, dlq = dead_lettered(clock, 6, broker=broker)
        task = dlq.start_redrive(rate=1)
        clock.advance(2)
        assert task.wait_until_idle()
        before = _listed(task)
        assert before[1:3] == (RUNNING, 2)
    # Closing stops the task's thread as stored: it goes on in the reopened broker.
    task.join(5)
    assert not task._thread.is_alive()
    assert _listed(task) == before
    # The same task, in a twin broker that never closes, for comparison.
    twin_clock = ManualClock(1_000)
    twin = Broker(clock=twin_clock)
    _, twin_dlq = dead_lettered(twin_clock, 6, broker=twin)
    twin_task = twin_dlq.start_redrive(rate=1)
    twin_clock.advance(2)
    assert twin_task.wait_until_idle()

    clock.advance(1.5)  # while closed: one more move is due
    twin_clock.advance(1.5)
    with Broker(path=path, clock=clock) as broker:
        src, dlq = broker.get_queue("src"), broker.get_queue("dlq")
        [restored] = dlq.redrive_tasks(10)
        assert restored.wait_until_idle()
        assert twin_task.wait_until_idle()
        assert restored.handle == before[0]
        assert _listed(restored)[1:] == _listed(twin_task)[1:]
        assert _listed(restored)[1:3] == (RUNNING, 3)
        assert sorted(m.body for m in src.peek()) == ["m0", "m1", "m2"]
        clock.advance(10)
        twin_clock.advance(10)
        assert restored.wait_until_idle()
        assert twin_task.wait_until_idle()
        assert _listed(restored)[1:] == _listed(twin_task)[1:]
        assert (restored.status, restored.moved) == (COMPLETED, 6)
        assert dlq.stats().visible == 0
        assert src.stats().visible == 6
    with Broker(path=path, clock=clock) as broker:
        [ended] = broker.get_queue("dlq").redrive_tasks(10)
        assert (ended.status, ended.moved, ended.to_move) == (COMPLETED, 6, 6)
        assert ended.handle is None
    twin.close()


def test_ended_move_tasks_and_a_cancel_by_handle_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    clock = ManualClock(1_000)
    with Broker(path=path, clock=clock) as broker:
        _, dlq = dead_lettered(clock, 4, broker=broker)
        dest = broker.create_queue("dest")
        first = dlq.start_redrive(dest, rate=2)
        clock.advance(0.5)
        assert first.wait_until_idle()
        assert first.cancel() == 1
        second = dlq.start_redrive(rate=1)
        assert second.handle is not None
        handle = second.handle
        started = second.started_timestamp
    with Broker(path=path, clock=clock) as broker:
        dlq = broker.get_queue("dlq")
        newest, oldest = dlq.redrive_tasks(10)
        assert (oldest.status, oldest.moved, oldest.to_move) == (CANCELLED, 1, 4)
        assert oldest.destination is broker.get_queue("dest")
        assert oldest.rate == 2
        assert (newest.status, newest.handle, newest.started_timestamp) == (
            RUNNING,
            handle,
            started,
        )
        assert broker.cancel_redrive(handle) == 0
    with Broker(path=path, clock=clock) as broker:
        assert [t.status for t in broker.get_queue("dlq").redrive_tasks(10)] == [
            CANCELLED,
            CANCELLED,
        ]
        assert broker.get_queue("dest").stats().visible == 1


def test_a_fifo_topic_deduplicates_across_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    clock = ManualClock(1_000)
    with Broker(path=path, clock=clock) as broker:
        queue = broker.create_queue("q.fifo")
        topic = broker.create_topic("t.fifo")
        topic.subscribe(queue, raw_message_delivery=True)
        first = topic.publish("a", group_id="g", deduplication_id="x")
        second = topic.publish("b", group_id="g", deduplication_id="y")
    clock.advance(200)  # inside the 5-minute window
    with Broker(path=path, clock=clock) as broker:
        topic, queue = broker.get_topic("t.fifo"), broker.get_queue("q.fifo")
        again = topic.publish("a again", group_id="g", deduplication_id="x")
        assert (again.message_id, again.sequence_number) == (
            first.message_id,
            first.sequence_number,
        )
        third = topic.publish("c", group_id="g", deduplication_id="z")
        assert third.sequence_number is not None
        assert second.sequence_number is not None
        assert int(third.sequence_number) == int(second.sequence_number) + 1
        assert [m.body for m in queue.receive(10)] == ["a", "b", "c"]
    clock.advance(100.5)  # "x" and "y" have left the window, "z" has not
    with Broker(path=path, clock=clock) as broker:
        topic = broker.get_topic("t.fifo")
        assert topic.publish("x", group_id="g", deduplication_id="x").message_id != (
            first.message_id
        )
        assert topic.publish("z", group_id="g", deduplication_id="z").message_id == (
            third.message_id
        )
        broker.delete_topic("t.fifo")
        broker.create_topic("t.fifo")
    with Broker(path=path, clock=clock) as broker:
        # A deleted topic's window went with it.
        result = broker.get_topic("t.fifo").publish("z", group_id="g", deduplication_id="z")
        assert result.message_id != third.message_id


def test_extras_are_stored_and_go_with_their_queue_or_topic(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    with Broker(path=path) as broker:
        broker.create_queue("q")
        broker.create_topic("t")
        broker._save_extra("sqs-queue:q", {"tags": {"a": "1"}})
        broker._save_extra("sns-topic:t", {"stored": {"DisplayName": "T"}})
        broker._save_extra("other", [1, 2])
        broker._save_extra("other", None)
        assert broker._extras("sqs-") == {"sqs-queue:q": {"tags": {"a": "1"}}}
    with Broker(path=path) as broker:
        assert broker._extras("") == {
            "sqs-queue:q": {"tags": {"a": "1"}},
            "sns-topic:t": {"stored": {"DisplayName": "T"}},
        }
        broker.delete_queue("q")
        broker.delete_topic("t")
    with Broker(path=path) as broker:
        assert broker._extras("") == {}


def test_an_in_memory_broker_stores_nothing() -> None:
    broker = Broker()
    broker._save_extra("sqs-queue:q", {"tags": {}})
    assert broker._extras("") == {}
    topic = broker.create_topic("t.fifo")
    assert topic._dedup_store is None
    assert broker._dead_letters.on_task_change is None


def test_a_crash_between_a_move_and_its_count_moves_nothing_twice(tmp_path: Path) -> None:
    # A kill after a move is committed but before the task's new count is stored: the
    # reopened task moves every message exactly once; the move whose count was not
    # stored is not counted (docs/durability.md says so).
    path = tmp_path / "live" / "b.db"
    path.parent.mkdir()
    copy = tmp_path / "copy"
    clock = ManualClock(1_000)
    broker = Broker(path=path, clock=clock)
    try:
        _, dlq = dead_lettered(clock, 4, broker=broker)
        task = dlq.start_redrive(rate=1)
        clock.advance(1)
        assert task.wait_until_idle()
        assert task.moved == 1
        # From now on the task's changes are not stored (the process "dies" after the
        # next move's commit); the file is copied as the kill would leave it.
        task._on_change = None
        clock.advance(1)
        assert task.wait_until_idle()
        assert task.moved == 2
        shutil.copytree(path.parent, copy)
    finally:
        broker.close()
    clock.advance(10)
    with Broker(path=copy / "b.db", clock=clock) as reopened:
        [restored] = reopened.get_queue("dlq").redrive_tasks(10)
        assert restored.wait_until_idle()
        assert sorted(m.body for m in reopened.get_queue("src").peek()) == [
            "m0",
            "m1",
            "m2",
            "m3",
        ]
        assert reopened.get_queue("dlq").stats().visible == 0
        assert (restored.status, restored.moved, restored.to_move) == (COMPLETED, 3, 4)
