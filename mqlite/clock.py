"""Time, injected: :class:`Clock`, :class:`SystemClock` and :class:`ManualClock`.

Every timing rule in mqlite (delays, visibility timeouts, retention, long polls, dedup
windows, worker heartbeats) reads time from a clock and waits through it. The system clock
is the default; a :class:`ManualClock` moves only when a test tells it to, and wakes every
waiter whose deadline it passes, so a 12-hour visibility timeout or a 20-second long poll
takes microseconds of real time and behaves the same on every run.

A clock offers two ways to wait, one for threads and one for event loops:

* ``wait(cond, deadline)`` — called with ``cond``'s lock held, returns when ``cond`` is
  notified or the clock reaches ``deadline`` (it may also return early; callers re-check).
* ``call_at(loop, deadline, callback)`` — runs ``callback`` on ``loop`` once the clock
  reaches ``deadline``; returns a handle with ``cancel()``.

An :class:`Interrupt` cuts such waits short: a receive given one gives up waiting (and
returns what it has, usually nothing) once the interrupt is set.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ._validation import in_range, shown

__all__ = ["Clock", "Interrupt", "ManualClock", "SystemClock", "TimerHandle"]

#: Where a :class:`ManualClock` starts unless told otherwise: 2024-01-01T00:00:00Z.
DEFAULT_MANUAL_START = 1_704_067_200.0

#: The latest time a :class:`ManualClock` can be started at, set to or advanced to:
#: 9999-12-31T23:59:59Z. Far past it a float no longer keeps milliseconds apart, and dates
#: stop being printable. (An autojump goes to its wait's deadline, a few seconds past it.)
MAX_MANUAL_TIME = 253_402_300_799.0


@runtime_checkable
class TimerHandle(Protocol):
    """What :meth:`Clock.call_at` returns."""

    def cancel(self) -> None:
        """Stop the callback from running, if it has not run yet."""


@runtime_checkable
class Clock(Protocol):
    """The source of time and of timed waiting for everything mqlite does."""

    def time(self) -> float:
        """Seconds since the epoch. Cost: O(1)."""

    def wait(self, cond: threading.Condition, deadline: float) -> None:
        """Block on *cond* (whose lock the caller holds) until notified or *deadline*.

        Cost: O(log t) to register, for t timers waiting on the clock.
        """

    def call_at(
        self, loop: asyncio.AbstractEventLoop, deadline: float, callback: Callable[[], None]
    ) -> TimerHandle:
        """Run *callback* on *loop* once the clock reaches *deadline*.

        Cost: O(log t) to schedule, for t timers waiting on the clock.
        """


class SystemClock:
    """Real time: :func:`time.time` and ordinary timed waits."""

    def time(self) -> float:
        """Seconds since the epoch, from :func:`time.time`. Cost: O(1)."""
        return time.time()

    def wait(self, cond: threading.Condition, deadline: float) -> None:
        """Wait on *cond* for at most the seconds left until *deadline*.

        Cost: one timed :meth:`threading.Condition.wait`.
        """
        remaining = deadline - time.time()
        if remaining > 0:
            cond.wait(remaining)

    def call_at(
        self, loop: asyncio.AbstractEventLoop, deadline: float, callback: Callable[[], None]
    ) -> TimerHandle:
        """Schedule *callback* on *loop*'s own timer (no thread involved).

        Cost: O(log t), the event loop's timer heap.
        """
        return loop.call_later(max(0.0, deadline - time.time()), callback)

    def __repr__(self) -> str:
        return "SystemClock()"


def same_time(a: Clock, b: Clock) -> bool:
    """Whether two clocks tell the same time: one clock, or two system clocks."""
    return a is b or (type(a) is SystemClock and type(b) is SystemClock)


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "clock", "deadline", "loop", "queued")

    def __init__(
        self,
        clock: ManualClock,
        deadline: float,
        loop: asyncio.AbstractEventLoop | None,
        callback: Callable[[], None],
    ) -> None:
        self.clock = clock
        self.deadline = deadline
        self.loop = loop
        self.callback = callback
        self.cancelled = False
        self.queued = False  # in the clock's heap (changed under the clock's lock)

    def cancel(self) -> None:
        self.clock._cancel(self)

    def fire(self) -> None:
        if self.cancelled:
            return
        if self.loop is None:
            self.callback()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.callback)


class ManualClock:
    """A clock that moves only when told to — for deterministic tests.

    ``advance(seconds)`` and ``set(epoch)`` move it and wake every waiter whose deadline
    has now passed: long polls and workers in other threads, and coroutines waiting on
    any event loop. Time never moves by itself, so a thread blocked in a long poll on a
    manual clock waits until another thread sends a message or advances the clock.

    A blocking wait from a process's only thread could never end, so it raises
    ``RuntimeError`` instead of hanging: ``queue.receive(wait=20)`` on an empty queue, in
    a single-threaded test, fails at once with a message saying what to do.

    With ``autojump=True`` a wait that nothing else can end jumps the clock forward to
    its own deadline instead of blocking. That suits single-threaded tests
    (``queue.receive(wait=20)`` on an empty queue returns at once with the clock 20 s
    later); leave it off when other threads advance the clock. Only ``wait`` (a thread's
    wait) jumps: ``call_at`` timers (``receive_async``, the async worker) still wait for
    an ``advance`` from another task.

    Example::

        clock = ManualClock()
        q = Queue("jobs", clock=clock, visibility_timeout=43_200)
        q.send("x")
        [m] = q.receive()
        clock.advance(43_200)          # twelve hours, instantly
        assert q.receive()[0].body == "x"
    """

    def __init__(self, start: float = DEFAULT_MANUAL_START, *, autojump: bool = False) -> None:
        """Start at *start* (epoch seconds, ``0 <= start <= MAX_MANUAL_TIME``).

        Raises:
            TypeError: *start* is not an int or float (a bool is refused too).
            ValueError: *start* is NaN, infinite, negative or past ``MAX_MANUAL_TIME``.
        """
        self._now = _checked_time("ManualClock(start=...)", start)
        self._lock = threading.Lock()
        self._timers: list[tuple[float, int, _ManualTimer]] = []
        #: Cancelled timers still in ``_timers``: dropped when they surface, or all at
        #: once when they are more than half the heap (every answered long poll leaves one).
        self._cancelled = 0
        self._counter = itertools.count()
        self.autojump = autojump

    def time(self) -> float:
        """The clock's current time, in epoch seconds. Cost: O(1)."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by *seconds* (≥ 0) and wake what is due.

        Cost: O(k log t) for k timers due among t waiting, plus what their callbacks do.

        Raises:
            TypeError: *seconds* is not an int or float (a bool is refused too).
            ValueError: *seconds* is NaN, infinite or negative, or the clock would pass
                ``MAX_MANUAL_TIME``. The clock is left as it was.
        """
        _check_number("ManualClock.advance(seconds)", seconds)
        with self._lock:
            if not in_range(seconds, 0, MAX_MANUAL_TIME - self._now):
                raise ValueError(
                    "ManualClock.advance(seconds) needs seconds >= 0, finite, and not past"
                    f" the clock's last time {MAX_MANUAL_TIME!r}; got {shown(seconds)}"
                )
            self._now += seconds
        self._fire_due()

    def set(self, epoch_seconds: float) -> None:
        """Set the clock to *epoch_seconds* and wake what is due.

        Cost: as :meth:`advance`.

        Moving backwards is allowed (it wakes nothing); queues treat time as it reads.

        Raises:
            TypeError / ValueError: as for ``ManualClock(start=...)``; the clock is left
                as it was.
        """
        now = _checked_time("ManualClock.set(epoch_seconds)", epoch_seconds)
        with self._lock:
            self._now = now
        self._fire_due()

    def wait(self, cond: threading.Condition, deadline: float) -> None:
        """Block on *cond* until notified or until the clock is moved past *deadline*.

        Cost: O(log t) to register and cancel its timer, for t timers waiting.

        Raises:
            RuntimeError: the wait would block (no ``autojump``) and the calling thread is
                the process's only thread: nothing could ever send, advance the clock or
                wake it, so it would hang forever. Nothing is registered or changed.
        """
        with self._lock:
            if deadline <= self._now:
                return
            if self.autojump:
                jump = True
            else:
                if threading.active_count() == 1:
                    raise RuntimeError(
                        f"a wait on {self!r} until {deadline!r} would block forever: this is"
                        " the only thread, so nothing else can send a message or advance the"
                        " clock. Advance or send from another thread, poll with wait=0, or"
                        " use ManualClock(autojump=True)."
                    )
                jump = False
                timer = _ManualTimer(self, deadline, None, lambda: _notify(cond))
                self._push(timer)
        if jump:
            # Nothing else moves a single-threaded test's clock: move it ourselves, to the
            # deadline itself (not checked against MAX_MANUAL_TIME: stopping short would
            # leave the waiter waiting).
            with self._lock:
                self._now = max(deadline, self._now)
            self._fire_due()
            return
        try:
            cond.wait()
        finally:
            timer.cancel()

    def call_at(
        self, loop: asyncio.AbstractEventLoop, deadline: float, callback: Callable[[], None]
    ) -> TimerHandle:
        """Run *callback* on *loop* once the clock is moved to *deadline* or beyond.

        Cost: O(log t) to schedule, for t timers waiting on the clock.
        """
        timer = _ManualTimer(self, deadline, loop, callback)
        with self._lock:
            due = deadline <= self._now
            if not due:
                self._push(timer)
        if due:
            timer.fire()
        return timer

    def pending_deadlines(self) -> list[float]:
        """The deadlines of everything now waiting on this clock, soonest first.

        Useful in tests: advance to the first one to wake exactly the next waiter.
        Cost: O(t log t) for t timers — meant for tests, not hot paths.
        """
        with self._lock:
            return sorted(d for d, _, t in self._timers if not t.cancelled)

    def _push(self, timer: _ManualTimer) -> None:
        # Lock held.
        timer.queued = True
        heapq.heappush(self._timers, (timer.deadline, next(self._counter), timer))

    def _cancel(self, timer: _ManualTimer) -> None:
        with self._lock:
            if timer.cancelled:
                return
            timer.cancelled = True
            if not timer.queued:
                return
            self._cancelled += 1
            if 2 * self._cancelled > len(self._timers):
                # More than half the heap is dead: rebuild it (amortised O(1) per cancel).
                for _, _, dead in self._timers:
                    if dead.cancelled:
                        dead.queued = False
                self._timers = [e for e in self._timers if not e[2].cancelled]
                heapq.heapify(self._timers)
                self._cancelled = 0

    def _fire_due(self) -> None:
        due: list[_ManualTimer] = []
        with self._lock:
            while self._timers and (
                self._timers[0][0] <= self._now or self._timers[0][2].cancelled
            ):
                _, _, timer = heapq.heappop(self._timers)
                timer.queued = False
                if timer.cancelled:
                    self._cancelled -= 1
                else:
                    due.append(timer)
        # Fire outside our lock: a waiter holds its condition's lock while it registers
        # with us, so taking a condition lock while holding ours could deadlock.
        for timer in due:
            timer.fire()

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"


def _check_number(what: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be an int or float, got {type(value).__name__}")


def _checked_time(what: str, value: object) -> float:
    """*value* as a time a manual clock can show, or TypeError / ValueError."""
    _check_number(what, value)
    if not in_range(value, 0, MAX_MANUAL_TIME):
        raise ValueError(f"{what} needs 0 <= seconds <= {MAX_MANUAL_TIME!r}, got {shown(value)}")
    return float(value)


class Interrupt:
    """A one-way flag that makes waiting receives give up.

    Pass it to ``Queue.receive(..., interrupt=...)`` or ``receive_async``: once
    :meth:`set` is called (from any thread), every receive waiting with it returns at once,
    as if its wait had run out — with the messages it has, usually none. A receive given an
    interrupt that is already set does not wait at all (a short poll). Other receives on the
    same queue are not affected, so a consumer can stop its own long poll without closing
    the queue for anyone else. An interrupt cannot be cleared: use a new one per stop.

    A remote queue's long poll cannot be cut short once sent: ``RemoteQueue`` checks the
    interrupt before each request and splits longer waits (see its ``receive``).
    """

    __slots__ = ("_callbacks", "_lock", "_set")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._callbacks: set[Callable[[], None]] = set()

    def set(self) -> None:
        """Wake every receive waiting with this interrupt; later ones do not wait.

        Cost: O(w) for w receives waiting with it.
        """
        with self._lock:
            self._set = True
            callbacks = list(self._callbacks)
            self._callbacks.clear()
        for callback in callbacks:  # outside our lock: they take the queue's
            callback()

    def is_set(self) -> bool:
        """Whether :meth:`set` has been called. Cost: O(1)."""
        return self._set

    def _add(self, callback: Callable[[], None]) -> bool:
        """Call *callback* on :meth:`set`; True (and not added) if already set."""
        with self._lock:
            if self._set:
                return True
            self._callbacks.add(callback)
            return False

    def _discard(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.discard(callback)

    def __repr__(self) -> str:
        return f"Interrupt(set={self._set})"


def _notify(cond: threading.Condition) -> None:
    with cond:
        cond.notify_all()
