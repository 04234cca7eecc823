"""Worker: an in-process pool that consumes a :class:`~mqlite.queue.Queue`.

Design (see docs/worker.md):

* ``concurrency`` handler threads share one ready list. A thread with nothing to run and
  free slots in the pool takes the *fetcher* role: it receives ``min(batch_size, free
  slots)`` messages with a short poll (``wait=0``), puts them on the ready list with one
  lock hold and one notify, and goes back to handling. So no message waits in a local
  buffer unless a thread is free to take it, and a busy pool never switches to a separate
  fetcher thread. When the queue is empty the fetcher long-polls it (``IDLE_WAIT``, on the
  queue's clock, so a send answers it at once) with an :class:`~mqlite.clock.Interrupt`
  that :meth:`Worker.stop`, :meth:`Worker.wait_idle` and every finishing handler set: the
  poll ends at once and the fetcher looks again with a short poll. ``poll_interval`` is
  only the back-off after a failed receive.
* On a FIFO queue the messages of one group in a receive form a *chain* that one thread
  runs in order; if one fails the rest are made visible again, unprocessed, so a group is
  never handled out of order nor concurrently.
* Finished messages are deleted in batches (``delete_batch``, up to 10): when 10 are
  pending, when the fetcher finds the queue empty, on :meth:`Worker.stop`, and otherwise
  ``delete_delay`` (queue-clock) seconds after the first pending one finished — and always
  at least ``DELETE_MARGIN`` seconds before any pending message's visibility timeout ends
  (a message that finishes closer than that is deleted at once).
* one *heartbeat* thread waits on the queue's clock (``clock.wait``) for the earliest
  due heartbeat or delete deadline and extends visibility at half the timeout, never past
  the 12-hour cap counted from the receive, so ``ManualClock.advance`` drives it
  deterministically.
* ``async def`` handlers run on an event loop (the one passed as ``loop=``, or a thread
  running ``loop.run_forever`` the worker owns).
* A context variable names the job whose handler is running, so :meth:`Worker.stop`
  called by a handler (or awaited, for :class:`AsyncWorker`) skips waiting for that job
  instead of waiting for itself.
* :class:`AsyncWorker` has the same stages under the same names: ``_fetch`` receives
  for the pool while it has free slots, ``_admit`` turns a batch into jobs (a FIFO
  group's into one chain), ``_run`` calls ``_handle`` (the handler; how it ended, an
  ``_Outcome``) and settles the job with ``_settle``, which both build on the shared
  :func:`_count_failure` and :func:`_retried`; heartbeats use :func:`_extend`. What
  differs is how the work is spread: a Worker's threads share one ready list and batch
  their deletes; an AsyncWorker runs a task per job (per chain) and deletes each message
  when its handler returns. Each has one heartbeat loop (a thread, a task) that sleeps
  on the queue's clock until the earliest next beat.
* :meth:`Worker.wait_idle` is for tests: each change it looks at (a heartbeat sent, a
  job settled, a delete sent, an empty poll) notifies it when someone waits, so on a
  ``ManualClock`` a test advances, waits for the worker to catch up, and asserts.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import NamedTuple

import attrs

from mqlite._validation import in_range, shown
from mqlite.clock import Interrupt
from mqlite.errors import Closed, MqliteError
from mqlite.message import DeleteEntry, Message
from mqlite.queue import Queue

__all__ = ["DELETE_MARGIN", "AsyncWorker", "Retry", "Worker", "WorkerStats"]

log = logging.getLogger("mqlite.worker")

MAX_VISIBILITY = 43_200.0
#: Most handler threads of a Worker, and handler tasks of an AsyncWorker.
MAX_THREADS = 1_000
MAX_TASKS = 100_000
#: Longest poll_interval (real seconds).
MAX_POLL_INTERVAL = 3_600.0
#: Most entries in one ``delete_batch`` call (the SQS limit).
DELETE_BATCH = 10
#: The ids of a delete_batch's entries: their index in the batch.
_ENTRY_IDS = tuple(str(i) for i in range(DELETE_BATCH))
#: A finished message's delete is sent at least this many seconds (queue clock) before its
#: visibility timeout would end; one that finishes closer to it is deleted at once. It
#: covers the time between the heartbeat thread waking and the delete landing.
DELETE_MARGIN = 1.0

#: How long (queue-clock seconds) the fetcher's receive waits on an empty queue: SQS's
#: longest long poll. stop(), wait_idle() and finishing handlers cut it short.
IDLE_WAIT = 20.0

#: Longest real-time pause between receives that keep failing (queue deleted, say).
MAX_RECEIVE_BACKOFF = 1.0

_INF = float("inf")
#: wait_idle re-checks this often (real seconds) even when nothing notified it.
_RECHECK = 0.05

#: The job whose handler is running in this thread or task: stop() must not wait for it.
_handling: contextvars.ContextVar[_Job | None] = contextvars.ContextVar(
    "mqlite_worker_handling", default=None
)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the caller runs on *loop* (so blocking would stall it)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


Handler = Callable[[Message], object]
ErrorHook = Callable[[Message, BaseException], object]


class Retry(Exception):
    """Raise from a handler to have the message come back after *delay* seconds.

    The delay is 0..43,200 seconds (a visibility timeout). Like any failure, a retried
    receive counts toward the queue's ``max_receive_count``.

    Raises:
        ValueError: *delay* out of range; TypeError: it is not a number.
    """

    def __init__(self, delay: float = 0) -> None:
        delay = _number("Retry delay", delay, 0, MAX_VISIBILITY)
        super().__init__(f"retry in {delay}s")
        self.delay = float(delay)


def _number(
    name: str, value: object, low: float, high: float, *, integer: bool = False
) -> int | float:
    """*value* checked to be a number (an int if *integer*) in ``[low, high]``.

    Raises TypeError for the wrong type and ValueError out of range, never OverflowError.
    """
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {kind}, not {type(value).__name__}")
    if not in_range(value, low, high):
        raise ValueError(f"{name} must be from {low:g} to {high:g}, not {shown(value)}")
    return value


def _interval(name: str, value: object) -> float:
    """A real-time pause: a number > 0 and at most ``MAX_POLL_INTERVAL``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not in_range(value, 0, MAX_POLL_INTERVAL) or value == 0:
        raise ValueError(f"{name} must be > 0 and <= {MAX_POLL_INTERVAL:g}, not {shown(value)}")
    return float(value)


def _optional(name: str, value: object, low: float, high: float) -> float | None:
    return None if value is None else float(_number(name, value, low, high))


def _check_common(queue: object, handler: object, on_error: object) -> None:
    if not isinstance(queue, Queue):
        raise TypeError(f"queue must be a mqlite Queue, not {type(queue).__name__}")
    if not callable(handler):
        raise TypeError(f"handler must be callable, not {type(handler).__name__}")
    if on_error is not None and not callable(on_error):
        raise TypeError(f"on_error must be callable or None, not {type(on_error).__name__}")


