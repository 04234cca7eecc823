"""What a durable broker keeps beside its queues: FIFO topic dedup windows, move tasks and
their rates, and the AWS layer's receive attempts, checked at the moment of a kill and
across reopens."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import boto3
import pytest
from _durable_support import copy_as_killed, dead_lettered
from botocore.config import Config
from botocore.exceptions import ClientError

from mqlite import Broker, ManualClock, Queue
from mqlite._redrive import RUNNING
from mqlite.aws import Server
from mqlite.errors import Closed


def test_a_fifo_topics_dedup_id_is_stored_no_later_than_its_deliveries(tmp_path: Path) -> None:
    path, copy = tmp_path / "b.db", tmp_path / "copy.db"
    clock = ManualClock(1_000)
    with Broker(path=path, clock=clock) as broker:
        queue = broker.create_queue("q.fifo")
        topic = broker.create_topic("t.fifo")
        topic.subscribe(queue, raw_message_delivery=True)
        # Delivered after the queue's: a kill here finds the message in the queue.
        topic.subscribe(lambda message: copy_as_killed(path, copy))
        first = topic.publish("a", group_id="g", deduplication_id="x")
    with Broker(path=copy, clock=clock) as broker:
        queue = broker.get_queue("q.fifo")
        assert [m.body for m in queue.peek()] == ["a"]
        # The retried publish is recognised: nothing is delivered twice.
        again = broker.get_topic("t.fifo").publish("a", group_id="g", deduplication_id="x")
        assert again.message_id == first.message_id
        assert [m.body for m in queue.peek()] == ["a"]


@pytest.mark.parametrize("ids", [["x"], ["x", "x2", "x3"]])
def test_the_file_forgets_a_topics_dedup_ids_with_memory_even_after_a_clock_set_back(
    tmp_path: Path, ids: list[str]
) -> None:
    path, copy = tmp_path / "b.db", tmp_path / "copy.db"
    clock = ManualClock(1_000)
    with Broker(path=path, clock=clock) as broker:
        topic = broker.create_topic("t.fifo")
        first = [topic.publish("a", group_id="g", deduplication_id=i).message_id for i in ids]
        clock.advance(301)  # they have left the window: this publish forgets them
        topic.publish("b", group_id="g", deduplication_id="y")
        clock.set(1_100)  # set back: they would be inside their stored window again
        copy_as_killed(path, copy)
        again = [topic.publish("a", group_id="g", deduplication_id=i).message_id for i in ids]
        assert not set(again) & set(first)
    with Broker(path=copy, clock=clock) as broker:
        topic = broker.get_topic("t.fifo")
        again = [topic.publish("a", group_id="g", deduplication_id=i).message_id for i in ids]
        assert not set(again) & set(first)
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        rows = conn.execute("SELECT key FROM topic_dedup ORDER BY key").fetchall()
    assert rows == [("",), *((i,) for i in ids), ("y",)]


@pytest.mark.parametrize("durable", [True, False])
def test_cancelling_a_move_task_after_its_broker_closed_raises_closed_and_changes_nothing(
    tmp_path: Path, durable: bool
) -> None:
    path = tmp_path / "b.db"
    clock = ManualClock(1_000)
    broker = Broker(path=path if durable else None, clock=clock)
    _, dlq = dead_lettered(clock, 3, broker=broker)
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


def _client(endpoint: str) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
        config=Config(retries={"max_attempts": 1}),
    )


_DEAD_ARN = "arn:aws:sqs:us-east-1:000000000000:dlq"


@pytest.mark.parametrize("started_by", ["core", "aws", "aws without a rate"])
def test_a_move_tasks_rate_survives_a_server_restart_whichever_way_it_was_started(
    tmp_path: Path, started_by: str
) -> None:
    clock = ManualClock(1_000)
    with Server(port=0, clock=clock, path=tmp_path) as server:
        broker = server.regions.broker("us-east-1")
        _, dlq = dead_lettered(clock, 3, broker=broker)
        sqs = _client(server.endpoint_url)
        if started_by == "core":
            dlq.start_redrive(rate=2)
        elif started_by == "aws":
            sqs.start_message_move_task(SourceArn=_DEAD_ARN, MaxNumberOfMessagesPerSecond=2)
        else:
            sqs.start_message_move_task(SourceArn=_DEAD_ARN)
        [before] = sqs.list_message_move_tasks(SourceArn=_DEAD_ARN)["Results"]
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        [after] = sqs.list_message_move_tasks(SourceArn=_DEAD_ARN)["Results"]
        [task] = server.regions.broker("us-east-1").get_queue("dlq").redrive_tasks(1)
        assert after == before
        if started_by == "aws without a rate":
            assert "MaxNumberOfMessagesPerSecond" not in after
            assert task.rate == 500
        else:
            assert after["MaxNumberOfMessagesPerSecond"] == 2
            assert task.rate == 2
        clock.advance(0.5)  # the first move is due at start + 1 / rate (0.002 s at 500)
        assert task.wait_until_idle()
        assert task.moved == (3 if started_by == "aws without a rate" else 1)


@pytest.mark.parametrize("rate", [2, None])
def test_a_move_tasks_rate_stored_the_earlier_way_is_taken_back(
    tmp_path: Path, rate: int | None
) -> None:
    clock = ManualClock(1_000)
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        sqs.create_queue(QueueName="dlq")
        _, dlq = dead_lettered(clock, 3, broker=server.regions.broker("us-east-1"))
        task = dlq.start_redrive(rate=rate or 500)
        task_id = task._task_id
    # As files made before move tasks kept whether their rate was given: the task without
    # the flag, the AWS layer's record of the rates given beside the queue.
    with contextlib.closing(sqlite3.connect(tmp_path / "us-east-1.mqlite")) as conn, conn:
        [(moves,)] = conn.execute("SELECT value FROM extras WHERE key='move:dlq'")
        [(kept,)] = conn.execute("SELECT value FROM extras WHERE key='sqs-queue:dlq'")
        stored = json.loads(moves)
        del stored[0]["rate_given"]
        extras = json.loads(kept)
        extras["task_rates"] = {} if rate is None else {task_id: rate}
        conn.execute("UPDATE extras SET value=? WHERE key='move:dlq'", (json.dumps(stored),))
        conn.execute("UPDATE extras SET value=? WHERE key='sqs-queue:dlq'", (json.dumps(extras),))
    for _ in range(2):  # the second time, as the first reopening stored it
        with Server(port=0, clock=clock, path=tmp_path) as server:
            sqs = _client(server.endpoint_url)
            [listed] = sqs.list_message_move_tasks(SourceArn=_DEAD_ARN)["Results"]
            assert listed.get("MaxNumberOfMessagesPerSecond") == rate


def _fifo_with_messages(sqs: Any) -> str:
    url: str = sqs.create_queue(
        QueueName="jobs.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageGroupId="g",
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": body},
                "blob": {"DataType": "Binary.raw", "BinaryValue": body.encode() + b"\x00\xff"},
            },
        )
    return url


def _shown(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (m["Body"], m["ReceiptHandle"], m["MessageId"], m["MessageAttributes"], m["Attributes"])
        for m in messages
    ]


def test_a_receive_attempt_is_retried_across_a_server_restart(tmp_path: Path) -> None:
    clock = ManualClock(1_000)
    receive = {
        "MaxNumberOfMessages": 2,
        "ReceiveRequestAttemptId": "try:1",
        "VisibilityTimeout": 30,
        "MessageAttributeNames": ["All"],
        "AttributeNames": ["All"],
    }
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        url = _fifo_with_messages(sqs)
        first = sqs.receive_message(QueueUrl=url, **receive)["Messages"]
    clock.advance(20)
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        again = sqs.receive_message(QueueUrl=url, **receive)["Messages"]
        assert _shown(again) == _shown(first)
        # The retry started the visibility timeout afresh: 30 s from now.
        clock.advance(29)
        assert "Messages" not in sqs.receive_message(QueueUrl=url)
        # Deleting one of them makes the attempt not retryable, also after a restart.
        sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        with pytest.raises(ClientError) as error:
            sqs.receive_message(QueueUrl=url, **receive)
        assert error.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert "not retryable" in error.value.response["Error"]["Message"]


def test_a_receive_attempt_whose_visibility_changed_stays_spent_after_a_restart(
    tmp_path: Path,
) -> None:
    clock = ManualClock(1_000)
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        url = _fifo_with_messages(sqs)
        [m] = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="t")["Messages"]
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=100
        )
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        with pytest.raises(ClientError) as error:
            sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="t")
        assert "not retryable" in error.value.response["Error"]["Message"]


def test_receive_attempts_leave_the_file_when_their_window_ends(tmp_path: Path) -> None:
    clock = ManualClock(1_000)
    with Server(port=0, clock=clock, path=tmp_path) as server:
        sqs = _client(server.endpoint_url)
        url = _fifo_with_messages(sqs)
        [m] = sqs.receive_message(
            QueueUrl=url, ReceiveRequestAttemptId="old", VisibilityTimeout=900
        )["Messages"]
        clock.advance(299)
        assert _attempts(tmp_path, server) == ["old"]
        clock.advance(1)  # "old" has left its window: the next attempt forgets it
        assert "Messages" not in sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="new")
        assert _attempts(tmp_path, server) == []
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        [n] = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="kept")["Messages"]
    clock.advance(300)  # ended while the server was down: dropped at the restart
    with Server(port=0, clock=clock, path=tmp_path) as server:
        assert _attempts(tmp_path, server) == []
        sqs = _client(server.endpoint_url)
        # A new receive, not a retry: "b" again, under a new receipt handle.
        [again] = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="kept")["Messages"]
        assert again["Body"] == n["Body"] == "b"
        assert again["ReceiptHandle"] != n["ReceiptHandle"]
        assert _attempts(tmp_path, server) == ["kept"]
        sqs.delete_queue(QueueUrl=url)  # its attempts go with it
        assert _attempts(tmp_path, server) == []


def _attempts(tmp_path: Path, server: Server) -> list[str]:
    """The attempt ids stored for jobs.fifo."""
    broker = server.regions.broker("us-east-1")
    return sorted(key.rpartition(":")[2] for key in broker._extras("sqs-attempt:jobs.fifo:"))


def _delayed_queues(broker: Broker) -> list[Queue]:
    """A standard and a FIFO queue, each holding a message delayed 5 s at 1,000."""
    plain = broker.create_queue("q")
    plain.send("late", delay=5)
    fifo = broker.create_queue("f.fifo", delay=5, content_based_deduplication=True)
    fifo.send("late", group_id="g")
    return [plain, fifo]


def _after_a_kill(path: Path, copy: Path, clock: ManualClock, queues: list[Queue]) -> None:
    """A kill now, then a reopen with the clock set back to before the delays ended, shows
    what the queues still in memory show with the same clock."""
    copy_as_killed(path, copy)
    clock.set(1_003)
    with Broker(path=copy, clock=clock) as reopened:
        for queue in queues:
            again = reopened.get_queue(queue.name)
            assert again.stats() == queue.stats()
            assert again.peek(include_delayed=True) == queue.peek(include_delayed=True)


def test_a_durable_queues_repr_stores_nothing_it_shows(tmp_path: Path) -> None:
    path, copy = tmp_path / "b.db", tmp_path / "copy.db"
    clock = ManualClock(1_000)
    with Broker(path=path, clock=clock) as broker:
        queues = _delayed_queues(broker)
        clock.advance(6)  # the delays ended
        for queue in queues:
            assert repr(queue).startswith(f"<Queue {queue.name!r} (")
        _after_a_kill(path, copy, clock, queues)
        assert [repr(q) for q in queues] == [
            "<Queue 'q' (standard) visible=0 in_flight=0 delayed=1>",
            "<Queue 'f.fifo' (FIFO) visible=0 in_flight=0 delayed=1>",
        ]
    # A repr never raises, the broker closed or not.
    assert [repr(q) for q in queues] == [
        "<Queue 'q' (standard) closed>",
        "<Queue 'f.fifo' (FIFO) closed>",
    ]


def test_what_the_dashboard_showed_survives_a_kill_and_a_clock_set_back(tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    clock = ManualClock(1_000)
    with Server(port=0, clock=clock, path=tmp_path / "data") as server:
        queues = _delayed_queues(server.regions.broker("us-east-1"))
        clock.advance(6)  # the delays ended
        dashboard = server.dashboard
        assert dashboard is not None
        for queue in queues:
            shown = dashboard.api_queue("us-east-1", queue.name)["queue"]
            assert shown["name"] == queue.name
        assert dashboard.api_queue("us-east-1", "f.fifo")["queue"]["group_counts"] == [
            {"group_id": "g", "messages": 1}
        ]
        _after_a_kill(tmp_path / "data" / "us-east-1.mqlite", copy, clock, queues)
        assert [q.stats().visible for q in queues] == [1, 1]


def test_dedup_ids_whose_window_ended_while_closed_leave_the_file_at_opening(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.db"
    clock = ManualClock(1_000)
    with Broker(path=path, clock=clock) as broker:
        topic = broker.create_topic("t.fifo")
        topic.publish("a", group_id="g", deduplication_id="x")
        clock.advance(200)
        topic.publish("b", group_id="g", deduplication_id="y")
    clock.advance(150)  # "x" ended while closed, "y" did not
    with Broker(path=path, clock=clock) as broker:
        pass
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT key FROM topic_dedup ORDER BY key").fetchall()
    assert rows == [("",), ("y",)]
