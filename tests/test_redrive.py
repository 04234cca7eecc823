"""Rate-limited redrive tasks (spec/sqs.md §9.3, mqlite choice)."""

from __future__ import annotations

import base64
import gc
import json
import weakref
from collections.abc import Iterator

import pytest
from _durable_support import dead_lettered

from mqlite._redrive import CANCELLED, COMPLETED, FAILED, HISTORY_SIZE, RUNNING, RedriveTask
from mqlite.broker import Broker
from mqlite.clock import ManualClock
from mqlite.errors import InvalidParameterValue, QueueDoesNotExist, ResourceNotFound
from mqlite.queue import Queue


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def tasks() -> Iterator[list[RedriveTask]]:
    made: list[RedriveTask] = []
    yield made
    for t in made:
        if t.status == RUNNING:
            t.cancel()
        t.join(5)


def test_moves_on_schedule(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    src, dlq = dead_lettered(clock, 5)
    task = dlq.start_redrive(rate=2)
    tasks.append(task)
    assert task.to_move == 5
    assert task.wait_until_idle()
    assert task.moved == 0
    assert task.status == RUNNING
    clock.advance(0.49)
    assert task.wait_until_idle()
    assert task.moved == 0
    clock.advance(0.01)  # t_start + 1/2
    assert task.wait_until_idle()
    assert task.moved == 1
    assert [m.body for m in src.peek()] == ["m0"]
    clock.advance(1.0)  # 1.5 s: messages 1 and 2
    assert task.wait_until_idle()
    assert task.moved == 3
    clock.advance(10)
    assert task.wait_until_idle()
    assert task.moved == 5
    assert task.status == COMPLETED
    task.join(5)
    assert [m.body for m in src.receive(10)] == ["m0", "m1", "m2", "m3", "m4"]
    assert dlq.stats().visible == 0


def test_task_moves_what_was_visible_at_its_start(
    clock: ManualClock, tasks: list[RedriveTask]
) -> None:
    src, dlq = dead_lettered(clock, 3)
    [held] = dlq.receive(visibility_timeout=1)  # in flight at the start: m0
    task = dlq.start_redrive(rate=1)
    tasks.append(task)
    assert task.to_move == 2
    other = Queue("other", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    other.send("late")
    other.receive(visibility_timeout=0)
    assert other.receive() == []  # "late" is in the DLQ now, after the start
    clock.advance(10)  # m0 visible again; every scheduled move is due
    assert task.wait_until_idle()
    assert task.status == COMPLETED
    assert task.moved == 2
    assert sorted(m.body for m in src.peek()) == ["m1", "m2"]
    assert sorted(m.body for m in dlq.peek()) == sorted([held.body, "late"])
    # The next redrive moves them, each to its own source.
    assert dlq.redrive() == 2
    assert [m.body for m in other.peek()] == ["late"]
    assert sorted(m.body for m in src.peek()) == ["m0", "m1", "m2"]


def test_destination(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    _, dlq = dead_lettered(clock, 3)
    dest = Queue("dest", clock=clock)
    task = dlq.start_redrive(dest, rate=1)
    tasks.append(task)
    clock.advance(2)
    assert task.wait_until_idle()
    assert task.moved == 2
    msgs = dest.receive(10)
    assert [m.body for m in msgs] == ["m0", "m1"]
    assert all(m.receive_count == 1 for m in msgs)


def test_cancel(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    _, dlq = dead_lettered(clock, 10)
    task = dlq.start_redrive(rate=1)
    tasks.append(task)
    clock.advance(2)
    assert task.wait_until_idle()
    assert task.cancel() == 2
    assert task.status == CANCELLED
    task.join(5)
    clock.advance(100)
    assert task.moved == 2
    assert dlq.stats().visible == 8
    with pytest.raises(InvalidParameterValue):
        task.cancel()
    # a new task may start once the old one is no longer running
    t2 = dlq.start_redrive(rate=500)
    tasks.append(t2)
    clock.advance(1)
    assert t2.wait_until_idle()
    assert t2.moved == 8
    assert t2.status == COMPLETED


def test_one_active_task_per_source(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    _, dlq = dead_lettered(clock, 3)
    task = dlq.start_redrive(rate=1)
    tasks.append(task)
    with pytest.raises(InvalidParameterValue) as err:
        dlq.start_redrive(rate=1)
    assert err.value.code == "InvalidParameterValue"
    assert str(err.value) == (
        "There is already a task running. Only one active task is allowed for a source queue"
        " arn at a given time."
    )


@pytest.mark.parametrize("rate", [0, 501, -1, True])
def test_rate_range(clock: ManualClock, rate: float) -> None:
    dlq = Queue("dlq", clock=clock)
    with pytest.raises(InvalidParameterValue):
        dlq.start_redrive(rate=rate)


def test_destination_kind(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock)
    with pytest.raises(InvalidParameterValue):
        dlq.start_redrive(Queue("d.fifo", clock=clock), rate=1)


def test_empty_source_completes(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    dlq = Queue("dlq", clock=clock)
    src = Queue("src", clock=clock, dead_letter_queue=dlq)
    task = dlq.start_redrive(rate=1)
    tasks.append(task)
    assert task.wait_until_idle()
    assert task.status == COMPLETED
    assert task.to_move == 0
    assert src.stats().visible == 0


def test_destination_deleted_mid_task_fails(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    broker = Broker(clock=clock)
    _, dlq = dead_lettered(clock, 3, broker=broker)
    dest = broker.create_queue("dest")
    task = dlq.start_redrive(dest, rate=1)
    tasks.append(task)
    clock.advance(1)
    assert task.wait_until_idle()
    assert task.moved == 1
    broker.delete_queue("dest")
    clock.advance(1)
    assert task.wait_until_idle()
    assert task.status == FAILED
    assert task.failure_reason == "AWS.SimpleQueueService.NonExistentQueue"
    assert task.moved == 1
    assert dlq.stats().visible == 2


def test_deleted_source(clock: ManualClock) -> None:
    broker = Broker(clock=clock)
    dlq = broker.create_queue("dlq")
    broker.delete_queue("dlq")
    with pytest.raises(QueueDoesNotExist):
        dlq.start_redrive(rate=1)


# --- listing (ListMessageMoveTasks) and cancelling by handle (CancelMessageMoveTask) -------


def _handle(payload: object) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def test_list_newest_first_and_bounded(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    broker = Broker(clock=clock)
    _, dlq = dead_lettered(clock, 1, broker=broker)
    assert dlq.redrive_tasks() == []
    started: list[RedriveTask] = []
    handles: list[str] = []
    for _ in range(HISTORY_SIZE + 1):
        task = dlq.start_redrive(rate=1)
        tasks.append(task)
        assert task.status == RUNNING  # its one move is due 1 s from now
        assert task.handle is not None
        handles.append(task.handle)
        started.append(task)
        assert dlq.redrive_tasks() == [task]  # default max_results=1: the newest
        task.cancel()
    newest_first = started[::-1]
    assert dlq.redrive_tasks(10) == newest_first[:10]
    assert dlq.redrive_tasks(3) == newest_first[:3]
    assert all(t.status == CANCELLED and t.handle is None for t in dlq.redrive_tasks(10))
    # the oldest one has been forgotten
    with pytest.raises(ResourceNotFound) as err:
        broker.cancel_redrive(handles[0])
    assert str(err.value) == "Task does not exist."
    assert dlq.stats().visible == 1


@pytest.mark.parametrize("n", [0, 11, -1])
def test_list_max_results_range(clock: ManualClock, n: int) -> None:
    dlq = Queue("dlq", clock=clock)
    with pytest.raises(InvalidParameterValue) as err:
        dlq.redrive_tasks(n)
    assert err.value.code == "InvalidParameterValue"
    assert str(err.value) == (
        f"Value {n} for parameter MaxResults is invalid. Reason: Must be between 1 and 10,"
        " if provided."
    )


@pytest.mark.parametrize("n", [True, 2.0, "2", None])
def test_list_max_results_type(clock: ManualClock, n: object) -> None:
    dlq = Queue("dlq", clock=clock)
    with pytest.raises(InvalidParameterValue, match="parameter MaxResults is invalid"):
        dlq.redrive_tasks(n)  # type: ignore[arg-type]


def test_list_deleted_queue(clock: ManualClock) -> None:
    broker = Broker(clock=clock)
    dlq = broker.create_queue("dlq")
    broker.delete_queue("dlq")
    with pytest.raises(QueueDoesNotExist):
        dlq.redrive_tasks()


def test_task_fields(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    _, dlq = dead_lettered(clock, 2)
    clock.set(1_700_000_100.5)
    started_ms = 1_700_000_100_500
    task = dlq.start_redrive(rate=2)
    tasks.append(task)
    [listed] = dlq.redrive_tasks()
    assert listed is task
    assert task.status == RUNNING
    assert task.started_timestamp == started_ms
    assert task.started_at == 1_700_000_100.5
    assert task.source is dlq
    assert task.source_arn == dlq.arn
    assert task.destination is None
    assert task.destination_arn is None
    assert task.rate == 2
    assert (task.moved, task.to_move) == (0, 2)
    assert task.failure_reason is None
    assert task.handle is not None
    decoded = json.loads(base64.b64decode(task.handle))
    assert decoded["sourceArn"] == dlq.arn
    assert isinstance(decoded["taskId"], str)
    assert decoded["taskId"]
    clock.advance(1)
    assert task.wait_until_idle()
    assert task.status == COMPLETED
    assert task.handle is None  # AWS shows TaskHandle only while RUNNING
    assert (task.moved, task.to_move) == (2, 2)
    assert task.started_timestamp == started_ms


def test_task_fields_with_destination(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    _, dlq = dead_lettered(clock, 1)
    dest = Queue("dest", clock=clock)
    task = dlq.start_redrive(dest, rate=1)
    tasks.append(task)
    assert task.destination is dest
    assert task.destination_arn == dest.arn


def test_cancel_by_handle(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    broker = Broker(clock=clock)
    src, dlq = dead_lettered(clock, 10, broker=broker)
    task = dlq.start_redrive(rate=1)
    tasks.append(task)
    handle = task.handle
    assert handle is not None
    for _ in range(3):
        clock.advance(1)
        assert task.wait_until_idle()
        assert dlq.stats().visible + src.stats().visible == 10
    assert broker.cancel_redrive(handle) == 3
    assert task.status == CANCELLED
    assert task.handle is None
    assert dlq.redrive_tasks()[0] is task
    task.join(5)
    clock.advance(100)
    assert task.moved == 3
    assert (dlq.stats().visible, src.stats().visible) == (7, 3)
    # cancelling again: the task is found but no longer running
    with pytest.raises(InvalidParameterValue) as err:
        broker.cancel_redrive(handle)
    assert str(err.value) == "Only a RUNNING task can be cancelled; this task is CANCELLED."


def test_cancel_completed_task(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    broker = Broker(clock=clock)
    _, dlq = dead_lettered(clock, 1, broker=broker)
    task = dlq.start_redrive(rate=1)
    tasks.append(task)
    handle = task.handle
    assert handle is not None
    clock.advance(1)
    assert task.wait_until_idle()
    assert task.status == COMPLETED
    with pytest.raises(InvalidParameterValue) as err:
        broker.cancel_redrive(handle)
    assert err.value.code == "InvalidParameterValue"
    assert str(err.value) == "Only a RUNNING task can be cancelled; this task is COMPLETED."
    assert task.status == COMPLETED


@pytest.mark.parametrize(
    "handle",
    [
        "",
        "not base64!",
        "é",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"\xff\xfe").decode(),
        _handle(["taskId", "sourceArn"]),
        _handle({"taskId": "x"}),
        _handle({"sourceArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}),
        _handle({"taskId": 1, "sourceArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}),
        _handle({"taskId": "", "sourceArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}),
        None,
        42,
    ],
)
def test_cancel_invalid_handle(clock: ManualClock, handle: object) -> None:
    broker = Broker(clock=clock)
    broker.create_queue("dlq")
    with pytest.raises(InvalidParameterValue) as err:
        broker.cancel_redrive(handle)  # type: ignore[arg-type]
    assert err.value.code == "InvalidParameterValue"
    assert str(err.value) == "Value for parameter TaskHandle is invalid."


_NO_SOURCE = "The resource that you specified for the SourceArn parameter doesn't exist."


def test_cancel_unknown_source(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    broker = Broker(clock=clock)
    handle = _handle({"taskId": "t", "sourceArn": "arn:aws:sqs:us-east-1:000000000000:nope"})
    with pytest.raises(ResourceNotFound) as err:
        broker.cancel_redrive(handle)
    assert err.value.code == "ResourceNotFoundException"
    assert err.value.http_status == 404
    assert str(err.value) == _NO_SOURCE
    # a task on a queue this broker does not hold (made outside it, or by another broker)
    for other in (None, Broker(clock=clock, account_id="111111111111")):
        _, dlq = dead_lettered(clock, 2, broker=other)
        task = dlq.start_redrive(rate=1)
        tasks.append(task)
        assert task.handle is not None
        with pytest.raises(ResourceNotFound, match="SourceArn parameter doesn't exist"):
            broker.cancel_redrive(task.handle)
        assert task.status == RUNNING
        task.cancel()


def test_cancel_deleted_source(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    broker = Broker(clock=clock)
    _, dlq = dead_lettered(clock, 2, broker=broker)
    task = dlq.start_redrive(rate=1)
    tasks.append(task)
    handle = task.handle
    assert handle is not None
    broker.delete_queue("dlq")
    with pytest.raises(ResourceNotFound) as err:
        broker.cancel_redrive(handle)
    assert err.value.code == "ResourceNotFoundException"
    assert str(err.value) == _NO_SOURCE
    # a new queue under the same name does not know the old queue's tasks
    clock.advance(60)
    assert task.wait_until_idle()
    assert task.status == FAILED
    broker.create_queue("dlq")
    with pytest.raises(ResourceNotFound) as err:
        broker.cancel_redrive(handle)
    assert str(err.value) == "Task does not exist."


def test_cancel_unknown_task(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    broker = Broker(clock=clock)
    _, dlq = dead_lettered(clock, 2, broker=broker)
    task = dlq.start_redrive(rate=1)
    tasks.append(task)
    with pytest.raises(ResourceNotFound) as err:
        broker.cancel_redrive(_handle({"taskId": "no-such-task", "sourceArn": dlq.arn}))
    assert err.value.code == "ResourceNotFoundException"
    assert str(err.value) == "Task does not exist."
    assert task.status == RUNNING


def test_history_does_not_keep_queues_alive(clock: ManualClock) -> None:
    dlq = Queue("dlq", clock=clock)
    src = Queue("src", clock=clock, dead_letter_queue=dlq)
    dest = Queue("dest", clock=clock)
    task = dlq.start_redrive(dest, rate=1)
    assert task.wait_until_idle()
    assert task.status == COMPLETED
    task.join(5)
    dlq_ref, dest_ref = weakref.ref(dlq), weakref.ref(dest)
    arn = dlq.arn
    del dlq, dest, src
    gc.collect()
    assert dlq_ref() is None
    assert dest_ref() is None
    # the task itself still answers, except for the queues that are gone
    assert task.status == COMPLETED
    assert task.source_arn == arn
    with pytest.raises(QueueDoesNotExist):
        _ = task.source
    with pytest.raises(QueueDoesNotExist):
        _ = task.destination
