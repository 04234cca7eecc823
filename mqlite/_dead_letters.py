"""Dead letters and redrive: which queues name which as their dead-letter queue, and the
message move tasks each dead-letter queue has run.

A :class:`DeadLetters` holds these facts for a group of queues: a ``Broker`` owns one and
gives it to every queue it makes; a queue made on its own makes its own. A fact lives in
the component of the queue it is about: a dead-letter queue's sources (the queues whose
settings name it) and its move-task history sit in *that* queue's component, so a source
in one component may name a dead-letter queue in another (two standalone queues, or a
broker's queue and a standalone one) and the dead-letter queue still sees it. The source's
side of a link is its own ``dead_letter_queue`` setting.

Nothing here holds a queue strongly: sources are weak references and histories are keyed
weakly, so a component never keeps a queue alive (a RUNNING task pins its queues itself).
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._redrive import (
    HISTORY_SIZE,
    MAX_RESULTS,
    RUNNING,
    RedriveTask,
    check_redrive_destination,
    queue_gone,
)
from .errors import InvalidParameterValue

if TYPE_CHECKING:
    from .queue import Queue

__all__ = ["DeadLetters"]


class DeadLetters:
    """The dead-letter links and move-task histories of the queues that share it.

    Thread-safe. Two locks, so that no two locks are ever taken in both orders: the links
    lock is taken alone or inside one queue's lock (``configure`` relinks under it), never
    around one; the tasks lock may be held around a queue's lock (a new task reads its
    queue), never inside one.
    """

    __slots__ = ("_history", "_links_lock", "_sources", "_tasks_lock", "on_task_change")

    def __init__(self) -> None:
        self._links_lock = threading.Lock()
        self._tasks_lock = threading.Lock()
        # dead-letter queue -> the queues whose settings name it
        self._sources: weakref.WeakKeyDictionary[Queue, weakref.WeakSet[Queue]] = (
            weakref.WeakKeyDictionary()
        )
        # dead-letter queue -> its most recent tasks, newest first; only the newest can run
        self._history: weakref.WeakKeyDictionary[Queue, deque[RedriveTask]] = (
            weakref.WeakKeyDictionary()
        )
        #: Given to every new task: called after each change of its status or count (a
        #: durable broker stores its tasks then); ``None`` costs nothing.
        self.on_task_change: Callable[[RedriveTask], None] | None = None

    # --- links ---------------------------------------------------------------------------

    def add_source(self, dlq: Queue, source: Queue) -> None:
        """Record that *source* names *dlq* (a queue of this component) as its DLQ."""
        with self._links_lock:
            sources = self._sources.get(dlq)
            if sources is None:
                sources = self._sources[dlq] = weakref.WeakSet()
            sources.add(source)

    def remove_source(self, dlq: Queue, source: Queue) -> None:
        """Record that *source* no longer names *dlq* as its dead-letter queue."""
        with self._links_lock:
            sources = self._sources.get(dlq)
            if sources is not None:
                sources.discard(source)
                if not sources:
                    del self._sources[dlq]

    def sources(self, dlq: Queue) -> list[Queue]:
        """The live queues that name *dlq* as their dead-letter queue, in no set order."""
        with self._links_lock:
            return [s for s in self._sources.get(dlq, ()) if not s.deleted]

    def is_dead_letter_queue(self, dlq: Queue) -> bool:
        """Whether a live queue names *dlq* as its dead-letter queue. Cost: O(its sources)."""
        with self._links_lock:
            return any(not s.deleted for s in self._sources.get(dlq, ()))

    def check_redrive(self, source: Queue, destination: Queue | None) -> None:
        """Refuse a redrive from a queue that is no live queue's dead-letter queue, or to a
        *destination* of the other kind or deleted."""
        source._check_alive()
        if not self.is_dead_letter_queue(source):
            raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
        check_redrive_destination(source, destination)

    # --- move tasks ----------------------------------------------------------------------

    def start_redrive(
        self, source: Queue, destination: Queue | None, rate: float, rate_given: bool = True
    ) -> RedriveTask:
        """Validate, record and start a task (``Queue.start_redrive``); *rate_given* is
        False when *rate* is a default the caller did not choose (stored with the task)."""
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 1 <= rate <= 500:
            raise InvalidParameterValue(
                f"Value {rate!r} for parameter MaxNumberOfMessagesPerSecond is invalid."
                " Reason: must be between 1 and 500."
            )
        self.check_redrive(source, destination)
        source.stats()  # raises QueueDoesNotExist for a deleted source
        with self._tasks_lock:
            tasks = self._history.get(source)
            if tasks and tasks[0].status == RUNNING:
                raise InvalidParameterValue(
                    "There is already a task running. Only one active task is allowed for a"
                    " source queue arn at a given time."
                )
            task = RedriveTask(source, destination, rate, rate_given)
            if tasks is None:
                tasks = self._history[source] = deque(maxlen=HISTORY_SIZE)
            tasks.appendleft(task)
            task._on_change = self.on_task_change
        task._changed()
        task._start()
        return task

    def history(self, source: Queue) -> list[RedriveTask]:
        """Every task *source* remembers, newest first (no checks)."""
        with self._tasks_lock:
            return list(self._history.get(source, ()))

    def restore_history(self, source: Queue, tasks: list[RedriveTask]) -> None:
        """Put back *source*'s tasks (newest first) as a durable broker stored them; the
        caller starts the running one."""
        with self._tasks_lock:
            history = self._history[source] = deque(maxlen=HISTORY_SIZE)
            for task in tasks:
                task._on_change = self.on_task_change
                history.append(task)

    def list_tasks(self, source: Queue, max_results: int) -> list[RedriveTask]:
        """The most recent tasks on *source*, newest first (``Queue.redrive_tasks``)."""
        if (
            isinstance(max_results, bool)
            or not isinstance(max_results, int)
            or not 1 <= max_results <= MAX_RESULTS
        ):
            raise InvalidParameterValue(
                f"Value {max_results!r} for parameter MaxResults is invalid."
                f" Reason: Must be between 1 and {MAX_RESULTS}, if provided."
            )
        if source.deleted:
            raise queue_gone()
        with self._tasks_lock:
            return list(self._history.get(source, ()))[:max_results]

    def find_task(self, source: Queue, task_id: str) -> RedriveTask | None:
        """The task *task_id* among those *source* still remembers, else ``None``."""
        with self._tasks_lock:
            for task in self._history.get(source, ()):
                if task._task_id == task_id:
                    return task
        return None
