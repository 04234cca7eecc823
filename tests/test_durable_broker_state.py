"""What a durable broker keeps beside its queues: FIFO topic dedup windows, move tasks and
their rates, and the AWS layer's receive attempts, checked at the moment of a kill and
across reopens."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from mqlite import Broker, ManualClock, Queue
from mqlite._redrive import RUNNING
from mqlite.errors import Closed


def _snapshot(path: Path, into: Path) -> None:
    """Copy the file as a kill at this moment would leave it (its WAL too)."""
    for suffix in ("", "-wal"):
        if os.path.exists(f"{path}{suffix}"):
            shutil.copyfile(f"{path}{suffix}", f"{into}{suffix}")


def _dead_letters(broker: Broker, clock: ManualClock, n: int) -> Queue:
    """A dead-letter queue "dlq" holding *n* messages that came from "src"."""
    dlq = broker.create_queue("dlq")
    src = broker.create_queue("src", dead_letter_queue=dlq, max_receive_count=1)
    for i in range(n):
        src.send(f"m{i}")
    for _ in range(n):
        src.receive(10, visibility_timeout=0)
    assert src.receive(10) == []
    assert dlq.stats().visible == n
    return dlq


def test_a_fifo_topics_dedup_id_is_stored_no_later_than_its_deliveries(tmp_path: Path) -> None:
    path, copy = tmp_path / "b.db", tmp_path / "copy.db"
    clock = ManualClock(1_000)
    with Broker(path=path, clock=clock) as broker:
        queue = broker.create_queue("q.fifo")
        topic = broker.create_topic("t.fifo")
        topic.subscribe(queue, raw_message_delivery=True)
        # Delivered after the queue's: a kill here finds the message in the queue.
        topic.subscribe(lambda message: _snapshot(path, copy))
        first = topic.publish("a", group_id="g", deduplication_id="x")
    with Broker(path=copy, clock=clock) as broker:
        queue = broker.get_queue("q.fifo")
        assert [m.body for m in queue.peek()] == ["a"]
        # The retried publish is recognised: nothing is delivered twice.
        again = broker.get_topic("t.fifo").publish("a", group_id="g", deduplication_id="x")
        assert again.message_id == first.message_id
        assert [m.body for m in queue.peek()] == ["a"]


def test_the_file_forgets_a_topics_dedup_ids_with_memory_even_after_a_clock_set_back(
    tmp_path: Path,
) -> None:
    path, copy = tmp_path / "b.db", tmp_path / "copy.db"
    clock = ManualClock(1_000)
    with Broker(path=path, clock=clock) as broker:
        topic = broker.create_topic("t.fifo")
        first = topic.publish("a", group_id="g", deduplication_id="x")
        clock.advance(301)  # "x" has left the window: this publish forgets it
        topic.publish("b", group_id="g", deduplication_id="y")
        clock.set(1_100)  # set back: "x" would be inside its stored window again
        _snapshot(path, copy)
        assert topic.publish("a", group_id="g", deduplication_id="x").message_id != (
            first.message_id
        )
    with Broker(path=copy, clock=clock) as broker:
        again = broker.get_topic("t.fifo").publish("a", group_id="g", deduplication_id="x")
        assert again.message_id != first.message_id
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        rows = conn.execute("SELECT key FROM topic_dedup ORDER BY key").fetchall()
    assert rows == [("",), ("x",), ("y",)]


@pytest.mark.parametrize("durable", [True, False])
def test_cancelling_a_move_task_after_its_broker_closed_raises_closed_and_changes_nothing(
    tmp_path: Path, durable: bool
) -> None:
    path = tmp_path / "b.db"
    clock = ManualClock(1_000)
    broker = Broker(path=path if durable else None, clock=clock)
    dlq = _dead_letters(broker, clock, 3)
    task = dlq.start_redrive(rate=1)
    handle = task.handle
    assert handle is not None
    broker.close()
    with pytest.raises(Closed):
        task.cancel()
    with pytest.raises(Closed):
        broker.cancel_redrive(handle)
    assert (task.status, task.moved, task.handle) == (RUNNING, 0, handle)
    if durable:
        with Broker(path=path, clock=clock) as broker:
            [restored] = broker.get_queue("dlq").redrive_tasks(10)
            assert (restored.status, restored.handle) == (RUNNING, handle)
