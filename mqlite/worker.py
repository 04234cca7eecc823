"""Worker: an in-process pool that consumes a :class:`~mqlite.queue.Queue`.

Design (see docs/worker.md):

* one *fetcher* thread receives ``min(10, free slots)`` messages with a short poll
  (``wait=0``) so no message ever waits in a local buffer while invisible; when the
  queue is empty it sleeps on its own condition for ``poll_interval`` *real* seconds,
  and :meth:`Worker.stop` (or a finishing handler) notifies that condition at once.
  The idle sleep is real time on purpose: with a ``ManualClock`` the clock does not move
  by itself, yet a message sent by the test must still be picked up.
* handlers run on ``concurrency`` threads; ``async def`` handlers run on an event loop
  (the one passed as ``loop=``, or a thread running ``loop.run_forever`` the worker owns).
* one *heartbeat* thread waits on the queue's clock (``clock.wait``) for the earliest
  due heartbeat and extends visibility at half the timeout, never past the 12-hour cap
  counted from the receive, so ``ManualClock.advance`` drives it deterministically.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import attrs

from mqlite.errors import MqliteError
from mqlite.message import Message
from mqlite.queue import Queue

__all__ = ["AsyncWorker", "Retry", "Worker", "WorkerStats"]

log = logging.getLogger("mqlite.worker")

MAX_VISIBILITY = 43_200.0

Handler = Callable[[Message], object]
ErrorHook = Callable[[Message, BaseException], object]


class Retry(Exception):
    """Raise from a handler to have the message come back after *delay* seconds."""

    def __init__(self, delay: float = 0) -> None:
        super().__init__(f"retry in {delay}s")
        self.delay = float(delay)


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
    done: bool = False
    abandoned: bool = False


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
    return timeout == job.timeout


class Worker:
    """Consume *queue* with *concurrency* threads calling *handler* on each message."""

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
        on_error: ErrorHook | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        name: str = "mqlite-worker",
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if batch_size is not None and not 1 <= batch_size <= 10:
            raise ValueError("batch_size must be 1..10")
        self.queue = queue
        self.handler = handler
        self.concurrency = concurrency
        self.visibility_timeout = _visibility(queue, visibility_timeout)
        self.heartbeat = _beat_interval(self.visibility_timeout, heartbeat)
        self.batch_size = batch_size or 10
        self.poll_interval = poll_interval
        self.on_error = on_error
        self.name = name
        self._is_async = inspect.iscoroutinefunction(handler)
        self._user_loop = loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._beat_cond = threading.Condition()
        self._jobs: set[_Job] = set()
        self._stopping = False
        self._started = False
        self._c = _Counters()
        self._pool: ThreadPoolExecutor | None = None
        self._fetcher: threading.Thread | None = None
        self._beater: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> Worker:
        """Start fetching and handling; returns self."""
        if self._started:
            raise RuntimeError("worker already started")
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
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.name)
        self._fetcher = threading.Thread(
            target=self._fetch_loop, name=f"{self.name}-fetch", daemon=True
        )
        self._beater = threading.Thread(
            target=self._beat_loop, name=f"{self.name}-beat", daemon=True
        )
        self._fetcher.start()
        self._beater.start()
        return self

    def stop(self, *, drain: bool = True, timeout: float | None = None) -> None:
        """Stop receiving; finish (drain) or release every message in hand.

        ``drain=True`` waits (up to *timeout* real seconds) for running handlers, then
        releases whatever is still unfinished; ``drain=False`` releases at once. A released
        message is made visible again (``change_visibility 0``): nothing stays invisible.
        """
        with self._cond:
            if not self._started or self._stopping:
                return
            self._stopping = True
            self._cond.notify_all()
        if self._fetcher is not None:
            self._fetcher.join()
        if drain:
            with self._cond:
                self._cond.wait_for(lambda: not self._jobs, timeout)
        self._release_all()
        with self._beat_cond:
            self._beat_cond.notify_all()
        if self._beater is not None:
            self._beater.join()
        if self._pool is not None:
            self._pool.shutdown(wait=drain and timeout is None)
        if self._loop_thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if drain and timeout is None:
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
        with self._cond:
            in_flight = len(self._jobs)
        c = self._c
        with c.lock:
            return WorkerStats(
                c.processed, c.failed, c.retried, in_flight, c.heartbeats, c.released
            )

    @property
    def processed(self) -> int:
        """Messages whose handler returned (and which were deleted)."""
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
        """Messages received and not yet finished."""
        return self.stats.in_flight

    # ---- internals -------------------------------------------------------------------
    def _release_all(self) -> None:
        with self._cond:
            jobs = [j for j in self._jobs if not j.done and not j.abandoned]
            for j in jobs:
                j.abandoned = True
                self._jobs.discard(j)
            self._cond.notify_all()
        for j in jobs:
            try:
                self.queue.change_visibility(j.message, 0)
                with self._c.lock:
                    self._c.released += 1
            except MqliteError as exc:
                log.warning("could not release %s: %s", j.message.message_id, exc)

    def _fetch_loop(self) -> None:
        queue = self.queue
        clock = queue.clock
        while True:
            with self._cond:
                while not self._stopping and len(self._jobs) >= self.concurrency:
                    self._cond.wait()
                if self._stopping:
                    return
                free = min(self.batch_size, self.concurrency - len(self._jobs))
            try:
                now = clock.time()
                messages = queue.receive(free, visibility_timeout=self.visibility_timeout, wait=0)
            except MqliteError as exc:
                log.warning("receive failed: %s", exc)
                messages = []
            if not messages:
                with self._cond:
                    if not self._stopping:
                        self._cond.wait(self.poll_interval)
                continue
            jobs = []
            with self._cond:
                for m in messages:
                    beat = self.heartbeat
                    job = _Job(
                        m,
                        now,
                        self.visibility_timeout,
                        now + beat if beat is not None else float("inf"),
                    )
                    self._jobs.add(job)
                    jobs.append(job)
            with self._beat_cond:
                self._beat_cond.notify_all()
            assert self._pool is not None
            for job in jobs:
                self._pool.submit(self._run, job)

    def _call(self, message: Message) -> object:
        if self._is_async:
            assert self._loop is not None
            coro = self.handler(message)
            assert inspect.iscoroutine(coro)
            return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
        return self.handler(message)

    def _run(self, job: _Job) -> None:
        msg = job.message
        error: BaseException | None = None
        retry: Retry | None = None
        try:
            self._call(msg)
        except Retry as exc:
            retry = exc
        except Exception as exc:
            error = exc
        with self._cond:
            abandoned = job.abandoned
            job.done = True
        try:
            if abandoned:
                return
            if retry is not None:
                with self._c.lock:
                    self._c.retried += 1
                left = MAX_VISIBILITY - (self.queue.clock.time() - job.received_at)
                try:
                    self.queue.change_visibility(msg, max(0.0, min(retry.delay, left)))
                except MqliteError as exc:
                    log.warning("retry of %s failed: %s", msg.message_id, exc)
            elif error is not None:
                with self._c.lock:
                    self._c.failed += 1
                log.error("handler failed on %s", msg.message_id, exc_info=error)
                if self.on_error is not None:
                    try:
                        self.on_error(msg, error)
                    except Exception:
                        log.exception("on_error hook failed")
            else:
                try:
                    self.queue.delete(msg)
                except MqliteError as exc:
                    log.warning("delete of %s failed: %s", msg.message_id, exc)
                with self._c.lock:
                    self._c.processed += 1
        finally:
            with self._cond:
                self._jobs.discard(job)
                self._cond.notify_all()

    def _beat_loop(self) -> None:
        clock = self.queue.clock
        while True:
            with self._cond:
                if self._stopping and not self._jobs:
                    return
                jobs = [j for j in self._jobs if not j.done and not j.abandoned]
            now = clock.time()
            for job in jobs:
                if job.next_beat <= now:
                    more = _extend(self.queue, job, now)
                    with self._c.lock:
                        self._c.heartbeats += 1
                    beat = self.heartbeat or job.timeout
                    job.next_beat = now + beat if more else float("inf")
            with self._cond:
                pending = [j.next_beat for j in self._jobs if not j.done]
            deadline = min(pending, default=float("inf"))
            with self._beat_cond:
                if self._stopping and not pending:
                    return
                if deadline == float("inf"):
                    self._beat_cond.wait()
                elif deadline > clock.time():
                    clock.wait(self._beat_cond, deadline)


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
    """The asyncio worker: ``receive_async`` and handlers as tasks under a semaphore."""

    def __init__(
        self,
        queue: Queue,
        handler: Callable[[Message], Awaitable[object]],
        *,
        concurrency: int = 4,
        visibility_timeout: float | None = None,
        heartbeat: float | None = None,
        wait: float = 20,
        on_error: ErrorHook | None = None,
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.concurrency = concurrency
        self.visibility_timeout = _visibility(queue, visibility_timeout)
        self.heartbeat = _beat_interval(self.visibility_timeout, heartbeat)
        self.wait = wait
        self.on_error = on_error
        self._c = _Counters()
        self._tasks: dict[asyncio.Task[None], _Job] = {}
        self._fetch: asyncio.Task[None] | None = None
        self._slots: asyncio.Semaphore | None = None

    @property
    def stats(self) -> WorkerStats:
        """A frozen snapshot of the worker's counters."""
        c = self._c
        return WorkerStats(
            c.processed, c.failed, c.retried, len(self._tasks), c.heartbeats, c.released
        )

    async def start(self) -> AsyncWorker:
        """Start fetching and handling on the running event loop; returns self."""
        self._slots = asyncio.Semaphore(self.concurrency)
        self._fetch = asyncio.create_task(self._fetch_loop())
        return self

    async def stop(self, *, drain: bool = True, timeout: float | None = None) -> None:
        """Stop; finish handlers in hand (``drain``) or make their messages visible again."""
        if self._fetch is not None:
            self._fetch.cancel()
            await asyncio.gather(self._fetch, return_exceptions=True)
            self._fetch = None
        tasks = list(self._tasks)
        if drain and tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for task, job in list(self._tasks.items()):
            job.abandoned = True
            task.cancel()
            try:
                await self.queue.change_visibility_async(job.message, 0)
                self._c.released += 1
            except MqliteError as exc:
                log.warning("could not release %s: %s", job.message.message_id, exc)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> AsyncWorker:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _fetch_loop(self) -> None:
        assert self._slots is not None
        while True:
            await self._slots.acquire()
            free = 1 + min(9, self.concurrency - len(self._tasks) - 1)
            got = 1
            while got < free and not self._slots.locked():
                await self._slots.acquire()
                got += 1
            try:
                messages = await self.queue.receive_async(
                    got, visibility_timeout=self.visibility_timeout, wait=self.wait
                )
            except BaseException:
                for _ in range(got):
                    self._slots.release()
                raise
            now = self.queue.clock.time()
            for _ in range(got - len(messages)):
                self._slots.release()
            for m in messages:
                job = _Job(m, now, self.visibility_timeout, float("inf"))
                task = asyncio.create_task(self._run(job))
                self._tasks[task] = job

    async def _beats(self, job: _Job) -> None:
        beat = self.heartbeat
        if beat is None:
            return
        at = job.received_at
        while True:
            at += beat
            await _clock_sleep(self.queue, at)
            now = self.queue.clock.time()
            self._c.heartbeats += 1
            if not _extend(self.queue, job, now):
                return

    async def _run(self, job: _Job) -> None:
        assert self._slots is not None
        msg = job.message
        beats = asyncio.create_task(self._beats(job))
        try:
            try:
                await self.handler(msg)
            except Retry as exc:
                self._c.retried += 1
                left = MAX_VISIBILITY - (self.queue.clock.time() - job.received_at)
                if not job.abandoned:
                    await self.queue.change_visibility_async(msg, max(0.0, min(exc.delay, left)))
            except asyncio.CancelledError:
                if not job.abandoned:
                    raise
            except Exception as exc:
                self._c.failed += 1
                log.error("handler failed on %s", msg.message_id, exc_info=exc)
                if self.on_error is not None:
                    try:
                        self.on_error(msg, exc)
                    except Exception:
                        log.exception("on_error hook failed")
            else:
                if not job.abandoned:
                    await self.queue.delete_async(msg)
                    self._c.processed += 1
        except MqliteError as exc:
            log.warning("settling %s failed: %s", msg.message_id, exc)
        finally:
            beats.cancel()
            task = asyncio.current_task()
            if task is not None:
                self._tasks.pop(task, None)
            self._slots.release()
