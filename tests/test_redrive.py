"""Rate-limited redrive tasks (spec/sqs.md §9.3, mqlite choice)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mqlite._redrive import CANCELLED, COMPLETED, FAILED, RUNNING, RedriveTask
from mqlite.broker import Broker
from mqlite.clock import ManualClock
from mqlite.errors import InvalidParameterValue, QueueDoesNotExist
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


def setup(clock: ManualClock, n: int, *, broker: Broker | None = None) -> tuple[Queue, Queue]:
    if broker is None:
        dlq = Queue("dlq", clock=clock)
        src = Queue("src", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    else:
        dlq = broker.create_queue("dlq")
        src = broker.create_queue("src", dead_letter_queue=dlq, max_receive_count=1)
    for i in range(n):
        src.send(f"m{i}")
        clock.advance(0.001)
    for _ in range(n):
        src.receive(10, visibility_timeout=0)
    assert src.receive(10) == []
    assert dlq.stats().visible == n
    return src, dlq


def test_moves_on_schedule(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    src, dlq = setup(clock, 5)
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


def test_destination(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    _, dlq = setup(clock, 3)
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
    _, dlq = setup(clock, 10)
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
    _, dlq = setup(clock, 3)
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
    task = dlq.start_redrive(rate=1)
    tasks.append(task)
    assert task.wait_until_idle()
    assert task.status == COMPLETED
    assert task.to_move == 0


def test_destination_deleted_mid_task_fails(clock: ManualClock, tasks: list[RedriveTask]) -> None:
    broker = Broker(clock=clock)
    _, dlq = setup(clock, 3, broker=broker)
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
