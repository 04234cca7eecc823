"""Rate-limited redrive from a dead-letter queue: a message move task (spec/sqs.md §9.3).

mqlite choice (normative in the spec): with rate ``r``, message ``i`` (0-based, oldest
first) moves at ``t_start + (i + 1) / r`` on the queue's clock. A daemon thread drives the
task; it sleeps with ``clock.wait``, so a ``ManualClock.advance`` wakes it, and
:meth:`RedriveTask.wait_until_idle` lets a test wait until the thread has caught up with
the clock (no wall-clock sleeps).

Each move is the same operation as ``Queue.redrive(destination, max_messages=1)``: a new
message in the destination (new message id, receive count 0, retention restarts).
``to_move`` is the number of visible messages in the dead-letter queue at start; messages
in flight then are not counted. The task completes early when nothing eligible is left.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from .errors import InvalidParameterValue, MqliteError

if TYPE_CHECKING:
    from .queue import Queue

__all__ = ["CANCELLED", "COMPLETED", "FAILED", "RUNNING", "RedriveTask"]

RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"
FAILED = "FAILED"

_NON_EXISTENT = "AWS.SimpleQueueService.NonExistentQueue"

_active: weakref.WeakKeyDictionary[Queue, RedriveTask] = weakref.WeakKeyDictionary()
_active_lock = threading.Lock()


class RedriveTask:
    """A running (or finished) rate-limited redrive. Made by ``Queue.start_redrive``.

    Attributes are read-only snapshots: ``status`` (``RUNNING``, ``COMPLETED``,
    ``CANCELLED`` or ``FAILED``), ``moved``, ``to_move``, ``rate``, ``source``,
    ``destination``, ``started_at`` (clock seconds) and ``failure_reason`` (the wire
    error code when FAILED, e.g. ``AWS.SimpleQueueService.NonExistentQueue``).
    """

    def __init__(self, source: Queue, destination: Queue | None, rate: float) -> None:
        self._source = source
        self._destination = destination
        self._rate = float(rate)
        self._clock = source.clock
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # the thread sleeps on this one
        self._idle = threading.Condition(self._lock)  # wait_until_idle sleeps on this one
        self._status = RUNNING
        self._moved = 0
        self._to_move = source.stats().visible
        self._failure_reason: str | None = None
        self._started_at = self._clock.time()
        self._sleeping_until: float | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"mqlite-redrive-{source.name}", daemon=True
        )

    # --- read-only state -----------------------------------------------------------------

    @property
    def status(self) -> str:
        """``RUNNING``, ``COMPLETED``, ``CANCELLED`` or ``FAILED``."""
        with self._lock:
            return self._status

    @property
    def moved(self) -> int:
        """How many messages have moved so far."""
        with self._lock:
            return self._moved

    @property
    def to_move(self) -> int:
        """Visible messages in the dead-letter queue when the task started."""
        return self._to_move

    @property
    def rate(self) -> float:
        """Messages moved per second of the queue's clock."""
        return self._rate

    @property
    def source(self) -> Queue:
        """The dead-letter queue messages move from."""
        return self._source

    @property
    def destination(self) -> Queue | None:
        """Where messages move to, or ``None`` for each message's own source queue."""
        return self._destination

    @property
    def started_at(self) -> float:
        """When the task started, in epoch seconds of the queue's clock."""
        return self._started_at

    @property
    def failure_reason(self) -> str | None:
        """Why the task failed (``FAILED`` only), else ``None``."""
        with self._lock:
            return self._failure_reason

    def __repr__(self) -> str:
        return f"<RedriveTask {self._source.name!r} {self.status} {self.moved}/{self._to_move}>"

    # --- control -------------------------------------------------------------------------

    def cancel(self) -> int:
        """Stop the task; messages already moved stay moved. Returns how many moved.

        Raises:
            InvalidParameterValue: the task is not RUNNING.
        """
        with self._lock:
            if self._status != RUNNING:
                raise InvalidParameterValue(
                    f"Only active tasks can be cancelled; this task is {self._status}."
                )
            self._status = CANCELLED
            self._cond.notify_all()
            self._idle.notify_all()
            moved = self._moved
        self._release()
        return moved

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """Block until the task finished or waits for a deadline still in the clock's future.

        After ``ManualClock.advance`` this returns once every move due by the new time has
        happened, so ``moved`` is exact. *timeout* is real seconds, a safety net only.
        Returns False if the timeout ran out first.
        """
        with self._lock:
            return self._idle.wait_for(self._is_idle, timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the task's thread to end (COMPLETED, CANCELLED or FAILED)."""
        self._thread.join(timeout)

    # --- the thread ----------------------------------------------------------------------

    def _is_idle(self) -> bool:
        if self._status != RUNNING:
            return True
        return self._sleeping_until is not None and self._clock.time() < self._sleeping_until

    def _start(self) -> None:
        self._thread.start()

    def _release(self) -> None:
        with _active_lock:
            if _active.get(self._source) is self:
                del _active[self._source]

    def _finish(self, status: str, reason: str | None = None) -> None:
        # lock held
        if self._status == RUNNING:
            self._status = status
            self._failure_reason = reason
        self._sleeping_until = None
        self._idle.notify_all()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._release()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._status != RUNNING:
                    self._idle.notify_all()
                    return
                if self._moved >= self._to_move:
                    self._finish(COMPLETED)
                    return
                deadline = self._started_at + (self._moved + 1) / self._rate
                if self._clock.time() < deadline:
                    self._sleeping_until = deadline
                    self._idle.notify_all()
                    self._clock.wait(self._cond, deadline)
                    self._sleeping_until = None
                    continue
            try:
                n = self._source.redrive(self._destination, max_messages=1)
            except MqliteError as exc:
                dest = self._destination
                reason = (
                    _NON_EXISTENT
                    if self._source.deleted or (dest is not None and dest.deleted)
                    else exc.legacy_code
                )
                with self._lock:
                    self._finish(FAILED, reason)
                return
            with self._lock:
                if self._status != RUNNING:  # cancelled while moving: the move still counts
                    self._moved += n
                    self._idle.notify_all()
                    return
                if n == 0:
                    self._finish(COMPLETED)
                    return
                self._moved += n


def start_redrive(source: Queue, destination: Queue | None, rate: float) -> RedriveTask:
    """Validate, register and start a task (``Queue.start_redrive``)."""
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 1 <= rate <= 500:
        raise InvalidParameterValue(
            f"Value {rate!r} for parameter MaxNumberOfMessagesPerSecond is invalid."
            " Reason: must be between 1 and 500."
        )
    from .queue import check_redrive_destination

    check_redrive_destination(source, destination)
    source.stats()  # raises QueueDoesNotExist for a deleted source
    with _active_lock:
        current = _active.get(source)
        if current is not None and current.status == RUNNING:
            raise InvalidParameterValue(
                "There is already a task running. Only one active task is allowed for a"
                " source queue arn at a given time."
            )
        task = RedriveTask(source, destination, rate)
        _active[source] = task
    task._start()
    return task
