"""Stateful test of the core alone: the queue model's rules applied to ``QueueState``
directly, with no lock, no thread and no Queue shell in between."""

from __future__ import annotations

from hypothesis import settings
from test_fifo import MAX_RECEIVES, VT, FifoLike, FifoMachine
from test_queue_model import DEFAULT_VT, RETENTION, QueueLike, QueueModel, compaction

from mqlite import ManualClock, Message, MqliteError, QueueStats, SendResult
from mqlite._send import prepare
from mqlite._state import QueueState, Refusal
from mqlite.errors import InvalidParameterValue, PurgeQueueInProgress, ReceiptHandleIsInvalid
from mqlite.message import new_message_id

# Each refusal as the error the model expects (the shell's texts are tested elsewhere).
_ERRORS: dict[Refusal, MqliteError] = {
    Refusal.INVALID_HANDLE: ReceiptHandleIsInvalid("invalid handle"),
    Refusal.MESSAGE_GONE: InvalidParameterValue("Message does not exist"),
    Refusal.PURGE_IN_PROGRESS: PurgeQueueInProgress("purge in progress"),
}


def _done(result: object) -> None:
    if isinstance(result, Refusal):
        raise _ERRORS[result]


class CoreQueue:
    """The model's calls made straight on a standard queue's core at the clock's time."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.core = QueueState(fifo=False, retention=RETENTION, handle_prefix="AQEBcore-")

    def send(self, body: str, *, delay: float | None = None) -> SendResult:
        return self.core.send(self.clock.time(), new_message_id(), prepare(body, delay=delay))

    def receive(
        self, max_messages: int = 1, *, visibility_timeout: float | None = None
    ) -> list[Message]:
        vt = DEFAULT_VT if visibility_timeout is None else visibility_timeout
        taken = self.core.receive(self.clock.time(), max_messages, vt, None)
        assert not isinstance(taken, Refusal), taken
        messages, dead = taken
        assert dead == []
        return messages

    def delete(self, handle: str) -> None:
        _done(self.core.delete(self.clock.time(), handle))

    def change_visibility(self, handle: str, timeout: float) -> None:
        _done(self.core.change_visibility(self.clock.time(), handle, timeout))

    def purge(self) -> None:
        _done(self.core.purge(self.clock.time()))

    def stats(self) -> QueueStats:
        return self.core.stats(self.clock.time())

    def peek(
        self, *, include_in_flight: bool = False, include_delayed: bool = False
    ) -> list[Message]:
        return self.core.peek(
            self.clock.time(), in_flight=include_in_flight, delayed=include_delayed
        )

    def check_invariants(self) -> None:
        self.core.check_invariants()


class CoreModel(QueueModel):
    def make_queue(self) -> QueueLike:
        return CoreQueue(self.clock)


class EagerCompactionCoreModel(QueueModel):
    def make_queue(self) -> QueueLike:
        with compaction(slack=0, every=1):
            return CoreQueue(self.clock)


CoreModel.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestCoreModel = CoreModel.TestCase
EagerCompactionCoreModel.TestCase.settings = settings(
    max_examples=50, stateful_step_count=40, deadline=None
)
TestEagerCompactionCoreModel = EagerCompactionCoreModel.TestCase


# --- FIFO: the same model as tests/test_fifo.py, on two cores ---------------------------------


class CoreFifo:
    """A FIFO core driven as the model's queue; dead letters go straight to *dlq*'s core."""

    def __init__(self, clock: ManualClock, dlq: CoreFifo | None = None) -> None:
        self.clock = clock
        self.dlq = dlq
        self.core = QueueState(fifo=True, retention=345_600, handle_prefix="AQEBfifo-")

    def send(self, body: str, *, group_id: str, deduplication_id: str) -> SendResult:
        p = prepare(body, None, None, group_id, deduplication_id)
        return self.core.send(self.clock.time(), new_message_id(), p)

    def receive(self, max_messages: int = 1) -> list[Message]:
        now = self.clock.time()
        limit = MAX_RECEIVES if self.dlq is not None else None
        taken = self.core.receive(now, max_messages, VT, limit)
        assert not isinstance(taken, Refusal), taken
        messages, dead = taken
        if dead:
            assert self.dlq is not None
            self.dlq.core.accept_dead_letters(now, dead, "arn:aws:sqs:us-east-1:0:m.fifo", "m")
        return messages

    def delete(self, handle: str) -> None:
        _done(self.core.delete(self.clock.time(), handle))

    def change_visibility(self, handle: str, timeout: float) -> None:
        _done(self.core.change_visibility(self.clock.time(), handle, timeout))

    def stats(self) -> QueueStats:
        return self.core.stats(self.clock.time())

    def peek(self) -> list[Message]:
        return self.core.peek(self.clock.time())

    def check_invariants(self) -> None:
        self.core.check_invariants()


class CoreFifoMachine(FifoMachine):
    def make_queues(self) -> tuple[FifoLike, FifoLike]:
        dlq = CoreFifo(self.clock)
        return CoreFifo(self.clock, dlq), dlq


TestCoreFifoMachine = CoreFifoMachine.TestCase
TestCoreFifoMachine.settings = settings(max_examples=80, stateful_step_count=50, deadline=None)