@attrs.frozen
class WorkerStats:
    """A snapshot of a worker's counters."""

    processed: int
    failed: int
    retried: int
    in_flight: int
    heartbeats: int
    released: int


@attrs.define(eq=False)
class _Job:
    message: Message
    received_at: float
    timeout: float
    next_beat: float
    #: When the message becomes visible again unless extended (queue clock; a lower bound).
    visible_until: float = _INF
    #: The next message of the same FIFO group from the same receive, run after this one.
    after: _Job | None = None
    done: bool = False
    abandoned: bool = False


class _Outcome(NamedTuple):
    """How a handler call ended: returned (neither set), raised Retry, or raised."""

    retry: Retry | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.retry is None and self.error is None


_OK = _Outcome()

#: An empty job list that is never appended to: what most settles have nothing of.
_NO_JOBS: list[_Job] = []


class _Finished(NamedTuple):
    """What :meth:`Worker._finish` leaves to do outside the lock."""

    next: _Job | None  # the job this thread runs next
    fetch: bool  # nothing was ready: this thread took the fetcher role and receives next
    batch: list[_Job]  # deletes to send now
    rest: list[_Job]  # the FIFO chain cut behind a failed job, to release
    settle: bool  # a retry, a failure or a release to do (counted in _settling)
    abandoned: bool  # released by stop(): the result no longer counts
    stopped_here: bool  # this job's handler called stop()


def _retry_timeout(job: _Job, retry: Retry, now: float) -> float:
    """The visibility timeout that brings *job* back after *retry*'s delay, within the cap."""
    left = MAX_VISIBILITY - (now - job.received_at)
    return max(0.0, min(retry.delay, left))


def _new_jobs(
    messages: list[Message], now: float, timeout: float, heartbeat: float | None
) -> list[_Job]:
    """The jobs for a receive's messages, received at *now* (the admit step of both workers)."""
    next_beat = now + heartbeat if heartbeat is not None else _INF
    visible_until = now + timeout
    return [_Job(m, now, timeout, next_beat, visible_until) for m in messages]


def _count_failure(
    counters: _Counters,
    queue: Queue,
    job: _Job,
    outcome: _Outcome,
    now: float,
    on_error: ErrorHook | None,
) -> float | None:
    """Count and report a handler that did not return (the settle step of both workers).

    Returns, for a :class:`Retry`, the visibility timeout that brings the message back;
    the caller sets it, then calls :func:`_retried`. A failure is logged and passed to
    *on_error* here; its message comes back after its visibility timeout.
    """
    if outcome.retry is not None:
        with counters.lock:
            counters.retried += 1
        return _retry_timeout(job, outcome.retry, now)
    assert outcome.error is not None
    with counters.lock:
        counters.failed += 1
    _handler_failed(queue, job.message, outcome.error, on_error)
    return None


def _retried(queue: Queue, msg: Message, refused: MqliteError | None) -> None:
    """After a retry's ``change_visibility``: log a refusal; warn if the DLQ is next."""
    if refused is not None:
        log.warning("retry of %s failed: %s", msg.message_id, refused)
    _warn_dead_letter_next(queue, msg)


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.processed = 0
        self.failed = 0
        self.retried = 0
        self.heartbeats = 0
        self.released = 0


def _visibility(queue: Queue, visibility_timeout: float | None) -> float:
    return float(queue.visibility_timeout if visibility_timeout is None else visibility_timeout)


def _beat_interval(timeout: float, heartbeat: float | None) -> float | None:
    if heartbeat is not None:
        return heartbeat if heartbeat > 0 else None
    return timeout / 2 if timeout > 0 else None


def _extend(queue: Queue, job: _Job, now: float) -> bool:
    """Extend *job*'s visibility by its timeout (capped). False when no more is possible."""
    left = MAX_VISIBILITY - (now - job.received_at)
    timeout = min(job.timeout, left)
    if timeout <= 0:
        return False
    try:
        queue.change_visibility(job.message, timeout)
    except MqliteError as exc:
        log.warning("heartbeat for %s failed: %s", job.message.message_id, exc)
        return False
    job.visible_until = now + timeout
    return timeout == job.timeout


def _receive_failed(queue: Queue, exc: Exception, failures: int, poll_interval: float) -> float:
    """Log a failed receive; returns the real seconds to wait before the next one.

    The wait doubles from *poll_interval* with each failure in a row, up to
    ``MAX_RECEIVE_BACKOFF`` (or *poll_interval*, if longer).
    """
    backoff = min(
        poll_interval * 2.0 ** min(failures - 1, 30), max(MAX_RECEIVE_BACKOFF, poll_interval)
    )
    args = (queue.name, type(exc).__name__, exc, backoff)
    text = "receive from queue %s failed (%s: %s); retrying in %.3g s"
    if isinstance(exc, MqliteError):
        log.warning(text, *args)
    else:  # not the queue refusing: a defect somewhere, so keep the traceback
        log.error(text, *args, exc_info=exc)
    return backoff


def _handler_failed(
    queue: Queue, msg: Message, error: BaseException, on_error: ErrorHook | None
) -> None:
    """Log a handler's exception and pass it to *on_error*.

    With an ``on_error`` hook the user handles the error, so the traceback is logged at
    DEBUG only; without one it is an ERROR.
    """
    log.log(
        logging.ERROR if on_error is None else logging.DEBUG,
        "handler failed on message %s from queue %s (receive count %d)",
        msg.message_id,
        queue.name,
        msg.receive_count,
        exc_info=error,
    )
    _warn_dead_letter_next(queue, msg)
    if on_error is not None:
        try:
            on_error(msg, error)
        except Exception:
            log.exception(
                "on_error hook failed for message %s from queue %s", msg.message_id, queue.name
            )


def _warn_dead_letter_next(queue: Queue, msg: Message) -> None:
    """Warn when a failed (or retried) message's next receive moves it to the DLQ."""
    dlq = queue.dead_letter_queue
    if dlq is not None and msg.receive_count >= queue.max_receive_count:
        log.warning(
            "message %s from queue %s failed on receive %d of max_receive_count %d: its next"
            " receive moves it to dead-letter queue %s",
            msg.message_id,
            queue.name,
            msg.receive_count,
            queue.max_receive_count,
            dlq.name,
        )


def _chains(jobs: list[_Job]) -> list[_Job]:
    """Link each FIFO group's jobs in receive order; return the first job of each group."""
    heads: list[_Job] = []
    last: dict[str | None, _Job] = {}
    for job in jobs:
        group = job.message.group_id
        prev = last.get(group)
        if prev is None:
            heads.append(job)
        else:
            prev.after = job
        last[group] = job
    return heads


