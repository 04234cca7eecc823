"""Rate-limited redrive from a dead-letter queue: message move tasks (StartMessageMoveTask).

mqlite choice: with rate ``r``, message ``i`` (0-based, oldest
first) moves at ``t_start + (i + 1) / r`` on the queue's clock. A daemon thread drives the
task; it sleeps with ``clock.wait``, so a ``ManualClock.advance`` wakes it, and
:meth:`RedriveTask.wait_until_idle` lets a test wait until the thread has caught up with
the clock (no wall-clock sleeps).

Each move is the same operation as ``Queue.redrive(destination, max_messages=1)``: a new
message in the destination (new message id, receive count 0, retention restarts).
``to_move`` is the number of visible messages in the dead-letter queue at start; messages
in flight then are not counted. The task completes early when nothing eligible is left.

Listing (ListMessageMoveTasks) and cancelling by handle (CancelMessageMoveTask):

* Each source queue keeps its last :data:`HISTORY_SIZE` tasks, newest first, in its
  :class:`~mqlite._dead_letters.DeadLetters` component, keyed weakly by the queue. So that
  this history never keeps a queue alive, a task holds its source and destination
  strongly only while it is RUNNING (its thread needs them); once it has ended it refers
  to them weakly.
* A task handle is, as in AWS, base64 of a JSON object ``{"taskId", "sourceArn"}``;
  ``Broker.cancel_redrive`` decodes it, finds the queue by ARN among its queues and the
  task in its component.
* A durable broker stores each task after every change of its status or count (before
  ``wait_until_idle`` or ``cancel`` return) and restores it at reopening; a RUNNING task
  goes on where its schedule says, counting the time the file was closed.
* Cancelling is immediate: the status goes from RUNNING straight to CANCELLED (a move
  already under way is waited for, so the count returned is final); CANCELLING is never
  seen.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import Closed, InvalidParameterValue, MqliteError, QueueDoesNotExist

if TYPE_CHECKING:
    from ._state import Record
    from .queue import Queue

__all__ = [
    "CANCELLED",
    "COMPLETED",
    "FAILED",
    "HISTORY_SIZE",
    "MAX_RESULTS",
    "RUNNING",
    "RedriveTask",
    "check_redrive_destination",
    "decode_handle",
    "encode_handle",
    "queue_gone",
]

RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"
FAILED = "FAILED"

#: How many tasks (running or ended) each source queue remembers for ``redrive_tasks``.
HISTORY_SIZE = 10
#: The largest ``max_results`` of ``Queue.redrive_tasks`` (ListMessageMoveTasks MaxResults).
MAX_RESULTS = 10

_NON_EXISTENT = "AWS.SimpleQueueService.NonExistentQueue"
_BAD_HANDLE = "Value for parameter TaskHandle is invalid."


def queue_gone() -> QueueDoesNotExist:
    """The error for a call on a deleted (or garbage-collected) queue."""
    return QueueDoesNotExist("The specified queue does not exist.")


def check_redrive_destination(source: Queue, destination: Queue | None) -> None:
    """Refuse a redrive *destination* of the other kind, or one that was deleted."""
    if destination is None:
        return
    if destination.fifo != source.fifo:
        raise InvalidParameterValue(
            "The destination queue must be of the same type (FIFO or standard) as the"
            " dead-letter queue."
        )
    if destination.deleted:
        raise InvalidParameterValue("The destination queue does not exist.")


class RedriveTask:
    """A running (or ended) rate-limited redrive: one message move task.

    Made by ``Queue.start_redrive``; listed, newest first, by ``Queue.redrive_tasks``
    (ListMessageMoveTasks); cancelled by :meth:`cancel` or ``Broker.cancel_redrive(handle)``
    (CancelMessageMoveTask). The properties are read-only snapshots and carry what a
    ListMessageMoveTasks entry does: ``status``, ``moved``, ``to_move``,
    ``started_timestamp``, ``source_arn``, ``destination`` / ``destination_arn``,
    ``rate``, ``failure_reason`` and ``handle`` (only while RUNNING).

    Cancelling is immediate, so the status is never ``CANCELLING``. Once a task has
    ended it refers to its queues weakly (a task history never keeps a queue alive):
    ``source`` and ``destination`` then raise ``QueueDoesNotExist`` if that queue has
    since been garbage-collected; the ARNs stay available.
    """

    def __init__(
        self, source: Queue, destination: Queue | None, rate: float, rate_given: bool = True
    ) -> None:
        self._source_ref = weakref.ref(source)
        self._source_name = source.name
        self._source_arn = source.arn
        self._dest_ref: Callable[[], Queue | None] | None = (
            weakref.ref(destination) if destination is not None else None
        )
        self._destination_arn = destination.arn if destination is not None else None
        self._dest_name = destination.name if destination is not None else None
        # Strong references while RUNNING, and the messages ready at the start (the ones
        # the task moves, oldest first); dropped when the task ends.
        candidates = source._redrive_candidates()
        self._pinned: tuple[Queue, Queue | None, deque[Record]] | None = (
            source,
            destination,
            candidates,
        )
        # The newest message the task may move (a restored task moves no later one).
        self._upto = max((rec.seq for rec in candidates), default=0)
        #: Called (outside the lock) after each change of status or count: a durable
        #: broker stores its tasks then.
        self._on_change: Callable[[RedriveTask], None] | None = None
        # Set when a durable broker closes: the thread stops, leaving the status as stored.
        self._halted = False
        self._rate = float(rate)
        #: Whether the caller chose the rate (``start_redrive(rate=)``, or
        #: MaxNumberOfMessagesPerSecond): only then does ListMessageMoveTasks show it.
        self._rate_given = rate_given
        self._clock = source.clock
        self._task_id = str(uuid.uuid4())
        self._handle = encode_handle(self._task_id, self._source_arn)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # the thread sleeps on this one
        self._idle = threading.Condition(self._lock)  # wait_until_idle sleeps on this one
        self._status = RUNNING
        self._moved = 0
        self._moving = False  # a move is under way outside the lock
        self._to_move = source.stats().visible
        self._failure_reason: str | None = None
        self._started_at = self._clock.time()
        self._sleeping_until: float | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"mqlite-redrive-{source.name}", daemon=True
        )

    def _snapshot(self) -> dict[str, Any]:
        """What a durable broker stores of this task (see :meth:`_restore`)."""
        with self._lock:
            return {
                "id": self._task_id,
                "destination": None if self._destination_arn is None else self._dest_name,
                "destination_arn": self._destination_arn,
                "rate": self._rate,
                "rate_given": self._rate_given,
                "status": self._status,
                "moved": self._moved,
                "to_move": self._to_move,
                "started_at": self._started_at,
                "failure_reason": self._failure_reason,
                "upto": self._upto,
            }

    @classmethod
    def _restore(
        cls, source: Queue, destination: Queue | None, data: dict[str, Any]
    ) -> RedriveTask:
        """A task as :meth:`_snapshot` stored it, on the reopened *source* (and
        *destination*, ``None`` if it no longer exists). A RUNNING one is started by the
        caller and goes on where it was: each message's move time is still
        ``start + (i + 1) / rate``, so moves due while the file was closed happen at once.
        It moves only messages that were ready at its start and are still there."""
        task = cls.__new__(cls)
        task._source_ref = weakref.ref(source)
        task._source_name = source.name
        task._source_arn = source.arn
        task._destination_arn = data["destination_arn"]
        task._dest_name = data["destination"]
        if task._destination_arn is None:
            task._dest_ref = None
        elif destination is not None:
            task._dest_ref = weakref.ref(destination)
        else:
            task._dest_ref = lambda: None
        task._rate = float(data["rate"])
        # Stored before this flag was: the AWS layer's default rate was the only one not given.
        task._rate_given = data.get("rate_given", task._rate != 500)
        task._clock = source.clock
        task._task_id = data["id"]
        task._handle = encode_handle(task._task_id, task._source_arn)
        task._lock = threading.Lock()
        task._cond = threading.Condition(task._lock)
        task._idle = threading.Condition(task._lock)
        task._status = data["status"]
        task._moved = data["moved"]
        task._moving = False
        task._to_move = data["to_move"]
        task._failure_reason = data["failure_reason"]
        task._started_at = data["started_at"]
        task._sleeping_until = None
        task._upto = data["upto"]
        task._on_change = None
        task._halted = False
        task._pinned = None
        if task._status == RUNNING:
            if task._destination_arn is not None and destination is None:
                task._status, task._failure_reason = FAILED, _NON_EXISTENT
            else:
                upto = task._upto
                candidates = deque(r for r in source._redrive_candidates() if r.seq <= upto)
                task._pinned = (source, destination, candidates)
        task._thread = threading.Thread(
            target=task._run, name=f"mqlite-redrive-{source.name}", daemon=True
        )
        return task

    def _halt(self) -> None:
        """Stop the thread without changing the status (a durable broker is closing: the
        task goes on when the file is reopened)."""
        with self._lock:
            self._halted = True
            self._cond.notify_all()

    def _changed(self) -> None:
        on_change = self._on_change
        if on_change is not None:
            on_change(self)

    # --- read-only state -----------------------------------------------------------------

    @property
    def status(self) -> str:
        """``RUNNING``, ``COMPLETED``, ``CANCELLED`` or ``FAILED`` (never ``CANCELLING``)."""
        with self._lock:
            return self._status

    @property
    def moved(self) -> int:
        """How many messages have moved so far (ApproximateNumberOfMessagesMoved)."""
        with self._lock:
            return self._moved

    @property
    def to_move(self) -> int:
        """Visible messages in the dead-letter queue when the task started.

        ApproximateNumberOfMessagesToMove.
        """
        return self._to_move

    @property
    def rate(self) -> float:
        """Messages moved per second of the queue's clock (MaxNumberOfMessagesPerSecond)."""
        return self._rate

    @property
    def handle(self) -> str | None:
        """The task handle (TaskHandle) while the task is RUNNING, else ``None``.

        Pass it to ``Broker.cancel_redrive``. As in AWS it is base64 of a JSON object
        holding the task id and the source queue's ARN.
        """
        with self._lock:
            return self._handle if self._status == RUNNING else None

    @property
    def source(self) -> Queue:
        """The dead-letter queue messages move from.

        Raises:
            QueueDoesNotExist: the task has ended and the queue was garbage-collected.
        """
        queue = self._source_ref()
        if queue is None:
            raise queue_gone()
        return queue

    @property
    def source_arn(self) -> str:
        """The source queue's ARN (SourceArn)."""
        return self._source_arn

    @property
    def destination(self) -> Queue | None:
        """Where messages move to, or ``None`` (not given: each message's own source).

        Raises:
            QueueDoesNotExist: the task has ended and the destination queue was
                garbage-collected.
        """
        if self._dest_ref is None:
            return None
        queue = self._dest_ref()
        if queue is None:
            raise queue_gone()
        return queue

    @property
    def destination_arn(self) -> str | None:
        """The destination queue's ARN (DestinationArn), or ``None`` if none was given."""
        return self._destination_arn

    @property
    def started_at(self) -> float:
        """When the task started, in epoch seconds of the queue's clock."""
        return self._started_at

    @property
    def started_timestamp(self) -> int:
        """When the task started, in epoch milliseconds (StartedTimestamp)."""
        return int(self._started_at * 1000)

    @property
    def failure_reason(self) -> str | None:
        """Why the task failed (``FAILED`` only), else ``None``."""
        with self._lock:
            return self._failure_reason

    def __repr__(self) -> str:
        return f"<RedriveTask {self._source_name!r} {self.status} {self.moved}/{self._to_move}>"

    # --- control -------------------------------------------------------------------------

    def cancel(self) -> int:
        """Stop the task at once; messages already moved stay moved. Returns how many moved.

        The status becomes ``CANCELLED`` immediately. A move under way when this is
        called is waited for and counted, so the number returned is final. Cost: O(1),
        plus the wait for a move under way.

        Raises:
            Closed: its source queue (or that queue's broker) was closed; nothing changes
                (a durable broker's running task goes on when the file is reopened).
            InvalidParameterValue: the task is not RUNNING (only a running task can be
                cancelled).
        """
        source = self._source_ref()
        with self._lock:
            if self._halted or (source is not None and source.closed):
                raise Closed(f"The queue {self._source_name} is closed.")
            if self._status != RUNNING:
                raise InvalidParameterValue(
                    f"Only a RUNNING task can be cancelled; this task is {self._status}."
                )
            self._status = CANCELLED
            self._pinned = None
            self._cond.notify_all()
            self._idle.notify_all()
            if threading.current_thread() is not self._thread:
                self._idle.wait_for(lambda: not self._moving)
            moved = self._moved
        self._changed()
        return moved

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """Block until the task ended or waits for a deadline still in the clock's future.

        After ``ManualClock.advance`` this returns once every move due by the new time has
        happened, so ``moved`` is exact. *timeout* is real seconds, a safety net only.
        Returns False if the timeout ran out first. Cost: a wait; O(1) to check.
        """
        with self._lock:
            return self._idle.wait_for(self._is_idle, timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the task's thread to end (COMPLETED, CANCELLED or FAILED).

        Cost: a wait on the thread; nothing else.
        """
        self._thread.join(timeout)

    # --- the thread ----------------------------------------------------------------------

    def _is_idle(self) -> bool:
        if self._status != RUNNING or self._halted:
            return not self._moving
        return self._sleeping_until is not None and self._clock.time() < self._sleeping_until

    def _start(self) -> None:
        self._thread.start()

    def _finish(self, status: str, reason: str | None = None) -> None:
        # lock held
        if self._status == RUNNING:
            self._status = status
            self._failure_reason = reason
        self._pinned = None
        self._sleeping_until = None
        self._idle.notify_all()

    def _run(self) -> None:
        with self._lock:
            pinned = self._pinned  # strong references for the thread's lifetime
        if pinned is not None:  # None: cancelled before the thread started
            self._loop(*pinned)

    def _loop(self, source: Queue, destination: Queue | None, candidates: deque[Record]) -> None:
        # ``_moving`` stays set until a change is stored, so ``wait_until_idle`` and
        # ``cancel`` return only once what they see is in the file too.
        while True:
            with self._lock:
                if self._status != RUNNING or self._halted:
                    self._idle.notify_all()
                    return
                if self._moved >= self._to_move:
                    self._moving = True
                    self._finish(COMPLETED)
                    break
                deadline = self._started_at + (self._moved + 1) / self._rate
                if self._clock.time() < deadline:
                    self._sleeping_until = deadline
                    self._idle.notify_all()
                    self._clock.wait(self._cond, deadline)
                    self._sleeping_until = None
                    continue
                self._moving = True
            try:
                check_redrive_destination(source, destination)
                n = source._redrive_from(candidates, destination, 1)
            except MqliteError as exc:
                reason = (
                    _NON_EXISTENT
                    if source.deleted or (destination is not None and destination.deleted)
                    else exc.legacy_code
                )
                with self._lock:
                    if self._halted:  # the queues were closed under it
                        self._moving = False
                        self._idle.notify_all()
                        return
                    self._finish(FAILED, reason)
                break
            with self._lock:
                self._moved += n
                # Cancelled while moving (the move still counts), or nothing left.
                ended = self._status != RUNNING
                if not ended and n == 0:
                    self._finish(COMPLETED)
                    ended = True
            self._stored()
            if ended:
                return
        self._stored()

    def _stored(self) -> None:
        """Report the change just made (a durable broker stores it), then end the move."""
        try:
            self._changed()
        finally:
            with self._lock:
                self._moving = False
                self._idle.notify_all()


# --- handles -------------------------------------------------------------------------------


def encode_handle(task_id: str, source_arn: str) -> str:
    """The task handle for *task_id* on *source_arn*: base64 of ``{"taskId", "sourceArn"}``."""
    payload = json.dumps({"taskId": task_id, "sourceArn": source_arn}, separators=(",", ":"))
    return base64.b64encode(payload.encode("utf-8")).decode("ascii")


def decode_handle(handle: object) -> tuple[str, str]:
    """``(task_id, source_arn)`` from a task handle.

    Raises:
        InvalidParameterValue: ``Value for parameter TaskHandle is invalid.`` -- not a
            string, not base64, or not a JSON object with non-empty string ``taskId`` and
            ``sourceArn``.
    """
    if not isinstance(handle, str):
        raise InvalidParameterValue(_BAD_HANDLE)
    try:
        data = json.loads(base64.b64decode(handle.encode("ascii"), validate=True))
    except ValueError:  # binascii.Error, UnicodeError and JSONDecodeError are ValueErrors
        raise InvalidParameterValue(_BAD_HANDLE) from None
    if not isinstance(data, dict):
        raise InvalidParameterValue(_BAD_HANDLE)
    task_id, source_arn = data.get("taskId"), data.get("sourceArn")
    if not (isinstance(task_id, str) and task_id and isinstance(source_arn, str) and source_arn):
        raise InvalidParameterValue(_BAD_HANDLE)
    return task_id, source_arn