class Worker:
    """Consume *queue* with *concurrency* threads calling *handler* on each message.

    A handler that returns has its message deleted (in batches, see ``delete_delay``); one
    that raises leaves it to come back after its visibility timeout; one that raises
    :class:`Retry` makes it visible again after ``Retry.delay`` seconds. ``delete_delay``
    is the longest, in queue-clock seconds, a finished message waits for a fuller
    ``delete_batch`` (``0``: delete each one as soon as its handler returns); deletes are
    always sent at least ``DELETE_MARGIN`` (1 s) before the visibility timeout could end.
    See docs/worker.md for when batches are sent.
    """

    def __init__(
        self,
        queue: Queue,
        handler: Handler,
        *,
        concurrency: int = 4,
        visibility_timeout: float | None = None,
        heartbeat: float | None = None,
        batch_size: int | None = None,
        poll_interval: float = 0.02,
        delete_delay: float = 0.2,
        on_error: ErrorHook | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        name: str = "mqlite-worker",
    ) -> None:
        _check_common(queue, handler, on_error)
        concurrency = int(_number("concurrency", concurrency, 1, MAX_THREADS, integer=True))
        visibility_timeout = _optional("visibility_timeout", visibility_timeout, 0, MAX_VISIBILITY)
        heartbeat = _optional("heartbeat", heartbeat, 0, MAX_VISIBILITY)
        if batch_size is not None:
            batch_size = int(_number("batch_size", batch_size, 1, DELETE_BATCH, integer=True))
        poll_interval = _interval("poll_interval", poll_interval)
        delete_delay = _number("delete_delay", delete_delay, 0, MAX_VISIBILITY)
        if loop is not None and not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(
                f"loop must be an asyncio event loop or None, not {type(loop).__name__}"
            )
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        self.queue = queue
        self._clock = queue.clock  # read once per message: spare the property call
        self.handler = handler
        self.concurrency = concurrency
        self.visibility_timeout = _visibility(queue, visibility_timeout)
        self.heartbeat = _beat_interval(self.visibility_timeout, heartbeat)
        self.batch_size = batch_size or 10
        self.poll_interval = poll_interval
        self.delete_delay = float(delete_delay)
        self.on_error = on_error
        self.name = name
        self._is_async = inspect.iscoroutinefunction(handler)
        # What a handler thread calls per message: the handler itself, unless it is async.
        self._call: Callable[[Message], object] = self._call_on_loop if self._is_async else handler
        self._user_loop = loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        # One lock guards all the state below; each condition is one kind of waiter.
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # idle handler threads
        self._idle = threading.Condition(self._lock)  # the fetcher, sleeping on an empty queue
        self._beat = threading.Condition(self._lock)  # the heartbeat thread
        self._cond = threading.Condition(self._lock)  # stop(), waiting for the pool to settle
        self._settled = threading.Condition(self._lock)  # wait_idle()
        self._idle_waiters = 0  # threads in wait_idle: then changes notify _settled
        self._settling = 0  # finished handlers whose retry, failure or release is underway
        self._polls = 0  # receives started by the fetcher
        self._empty_poll = 0  # the number of the last that found nothing (then it slept)
        self._jobs: set[_Job] = set()  # received and not finished (ready, running, chained)
        self._ready: deque[_Job] = deque()  # jobs (chain heads) no thread has taken yet
        self._pending: list[_Job] = []  # finished, awaiting their batched delete
        self._flush_at = _INF  # the earliest flush_by in _pending
        self._flushing = 0  # delete calls in progress
        self._waiting = 0  # handler threads waiting on _work and not yet notified
        self._waking = False  # an idle thread was notified and has not taken the lock since
        self._fetching = False  # a thread holds the fetcher role
        self._polling = False  # ... and is long-polling an empty queue
        self._poke: Interrupt | None = None  # ends that long poll early when set
        # Finishing handlers do not end a remote long poll early: an abandoned one may still
        # take (and then release) a message, counting a receive against max_receive_count.
        self._poke_often = queue._interrupts_are_free
        self._beat_wake = -_INF  # the deadline the heartbeat thread sleeps until; -inf: awake
        self._stopping = False
        self._closed_seen = False  # the queue was closed: a stop is under way
        self._started = False
        self._keep: _Job | None = None  # the job whose handler called stop(), if one did
        self._stop_done = False  # stop() has released, flushed and returned (or is about to)
        self._c = _Counters()
        self._threads: list[threading.Thread] = []
        self._beater: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> Worker:
        """Start fetching and handling; returns self.

        A worker is single-use: once stopped, it cannot start again (make a new one).
        Cost: O(threads) to start its threads.

        Raises:
            RuntimeError: the worker was already started, or stopped, or its queue's clock
                is a ``ManualClock`` with ``autojump`` on.
        """
        if self._stopping:
            raise RuntimeError(
                "a Worker is single-use: this one was stopped; create a new Worker to consume again"
            )
        if self._started:
            raise RuntimeError("worker already started")
        if getattr(self.queue.clock, "autojump", False):
            # Each heartbeat wait would jump the clock to the next heartbeat at once.
            raise RuntimeError(
                "a Worker cannot run on a ManualClock with autojump=True: its heartbeat"
                " thread's waits would jump the clock forward; use ManualClock() and"
                " advance it from the test (worker.wait_idle() lets the worker catch up)"
            )
        self._started = True
        if self._is_async:
            if self._user_loop is not None:
                self._loop = self._user_loop
            else:
                self._loop = asyncio.new_event_loop()
                self._loop_thread = threading.Thread(
                    target=self._run_loop, args=(self._loop,), name=f"{self.name}-loop", daemon=True
                )
                self._loop_thread.start()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{self.name}_{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        self._beater = threading.Thread(
            target=self._beat_loop, name=f"{self.name}-beat", daemon=True
        )
        self._beater.start()
        for t in self._threads:
            t.start()
        return self

    def stop(self, *, drain: bool = True, timeout: float | None = None) -> None:
        """Stop receiving; finish (drain) or release every message in hand.

        Cost: a wait for running handlers (with ``drain``), then one
        ``change_visibility_batch`` per 10 messages released and a join per thread.

        ``drain=True`` waits (up to *timeout* real seconds) for running handlers, then
        releases whatever is still unfinished; ``drain=False`` releases at once. A released
        message is made visible again (``change_visibility 0``): nothing stays invisible.
        Every finished message's delete has been sent when ``stop`` returns.

        Called from inside a handler, ``stop`` does not wait for that handler: its message
        is settled as usual once the handler returns (and the rest of its FIFO chain is
        released unstarted), and the worker's threads end after it. An ``async def``
        handler must not block its event loop on ``stop``: it calls
        ``await asyncio.to_thread(worker.stop)``.

        Raises:
            RuntimeError: called on the event loop that runs the worker's async handlers.
        """
        own = _handling.get()
        if self._loop is not None and _on_loop(self._loop):
            raise RuntimeError(
                "Worker.stop() blocks the event loop its async handlers run on; from an"
                " async handler use: await asyncio.to_thread(worker.stop)"
            )
        with self._lock:
            if not self._started:
                return
            if own not in self._jobs:
                own = None  # not a handler of this worker
            if self._stopping:
                if own is None and threading.current_thread() not in self._threads:
                    # Another stop() is under way, perhaps a handler's that returned early:
                    # wait until it is done and the job it left running has settled.
                    self._cond.wait_for(self._stopped, timeout)
                return
            self._stopping = True
            self._keep = own
            self._work.notify_all()
            self._waiting = 0
            self._waking = False
            self._idle.notify_all()
            self._wake_fetcher()
            # A fetch in progress ends at once (a long poll is interrupted): let its
            # messages land in _jobs so they are drained or released with the rest.
            self._cond.wait_for(lambda: not self._fetching)
            # The calling handler's own job is not waited for (that would wait forever):
            # it settles when the handler returns. What is chained behind it is released.
            keep = {own} if own is not None else set()
            chained = set()  # its FIFO chain: this thread would run it after the handler
            nxt = own.after if own is not None else None
            while nxt is not None:
                chained.add(nxt)
                nxt = nxt.after
            if drain:
                self._cond.wait_for(lambda: self._jobs <= keep | chained, timeout)
            released = [job for job in self._jobs if job not in keep]
            for job in released:
                job.abandoned = True
            self._jobs.intersection_update(keep)
            self._ready.clear()
            batch = self._take_pending() if self._pending else []
            self._beat.notify_all()
        self._release(released)
        if batch:
            self._delete(batch)
        with self._lock:
            # Deletes other threads had already taken must land before stop() returns.
            self._cond.wait_for(lambda: not self._flushing)
            self._stop_done = True
            self._cond.notify_all()
        if own is not None:
            # The caller's own thread waits for it to return: the threads and the owned
            # loop end once its handler has returned (see _run).
            return
        if self._beater is not None:
            self._beater.join()
        if drain and timeout is None:
            me = threading.current_thread()  # on_error may call stop() from a pool thread
            for t in self._threads:
                if t is not me:
                    t.join()
        self._stop_owned_loop(join=drain and timeout is None)

    def _stop_for_closed_queue(self) -> None:
        with self._lock:
            if self._closed_seen or self._stopping:
                return
            self._closed_seen = True
        log.info("queue %s was closed: worker %s stops", self.queue.name, self.name)
        threading.Thread(target=self.stop, name=f"{self.name}-closed", daemon=True).start()

    def _stopped(self) -> bool:
        """Whether a stop() has finished and left nothing running; call with the lock."""
        return self._stop_done and not self._jobs and not self._flushing and not self._settling

    def _stop_owned_loop(self, *, join: bool) -> None:
        if self._loop_thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if join:
                self._loop_thread.join()

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.run_forever()
        finally:
            loop.close()

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(drain=True)

    # ---- counters --------------------------------------------------------------------
    @property
    def stats(self) -> WorkerStats:
        """A frozen snapshot of the worker's counters."""
        with self._lock:
            in_flight = len(self._jobs)
        c = self._c
        with c.lock:
            return WorkerStats(
                c.processed, c.failed, c.retried, in_flight, c.heartbeats, c.released
            )

    @property
    def processed(self) -> int:
        """Messages whose handler returned and whose delete has been sent."""
        return self.stats.processed

    @property
    def failed(self) -> int:
        """Handler calls that raised (their messages come back after the visibility timeout)."""
        return self.stats.failed

    @property
    def retried(self) -> int:
        """Handler calls that raised ``Retry`` (their messages come back after its delay)."""
        return self.stats.retried

    @property
    def in_flight(self) -> int:
        """Messages received and whose handler has not finished."""
        return self.stats.in_flight

    # ---- waiting for the worker in tests ---------------------------------------------
    def wait_idle(self, timeout: float | None = None, *, handlers: bool = True) -> bool:
        """Wait until the worker has caught up with the queue and its clock.

        Cost: a wait; O(1) to check each time the worker's state changes.

        That is: every heartbeat and timed delete due at the clock's current time has been
        sent, and every message fetched has been handed to a handler thread. With
        ``handlers=True`` also: every handler has returned and its message is settled (its
        delete sent), and the queue has been polled since this call and had nothing to
        receive. Pass ``handlers=False`` when a handler is blocked until the caller acts
        (a test holding a handler to watch its heartbeats). Returns False if *timeout*
        real seconds pass first, True otherwise. On a ``ManualClock`` this is what makes a
        test deterministic: advance the clock, ``wait_idle()``, then assert.

        Raises:
            RuntimeError: the worker was never started, or the call comes from one of its
                handlers (it would wait for itself) or from the loop its async handlers
                run on.
        """
        if not self._started:
            raise RuntimeError("wait_idle() on a worker that was not started")
        if self._loop is not None and _on_loop(self._loop):
            raise RuntimeError("wait_idle() would block the event loop the handlers run on")
        with self._lock:
            if handlers and _handling.get() in self._jobs:
                raise RuntimeError("wait_idle() from a handler would wait for that handler")
            since = self._polls  # a poll that started after this line must find nothing
            self._wake_fetcher()  # look now rather than when the long poll ends
            self._idle_waiters += 1
            try:
                return self._wait_settled(lambda: self._is_idle(since, handlers), timeout)
            finally:
                self._idle_waiters -= 1

    def _wait_settled(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        """``_settled.wait_for`` that also re-checks now and then; call with the lock.

        Every change that can make the worker idle notifies _settled; the re-check is a
        guard for what none can (another thread moving the clock while we wait).
        """
        end = None if timeout is None else time.monotonic() + timeout
        while not ready():
            left = _RECHECK if end is None else min(_RECHECK, end - time.monotonic())
            if left <= 0:
                return False
            self._settled.wait(left)
        return True

    def _is_idle(self, since: int, handlers: bool) -> bool:
        """See wait_idle; call with the lock."""
        now = self.queue.clock.time()
        if self._ready or self._flushing or self._settling or self._flush_at <= now:
            return False
        for job in self._jobs:
            if job.next_beat <= now and not job.done and not job.abandoned:
                return False  # a heartbeat is due and not sent yet
        if self._stopping:
            return not (handlers and self._jobs)
        if self._fetching and not self._polling:
            return False  # a receive is in progress
        if handlers:
            return not self._jobs and not self._pending and self._empty_poll > since
        # With a free slot the pool would receive: it must have found nothing.
        return len(self._jobs) >= self.concurrency or self._empty_poll > since

    def _wake_fetcher(self) -> None:
        """End the fetcher's long poll, if it is in one; call with the lock."""
        if self._poke is not None:
            self._poke.set()

    def _changed(self) -> None:
        """Something wait_idle looks at has changed; call with the lock."""
        if self._idle_waiters:
            self._settled.notify_all()

    # ---- handler threads -------------------------------------------------------------
    def _serve(self) -> None:
        """A handler thread: run ready jobs; with none ready and room in the pool, fetch."""
        lock = self._lock
        job: _Job | None = None
        while True:
            if job is None:
                with lock:
                    while True:
                        if self._ready:
                            job = self._take_ready()
                            break
                        if self._stopping:
                            return
                        if not self._fetching and len(self._jobs) < self.concurrency:
                            self._fetching = True
                            break
                        self._waiting += 1  # the thread that notifies takes it off
                        self._work.wait()
                        self._waking = False  # arrived: the next idle thread may be woken
                if job is None:
                    job = self._fetch()
                    continue
            job = self._run(job)

    def _take_ready(self) -> _Job:
        """Pop a ready job for this thread; call with the lock, the ready list not empty."""
        job = self._ready.popleft()
        self._wake_helper()
        if not self._ready:
            self._changed()
        return job

    def _wake_helper(self) -> None:
        """This thread is about to run a job: if that leaves work undone, wake one idle thread.

        Undone work is a ready job, or room in the pool with nobody fetching. Helpers wake
        one at a time, each by the one before: none is notified while another is on its
        way. So a thread that clears the ready list by itself (short handlers) wakes at
        most one thread in vain while it does, not one per job it takes; when handlers
        block, each woken thread arrives at once and wakes the next. Call with the lock.
        """
        if (
            self._waiting
            and not self._waking
            and (self._ready or (not self._fetching and len(self._jobs) < self.concurrency))
        ):
            # Counted off here, not by the woken thread: until it runs, the next job taken
            # must not notify again for nobody (a Condition.notify with no waiter left).
            self._waiting -= 1
            self._waking = True
            self._work.notify()

    def _fetch(self) -> _Job | None:
        """Receive for the pool; returns a job of the batch for this thread, if any.

        The caller holds the fetcher role; this gives it back.
        """
        queue = self.queue
        clock = queue.clock
        looked_again = False
        failures = 0  # receives failed in a row
        while True:
            with self._lock:
                free = min(self.batch_size, self.concurrency - len(self._jobs))
                if self._stopping or free <= 0:
                    self._fetching = False
                    self._polling = False
                    self._poke = None
                    self._cond.notify_all()
                    self._changed()
                    return None
                poke = self._poke
                if poke is not None and poke.is_set():
                    # Woken (a handler finished, wait_idle, stop): look with a short poll.
                    poke = self._poke = None
                    self._polling = False
                self._polls += 1
                poll = self._polls
            now = clock.time()
            try:
                messages = queue.receive(
                    free,
                    visibility_timeout=self.visibility_timeout,
                    wait=0 if poke is None else IDLE_WAIT,
                    interrupt=poke,
                )
            except Closed:
                # Nothing more will come: stop as stop() would (from a thread of its own,
                # since stop() waits for this fetch to end).
                self._stop_for_closed_queue()
                with self._lock:
                    self._poke = None
                    self._polling = False
                    if not self._stopping:
                        self._idle.wait(self.poll_interval)
                continue
            except Exception as exc:
                # Not ours to fix, but the fetcher role must not die with this thread.
                failures += 1
                pause = _receive_failed(queue, exc, failures, self.poll_interval)
                with self._lock:
                    self._poke = None
                    self._polling = False
                    if not self._stopping:
                        self._idle.wait(pause)
                continue
            failures = 0
            if messages:
                if poke is not None:
                    # A long poll may have waited long: its messages were received at its
                    # end (within DELETE_MARGIN's slack on a moving clock), not its start.
                    now = clock.time()
                return self._admit(messages, now)
            if poke is not None:
                continue  # the long poll ran out or was woken: see above
            # Idle: send the pending deletes now. On a FIFO queue they may be what blocks
            # the groups, so look once more before waiting.
            if self._flush_all() and not looked_again:
                looked_again = True
                continue
            looked_again = False
            with self._lock:
                if self._stopping:
                    continue
                # Long-poll from now on, until a message comes or something pokes us.
                self._polling = True
                self._poke = Interrupt()
                self._empty_poll = poll
                self._changed()

    def _admit(self, messages: list[Message], now: float) -> _Job:
        """Hand a received batch to the pool in one lock hold; returns this thread's job."""
        jobs = _new_jobs(messages, now, self.visibility_timeout, self.heartbeat)
        heads = _chains(jobs) if self.queue.fifo else jobs
        next_beat = jobs[0].next_beat
        with self._lock:
            self._jobs.update(jobs)
            self._ready.extend(heads)
            self._fetching = False
            self._polling = False
            self._poke = None
            if next_beat < self._beat_wake:
                self._wake_beat()
            if self._stopping:
                self._cond.notify_all()
            return self._take_ready()

    def _call_on_loop(self, message: Message) -> object:
        """Run an ``async def`` handler on the worker's event loop and wait for it."""
        assert self._loop is not None
        coro = self.handler(message)
        assert inspect.iscoroutine(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _run(self, job: _Job) -> _Job | None:
        """Run one job and settle it; returns the next job for this thread, if any.

        That is the next job of the FIFO chain, else a ready job, taken in the same lock
        hold as the settling. Three steps: the handler (:meth:`_handle`), the bookkeeping
        under the lock (:meth:`_finish`), then the calls outside it (:meth:`_settle`, and
        a delete batch if this job completed one).
        """
        if job.abandoned:  # released by stop(drain=False) since it was taken: do not start
            return None
        outcome = self._handle(job)
        done = self._finish(job, outcome)
        if not isinstance(done, _Finished):
            return done  # nothing else to do
        if done.abandoned:
            return None  # released by stop(): the result no longer counts
        if done.settle:
            try:
                self._settle(job, outcome, self._clock.time(), done.rest)
            finally:
                with self._lock:
                    self._settling -= 1
                    if self._stopping:
                        self._cond.notify_all()
                    self._changed()
        if done.batch:
            self._delete(done.batch)
        if done.stopped_here:
            self._stop_owned_loop(join=False)  # stop() left it running for this handler
        if done.fetch:
            return self._fetch()
        return done.next

    def _handle(self, job: _Job) -> _Outcome:
        """Call the handler on *job*'s message; what it raised, if anything."""
        token = _handling.set(job)
        try:
            self._call(job.message)
        except Retry as exc:
            return _Outcome(retry=exc)
        except BaseException as exc:  # even SystemExit: the thread must live to settle it
            return _Outcome(error=exc)
        finally:
            _handling.reset(token)
        return _OK

    def _finish(self, job: _Job, outcome: _Outcome) -> _Finished | _Job | None:
        """Record a finished job in one lock hold; what is left to do outside it.

        That is a :class:`_Finished`, or in the common case (a handler that returned,
        with no delete batch to send and no fetch to make) only the job to run next: no
        tuple to build per message.
        """
        batch = rest = _NO_JOBS
        with self._lock:
            job.done = True
            abandoned = job.abandoned
            nxt = job.after
            ok = outcome is _OK
            if not abandoned:
                self._jobs.discard(job)
                if not ok:
                    rest = self._cut_chain(job)
                    nxt = None
                else:
                    batch = self._add_pending(job)
            if nxt is not None and nxt.abandoned:
                nxt = None
            if self._poke is not None and self._poke_often:
                self._poke.set()  # more room in the pool, and perhaps a FIFO group to free
            # A retry, a failure or a release is still to do, outside the lock: wait_idle
            # must not report the worker idle before it is done.
            settle = not abandoned and not (ok and not rest)
            fetch = False
            if nxt is not None:
                self._wake_helper()  # this thread stays busy with the chain
            elif self._ready:
                if not abandoned:
                    nxt = self._take_ready()  # saves a lock hold per message in _serve
            elif not (abandoned or settle or batch or self._stopping or self._fetching):
                # Nothing ready: this thread receives next, as _serve would have it do,
                # without another lock hold. Not with a settle to do first (on_error may
                # call stop(), which waits for the fetcher role to be given back), nor a
                # delete batch: meanwhile another thread may receive (on a RemoteQueue,
                # the two requests overlap).
                fetch = self._fetching = len(self._jobs) < self.concurrency
            if self._stopping:
                self._cond.notify_all()
                self._beat.notify_all()  # it may be waiting only for this job to end
            if settle:
                self._settling += 1
            if self._idle_waiters:  # self._changed(), inline: this runs once per message
                self._settled.notify_all()
            if not (fetch or batch or settle or abandoned) and job is not self._keep:
                return nxt
            return _Finished(nxt, fetch, batch, rest, settle, abandoned, job is self._keep)

    def _cut_chain(self, job: _Job) -> list[_Job]:
        """FIFO: what follows a failed message must not run before it does; call with the lock.

        Returns the jobs taken off the chain, to release.
        """
        rest: list[_Job] = []
        nxt = job.after
        while nxt is not None:
            if not nxt.abandoned:
                nxt.abandoned = True
                self._jobs.discard(nxt)
                rest.append(nxt)
            nxt = nxt.after
        return rest

    def _add_pending(self, job: _Job) -> list[_Job]:
        """Queue a finished job's delete; a batch to send now, if one is due. Call with the lock.

        The delete is sent by its flush_by at the latest: within delete_delay, and
        DELETE_MARGIN before the visibility timeout could end.
        """
        pending = self._pending
        pending.append(job)
        # Taken as soon as it holds DELETE_BATCH: the list never grows past it. Once
        # stopping, nothing else would send it.
        if len(pending) >= DELETE_BATCH or self._stopping:
            return self._take_pending()
        last = job.visible_until - DELETE_MARGIN
        if last >= self._flush_at:
            # An earlier pending delete is due first (its delete_delay started earlier),
            # and the heartbeat thread keeps that deadline: no clock to read.
            return _NO_JOBS
        now = self._clock.time()
        flush_by = now + self.delete_delay
        if last < flush_by:  # not min(): this runs once per message
            flush_by = last
        if flush_by <= now:
            return self._take_pending()
        if flush_by < self._flush_at:
            self._flush_at = flush_by
            if flush_by < self._beat_wake:
                self._wake_beat()
        return _NO_JOBS

    def _settle(self, job: _Job, outcome: _Outcome, now: float, rest: list[_Job]) -> None:
        """What a finished handler leaves to do outside the lock, but for the delete."""
        if rest:
            self._release(rest)
        if outcome.ok:
            return  # its delete is in a batch
        timeout = _count_failure(self._c, self.queue, job, outcome, now, self.on_error)
        if timeout is not None:
            refused = None
            try:
                self.queue.change_visibility(job.message, timeout)
            except MqliteError as exc:
                refused = exc
            _retried(self.queue, job.message, refused)

    # ---- deletes and releases --------------------------------------------------------
    def _take_pending(self) -> list[_Job]:
        """Take the pending deletes (never more than one batch) to send; call with the lock."""
        batch = self._pending
        self._pending = []
        self._flush_at = _INF
        self._flushing += 1
        return batch

    def _flush_all(self) -> bool:
        """Send every pending delete now; False when there was none."""
        with self._lock:
            if not self._pending:
                return False
            batch = self._take_pending()
        self._delete(batch)
        return True

    def _delete(self, batch: list[_Job]) -> None:
        """Delete one batch of finished messages (taken by _take_pending)."""
        queue = self.queue
        try:
            if len(batch) == 1:
                queue.delete(batch[0].message)
            else:
                result = queue.delete_batch(
                    [
                        DeleteEntry(_ENTRY_IDS[i], job.message.receipt_handle or "")
                        for i, job in enumerate(batch)
                    ]
                )
                for failure in result.failed:
                    log.warning(
                        "delete of %s failed: %s",
                        batch[int(failure.id)].message.message_id,
                        failure.message,
                    )
        except MqliteError as exc:
            for job in batch:
                log.warning("delete of %s failed: %s", job.message.message_id, exc)
        except Exception:
            log.exception("delete of %d messages failed", len(batch))
        finally:
            with self._c.lock:
                self._c.processed += len(batch)
            with self._lock:
                self._flushing -= 1
                if self._stopping:
                    self._cond.notify_all()
                self._changed()

    def _release(self, jobs: list[_Job]) -> None:
        """Make unfinished messages visible again at once."""
        for job in jobs:
            try:
                self.queue.change_visibility(job.message, 0)
                with self._c.lock:
                    self._c.released += 1
            except MqliteError as exc:
                log.warning("could not release %s: %s", job.message.message_id, exc)

    # ---- heartbeats and timed deletes ------------------------------------------------
    def _wake_beat(self) -> None:
        """Wake the heartbeat thread: a deadline is due before the one it sleeps until.

        Once: until it has looked again, later calls find it awake and notify nobody.
        Call with the lock.
        """
        self._beat_wake = -_INF
        self._beat.notify()

    def _beat_loop(self) -> None:
        clock = self.queue.clock
        lock = self._lock
        while True:
            with lock:
                if self._stopping and not self._jobs:
                    return
                now = clock.time()
                batch = self._take_pending() if self._flush_at <= now else []
                due = [
                    j for j in self._jobs if j.next_beat <= now and not j.done and not j.abandoned
                ]
            if batch:
                self._delete(batch)
            for job in due:
                with lock:
                    # Settled, retried or released since it was picked: extending it now
                    # would hide it again. Under the lock, so that cannot change midway.
                    if job.done or job.abandoned:
                        continue
                    more = _extend(self.queue, job, now)
                    with self._c.lock:
                        self._c.heartbeats += 1
                    beat = self.heartbeat or job.timeout
                    job.next_beat = now + beat if more else _INF
                    self._changed()
            with lock:
                if self._stopping and not self._jobs:
                    return
                deadline = min(
                    min((j.next_beat for j in self._jobs if not j.done), default=_INF),
                    self._flush_at,
                )
                if deadline <= clock.time():
                    continue
                # Under the lock from here to the wait, so no wake-up can be missed.
                self._beat_wake = deadline
                if deadline == _INF:
                    self._beat.wait()
                else:
                    clock.wait(self._beat, deadline)
                self._beat_wake = -_INF


async def _clock_sleep(queue: Queue, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not fut.done():
            fut.set_result(None)

    timer = queue.clock.call_at(loop, deadline, wake)
    try:
        await fut
    finally:
        timer.cancel()


class AsyncWorker:
    """The asyncio worker: ``receive_async`` and handlers as tasks under a semaphore.

    On a FIFO queue one task runs the messages of a group from one receive in order, and
    makes the rest visible again, unprocessed, if one of them fails. If the queue is
    closed, the worker stops as :meth:`stop` would.
    """

    def __init__(
        self,
        queue: Queue,
        handler: Callable[[Message], Awaitable[object]],
        *,
        concurrency: int = 4,
        visibility_timeout: float | None = None,
        heartbeat: float | None = None,
        wait: float = 20,
        poll_interval: float = 0.02,
        on_error: ErrorHook | None = None,
    ) -> None:
        _check_common(queue, handler, on_error)
        concurrency = int(_number("concurrency", concurrency, 1, MAX_TASKS, integer=True))
        visibility_timeout = _optional("visibility_timeout", visibility_timeout, 0, MAX_VISIBILITY)
        heartbeat = _optional("heartbeat", heartbeat, 0, MAX_VISIBILITY)
        wait = float(_number("wait", wait, 0, 20))
        poll_interval = _interval("poll_interval", poll_interval)
        self.queue = queue
        self.handler = handler
        self.concurrency = concurrency
        self.visibility_timeout = _visibility(queue, visibility_timeout)
        self.heartbeat = _beat_interval(self.visibility_timeout, heartbeat)
        self.wait = wait
        self.poll_interval = poll_interval
        self.on_error = on_error
        self._c = _Counters()
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: set[_Job] = set()  # received and not settled
        self._fetcher: asyncio.Task[None] | None = None  # the task running _fetch
        # Set by stop(): a long poll in progress gives up instead of running on after the
        # fetch is cancelled (a remote one would hold asyncio.run's exit for its wait).
        self._stopping = Interrupt()
        self._beater: asyncio.Task[None] | None = None  # the task running _beat_loop
        self._admitted: asyncio.Event | None = None  # set by _admit: wakes an idle _beat_loop
        self._slots: asyncio.Semaphore | None = None
        self._changed: asyncio.Event | None = None  # set (and replaced) on each change
        self._parked = False  # the fetcher waits in a receive or its idle pause
        self._unstarted = 0  # chain tasks created that have not started yet
        self._idle_waiters = 0  # wait_idle calls in progress: then changes set _changed
        self._stopped = False
        self._stop_done: asyncio.Future[None] | None = None  # resolved when stop() is done
        self._closing: asyncio.Task[None] | None = None  # the stop() a closed queue started

    @property
    def stats(self) -> WorkerStats:
        """A frozen snapshot of the worker's counters."""
        c = self._c
        return WorkerStats(
            c.processed, c.failed, c.retried, len(self._held), c.heartbeats, c.released
        )

    async def start(self) -> AsyncWorker:
        """Start fetching and handling on the running event loop; returns self.

        An AsyncWorker is single-use: once stopped, it cannot start again.
        Cost: O(1): its fetch and heartbeat tasks.

        Raises:
            RuntimeError: the worker was already started, or stopped.
        """
        if self._stopped:
            raise RuntimeError(
                "an AsyncWorker is single-use: this one was stopped; create a new"
                " AsyncWorker to consume again"
            )
        if self._slots is not None:
            raise RuntimeError("worker already started")
        self._slots = asyncio.Semaphore(self.concurrency)
        self._changed = asyncio.Event()
        self._fetcher = asyncio.create_task(self._fetch())
        if self.heartbeat is not None:
            self._admitted = asyncio.Event()
            self._beater = asyncio.create_task(self._beat_loop(self.heartbeat))
        return self

    async def stop(self, *, drain: bool = True, timeout: float | None = None) -> None:
        """Stop; finish handlers in hand (``drain``) or make their messages visible again.

        Cost: a wait for running handlers (with ``drain``), then one
        ``change_visibility_batch`` per 10 messages released.

        Awaited from inside a handler, ``stop`` does not wait for that handler: its message
        is settled as usual once the handler returns, and the rest of its FIFO chain is
        released unstarted.
        """
        if self._slots is None:
            return
        own = _handling.get()
        if own not in self._held:
            own = None  # not a handler of this worker
        me = asyncio.current_task()
        if self._stopped:
            if own is None and self._stop_done is not None:
                # Another stop() is under way, perhaps a handler's that returned early:
                # wait until it is done and every handler task has ended.
                await asyncio.shield(self._stop_done)
                rest = [t for t in self._tasks if t is not me]
                if rest:
                    await asyncio.wait(rest, timeout=timeout)
            return
        self._stopped = True
        self._stop_done = asyncio.get_running_loop().create_future()
        done = self._stop_done
        try:
            if self._fetcher is not None:
                self._stopping.set()
                self._fetcher.cancel()
                await asyncio.gather(self._fetcher, return_exceptions=True)
                self._fetcher = None
            # The calling handler's task is not waited for nor cancelled: it would wait for
            # itself. It settles its own message when the handler returns.
            tasks = [t for t in self._tasks if t is not me]
            if drain and tasks:
                await asyncio.wait(tasks, timeout=timeout)
            held = [job for job in self._held if job is not own]
            self._held.intersection_update({own})
            for job in held:
                job.abandoned = True
            for task in tasks:
                task.cancel()
            for job in held:
                await self._release(job)
            await asyncio.gather(*tasks, return_exceptions=True)
            self._unstarted = 0  # tasks cancelled before their first step never counted down
            if not self._held:
                await self._end_beats()
            # else the calling handler's job still runs: _run ends the beats after it
            self._bump()
        finally:
            done.set_result(None)

    async def wait_idle(self, timeout: float | None = None, *, handlers: bool = True) -> bool:
        """Wait until the worker has caught up with the queue and its clock.

        Cost: a wait; O(1) to check each time the worker's state changes.

        That is: every heartbeat due at the clock's current time has been sent and every
        message fetched has been handed to a handler task. With ``handlers=True`` also:
        every handler has returned and its message is settled, and the fetcher waits in a
        receive with no visible message left to take. Pass ``handlers=False`` when a
        handler waits for the caller. Returns False if *timeout* real seconds pass
        first, True otherwise.

        Raises:
            RuntimeError: the worker was never started, or (``handlers=True``) the call
                comes from one of its handlers, which would wait for itself.
        """
        if self._changed is None:
            raise RuntimeError("wait_idle() on a worker that was not started")
        if handlers and _handling.get() in self._held:
            raise RuntimeError("wait_idle() from a handler would wait for that handler")
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        self._idle_waiters += 1
        try:
            while not self._is_idle(handlers):
                # Changes set the event; the bounded wait re-checks for one none covers.
                left = _RECHECK if end is None else min(_RECHECK, end - loop.time())
                if left <= 0:
                    return False
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except asyncio.TimeoutError:
                    pass
            return True
        finally:
            self._idle_waiters -= 1

    def _is_idle(self, handlers: bool) -> bool:
        now = self.queue.clock.time()
        if self._unstarted:
            return False
        for job in self._held:
            if job.next_beat <= now and not job.abandoned:
                return False  # a heartbeat is due and not sent yet
        if handlers and self._held:
            return False
        if self._fetcher is None or (not handlers and len(self._held) >= self.concurrency):
            return True
        if not self._parked:
            return False
        try:
            return self.queue.stats().visible == 0
        except MqliteError:  # deleted: nothing to receive
            return True

    def _bump(self) -> None:
        """Wake wait_idle: something it looks at has changed."""
        if self._idle_waiters and self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def __aenter__(self) -> AsyncWorker:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- the stages, as in Worker: _fetch, _admit, _run (_handle, _settle) -------------
    async def _fetch(self) -> None:
        """Receive for the pool while it has free slots, and admit each batch."""
        assert self._slots is not None
        failures = 0  # receives failed in a row
        while True:
            await self._slots.acquire()
            free = 1 + min(9, self.concurrency - len(self._held) - 1)
            got = 1
            while got < free and not self._slots.locked():
                await self._slots.acquire()
                got += 1
            self._parked = True
            self._bump()
            try:
                messages = await self.queue.receive_async(
                    got,
                    visibility_timeout=self.visibility_timeout,
                    wait=self.wait,
                    interrupt=self._stopping,
                )
            except BaseException as exc:
                self._parked = False
                for _ in range(got):
                    self._slots.release()
                if not isinstance(exc, Exception):
                    raise  # cancelled by stop()
                if isinstance(exc, Closed):
                    # Nothing more will come: stop as stop() would, from a task of its
                    # own (stop() cancels and waits for this fetch).
                    log.info("queue %s was closed: the async worker stops", self.queue.name)
                    self._closing = asyncio.create_task(self.stop())
                    return
                # The fetcher must not die with one failed receive: log, back off, retry.
                failures += 1
                await asyncio.sleep(_receive_failed(self.queue, exc, failures, self.poll_interval))
                continue
            failures = 0
            now = self.queue.clock.time()
            for _ in range(got - len(messages)):
                self._slots.release()
            if not messages:
                # A short poll returns at once: pause (real time, as Worker does), so the
                # loop never spins and a message sent meanwhile is still picked up.
                await asyncio.sleep(self.poll_interval if self.wait < self.poll_interval else 0)
                self._parked = False
                continue
            self._parked = False
            self._admit(messages, now)

    def _admit(self, messages: list[Message], now: float) -> None:
        """Hold a received batch: one task per job (per FIFO group's chain) to run it."""
        jobs = _new_jobs(messages, now, self.visibility_timeout, self.heartbeat)
        self._held.update(jobs)
        if self._admitted is not None:
            self._admitted.set()
        for head in _chains(jobs) if self.queue.fifo else jobs:
            # The task leaves _tasks as it ends (a done callback would cost the loop one
            # more callback per message); one cancelled before it started stays, done.
            self._tasks.add(asyncio.create_task(self._run_chain(head)))
            self._unstarted += 1

    async def _release(self, job: _Job) -> None:
        try:
            await self.queue.change_visibility_async(job.message, 0)
            self._c.released += 1
        except MqliteError as exc:
            log.warning("could not release %s: %s", job.message.message_id, exc)

    async def _run_chain(self, head: _Job) -> None:
        """Run a job and, on a FIFO queue, the rest of its group's chain in order."""
        assert self._slots is not None
        self._unstarted -= 1
        self._bump()
        try:
            job: _Job | None = head
            while job is not None:
                if job.abandoned:
                    return
                if not await self._run(job):
                    # What follows a failed message must not run before it does.
                    rest = job.after
                    while rest is not None:
                        if not rest.abandoned:
                            rest.abandoned = True
                            self._held.discard(rest)
                            self._slots.release()
                            await self._release(rest)
                        rest = rest.after
                    return
                job = job.after
        finally:
            self._tasks.discard(asyncio.current_task())

    async def _beat_loop(self, beat: float) -> None:
        """Extend each held job's visibility every *beat* seconds, on the queue's clock.

        One task for the pool, as a Worker has one heartbeat thread (a task and a timer
        per message would cost more than the message). It sleeps until the earliest next
        beat of a held job; a job admitted later is due later, so only an empty pool
        waits for ``_admit`` instead. Each job's beats fall at its receive plus whole
        heartbeats; after a jump of the clock past several, they are sent one by one.
        """
        assert self._admitted is not None
        clock = self.queue.clock
        while True:
            now = clock.time()
            due = _INF
            for job in list(self._held):  # _extend does not await: the set cannot change
                if job.abandoned:
                    continue
                if job.next_beat <= now:
                    self._c.heartbeats += 1
                    more = _extend(self.queue, job, now)
                    job.next_beat = job.next_beat + beat if more else _INF
                    self._bump()
                due = min(due, job.next_beat)
            if due <= now:
                continue  # the clock jumped past more than one beat
            if due == _INF:
                self._admitted.clear()
                await self._admitted.wait()
            else:
                await _clock_sleep(self.queue, due)

    async def _end_beats(self) -> None:
        """Stop the heartbeat task: nothing is held any more, after stop()."""
        if self._beater is not None:
            self._beater.cancel()
            await asyncio.gather(self._beater, return_exceptions=True)
            self._beater = None

    async def _run(self, job: _Job) -> bool:
        """Run and settle one job; True when its handler returned."""
        assert self._slots is not None
        outcome: _Outcome | None = None
        token = _handling.set(job)
        try:
            outcome = await self._handle(job)
            if outcome is not None:
                await self._settle(job, outcome)
        except MqliteError as exc:
            log.warning("settling %s failed: %s", job.message.message_id, exc)
        finally:
            _handling.reset(token)
            self._held.discard(job)
            self._slots.release()
            if self._stopped and not self._held:
                await self._end_beats()  # stop() left them running for this job
            self._bump()
        return outcome is not None and outcome.ok

    async def _handle(self, job: _Job) -> _Outcome | None:
        """Await the handler on *job*'s message; None when stop() cancelled it (released)."""
        try:
            await self.handler(job.message)
        except Retry as exc:
            return _Outcome(retry=exc)
        except asyncio.CancelledError:
            if not job.abandoned:
                raise
            return None
        except Exception as exc:
            return _Outcome(error=exc)
        return _OK

    async def _settle(self, job: _Job, outcome: _Outcome) -> None:
        """Delete, retry or report a finished job (a released one is only counted)."""
        msg = job.message
        if outcome.ok:
            if not job.abandoned:
                await self.queue.delete_async(msg)
                self._c.processed += 1
            return
        now = self.queue.clock.time()
        timeout = _count_failure(self._c, self.queue, job, outcome, now, self.on_error)
        if timeout is not None and not job.abandoned:
            refused = None
            try:
                await self.queue.change_visibility_async(msg, timeout)
            except MqliteError as exc:
                refused = exc
            _retried(self.queue, msg, refused)
