"""AsyncWorker and async handlers: every message accounted for, bounded in time."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from mqlite import Interrupt, ManualClock, Message, Queue
from mqlite.errors import QueueDoesNotExist
from mqlite.message import SendEntry
from mqlite.worker import AsyncWorker, Retry, Worker

GUARD = 10.0


async def until(cond: object) -> None:
    async def loop() -> None:
        while not cond():  # type: ignore[operator]
            await asyncio.sleep(0.002)

    await asyncio.wait_for(loop(), GUARD)


def test_async_worker_processes_all() -> None:
    async def main() -> None:
        q = Queue("q")
        for i in range(50):
            q.send(str(i))
        seen: list[str] = []

        async def handler(m: Message) -> None:
            await asyncio.sleep(0)
            seen.append(m.body)

        async with AsyncWorker(q, handler, concurrency=5) as w:
            await until(lambda: w.stats.processed == 50)
        assert sorted(seen, key=int) == [str(i) for i in range(50)]
        assert q.stats().visible == q.stats().in_flight == 0

    asyncio.run(main())


def test_async_worker_long_poll_manual_clock_and_retry() -> None:
    async def main() -> None:
        clock = ManualClock()
        q = Queue("q", clock=clock, visibility_timeout=30)
        calls: list[float] = []

        async def handler(m: Message) -> None:
            calls.append(clock.time())
            if len(calls) == 1:
                raise Retry(delay=7)

        async with AsyncWorker(q, handler, concurrency=2) as w:
            await asyncio.sleep(0.01)  # the fetcher is long-polling an empty queue
            await q.send_async("x")
            await until(lambda: w.stats.retried == 1)
            clock.advance(7)
            await until(lambda: w.stats.processed == 1)
        assert calls[1] - calls[0] == 7
        assert q.stats().in_flight == 0

    asyncio.run(main())


def test_async_worker_heartbeat() -> None:
    async def main() -> None:
        clock = ManualClock()
        q = Queue("q", clock=clock, visibility_timeout=20)
        q.send("long")
        release = asyncio.Event()
        counts: list[int] = []

        async def handler(m: Message) -> None:
            counts.append(m.receive_count)
            await release.wait()

        async with AsyncWorker(q, handler) as w:
            await until(lambda: counts == [1])
            for i in range(1, 7):
                clock.advance(10)
                await until(lambda i=i: w.stats.heartbeats == i)
                assert q.stats().in_flight == 1
            release.set()
            await until(lambda: w.stats.processed == 1)
        assert counts == [1]

    asyncio.run(main())


@pytest.mark.parametrize("drain", [True, False])
def test_async_worker_stop(drain: bool) -> None:
    async def main() -> None:
        q = Queue("q", visibility_timeout=300)
        for i in range(6):
            q.send(str(i))
        release = asyncio.Event()
        running: list[str] = []

        async def handler(m: Message) -> None:
            running.append(m.body)
            await release.wait()

        w = await AsyncWorker(q, handler, concurrency=3).start()
        await until(lambda: len(running) == 3)
        assert q.stats().in_flight == 3
        if drain:
            release.set()
            await w.stop(drain=True)
            assert w.stats.processed == 3
            assert q.stats().visible == 3
        else:
            await w.stop(drain=False)
            assert w.stats.released == 3
            assert q.stats().visible == 6
        assert q.stats().in_flight == 0

    asyncio.run(main())


def test_cancelled_receive_async_leaves_queue_unchanged() -> None:
    async def main() -> None:
        clock = ManualClock()
        q = Queue("q", clock=clock)
        task = asyncio.create_task(q.receive_async(wait=20))
        await asyncio.sleep(0.01)
        q.send("a")  # wakes the poll; cancelled before it runs again
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert q.stats().visible == 1
        assert q.stats().in_flight == 0
        assert q.peek()[0].receive_count == 0
        assert [m.body for m in await q.receive_async()] == ["a"]

    asyncio.run(main())


def test_threaded_worker_with_user_loop() -> None:
    loop = asyncio.new_event_loop()
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    try:
        q = Queue("q")
        for i in range(10):
            q.send(str(i))
        done = threading.Semaphore(0)
        loops: set[object] = set()

        async def handler(m: Message) -> None:
            loops.add(asyncio.get_running_loop())
            done.release()

        w = Worker(q, handler, loop=loop).start()
        for _ in range(10):
            assert done.acquire(timeout=GUARD)
        w.stop()
        assert w.processed == 10
        assert loops == {loop}
        assert q.stats().in_flight == 0
    finally:
        loop.call_soon_threadsafe(loop.stop)
        t.join(GUARD)
        loop.close()


def test_async_worker_fifo_groups_in_order_and_never_concurrent() -> None:
    async def main() -> None:
        q = Queue("q.fifo", content_based_deduplication=True)
        groups, per_group = 3, 10
        for i in range(per_group):
            for g in range(groups):
                q.send(f"{g}:{i}", group_id=f"g{g}")
        running: set[str] = set()
        overlaps: list[str] = []
        order: dict[str, list[int]] = {f"g{g}": [] for g in range(groups)}

        async def handler(m: Message) -> None:
            group = m.group_id
            assert group is not None
            if group in running:
                overlaps.append(m.body)
            running.add(group)
            order[group].append(int(m.body.split(":")[1]))
            await asyncio.sleep(0)  # let any other task of the group run, if one could
            running.discard(group)

        async with AsyncWorker(q, handler, concurrency=8) as w:
            await until(lambda: w.stats.processed == groups * per_group)
        assert overlaps == []
        assert all(seq == list(range(per_group)) for seq in order.values())
        assert q.stats().total == 0

    asyncio.run(main())


def test_async_worker_fifo_failure_releases_the_rest_of_its_group() -> None:
    async def main() -> None:
        clock = ManualClock()
        q = Queue("q.fifo", clock=clock, visibility_timeout=30, content_based_deduplication=True)
        for body in ("m1", "m2", "m3"):
            q.send(body, group_id="g")
        calls: list[str] = []

        async def handler(m: Message) -> None:
            calls.append(m.body)
            if len(calls) == 1:
                raise RuntimeError("boom")

        async with AsyncWorker(q, handler, concurrency=4, heartbeat=0) as w:
            await until(lambda: w.stats.released == 2)
            assert calls == ["m1"]
            assert w.stats.in_flight == 0
            clock.advance(30)
            await until(lambda: w.stats.processed == 3)
        assert calls == ["m1", "m1", "m2", "m3"]
        assert q.stats().total == 0

    asyncio.run(main())


def test_async_worker_fifo_chain_waits_invisible_behind_a_long_handler() -> None:
    async def main() -> None:
        clock = ManualClock()
        q = Queue("q.fifo", clock=clock, visibility_timeout=20, content_based_deduplication=True)
        for body in ("long", "next"):
            q.send(body, group_id="g")
        release = asyncio.Event()
        seen: list[tuple[str, int]] = []

        async def handler(m: Message) -> None:
            seen.append((m.body, m.receive_count))
            if m.body == "long":
                await release.wait()

        async with AsyncWorker(q, handler, concurrency=2) as w:
            await until(lambda: seen == [("long", 1)])
            for i in range(1, 5):  # 40 s: both messages are extended every 10 s
                clock.advance(10)
                await until(lambda i=i: w.stats.heartbeats == 2 * i)
                assert q.stats().in_flight == 2
            release.set()
            await until(lambda: w.stats.processed == 2)
        assert seen == [("long", 1), ("next", 1)]
        assert q.stats().total == 0

    asyncio.run(main())


@pytest.mark.parametrize("drain", [True, False])
def test_async_worker_stop_from_inside_a_handler(drain: bool) -> None:
    async def main() -> None:
        q = Queue("q.fifo", visibility_timeout=300, content_based_deduplication=True)
        q.send("other", group_id="b")
        q.send("stop", group_id="a")
        q.send("after-stop", group_id="a")
        release_other = asyncio.Event()
        other_running = asyncio.Event()
        handled: list[str] = []

        async def handler(m: Message) -> None:
            handled.append(m.body)
            if m.body == "other":
                other_running.set()
                await release_other.wait()
            elif m.body == "stop":
                await other_running.wait()
                if drain:  # else "other" stays blocked: stop() releases it
                    asyncio.get_running_loop().call_soon(release_other.set)
                await w.stop(drain=drain)  # before the fix: waited for itself forever
                handled.append("returned")

        w = await AsyncWorker(q, handler, concurrency=4).start()
        await until(lambda: "returned" in handled)
        await until(lambda: w.stats.in_flight == 0)
        assert w.stats.processed == (2 if drain else 1)
        # "after-stop" was never started; without a drain "other" was released too.
        assert w.stats.released == (1 if drain else 2)
        left = sorted(m.body for m in q.peek())
        assert left == (["after-stop"] if drain else ["after-stop", "other"])
        assert q.stats().in_flight == 0

    asyncio.run(main())


def _run_bounded(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run *main* in its own thread: a loop that never yields fails the test, not hangs it."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(GUARD / 2)
    assert not t.is_alive(), "the event loop never got control back"
    if errors:
        raise errors[0]


class _CountingQueue(Queue):
    """Counts receive_async calls; fails the first *failures* of them."""

    def __init__(self, name: str, *, failures: int = 0, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.calls = 0
        self.failures = failures

    async def receive_async(
        self,
        max_messages: int = 1,
        *,
        visibility_timeout: float | None = None,
        wait: float | None = None,
        interrupt: Interrupt | None = None,
    ) -> list[Message]:
        self.calls += 1
        if self.calls <= self.failures:
            raise QueueDoesNotExist("The specified queue does not exist.")
        return await super().receive_async(
            max_messages, visibility_timeout=visibility_timeout, wait=wait, interrupt=interrupt
        )


def test_async_worker_short_polls_yield_and_idle() -> None:
    async def main() -> None:
        q = _CountingQueue("q")
        ticks = 0

        async def other() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        async def handler(m: Message) -> None:
            pass

        w = await AsyncWorker(q, handler, wait=0, poll_interval=0.05).start()
        ticker = asyncio.create_task(other())
        await asyncio.sleep(0.2)  # before the fix: never returns, the fetcher spins
        assert ticks > 0  # other tasks run
        assert 1 <= q.calls <= 0.2 / 0.05 + 2  # one short poll per poll_interval, at most
        await q.send_async("x")
        await until(lambda: w.stats.processed == 1)
        await asyncio.wait_for(w.stop(), GUARD)
        ticker.cancel()

    _run_bounded(main)


def test_async_worker_survives_receive_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mqlite.worker")

    async def main() -> None:
        q = _CountingQueue("q", failures=3)
        q.send("x")
        seen: list[str] = []

        async def handler(m: Message) -> None:
            seen.append(m.body)

        async with AsyncWorker(q, handler, wait=0, poll_interval=0.001) as w:
            # before the fix: the fetch task died on the first error, silently
            await until(lambda: w.stats.processed == 1)
        assert seen == ["x"]

    _run_bounded(main)
    failures = [r for r in caplog.records if "receive from queue q failed" in r.getMessage()]
    assert len(failures) == 3
    assert all(r.levelno == logging.WARNING for r in failures)
    assert "QueueDoesNotExist" in failures[0].getMessage()


def test_async_wait_idle_catches_up_with_heartbeats_without_polling() -> None:
    async def main() -> None:
        clock = ManualClock()
        q = Queue("q", clock=clock, visibility_timeout=20)
        q.send("long")
        release = asyncio.Event()
        started = asyncio.Event()

        async def handler(m: Message) -> None:
            started.set()
            await release.wait()

        async with AsyncWorker(q, handler) as w:  # heartbeat every 10 s
            await asyncio.wait_for(started.wait(), GUARD)
            for i in range(1, 7):  # 66 s: past one heartbeat per step
                clock.advance(11)
                assert await w.wait_idle(GUARD, handlers=False)
                assert w.stats.heartbeats == i
                assert q.stats().in_flight == 1
            release.set()
            assert await w.wait_idle(GUARD)
            assert w.stats.processed == 1
            assert q.stats().total == 0

    asyncio.run(main())


@pytest.mark.parametrize("wait", [0, 20])
def test_async_wait_idle_waits_for_sent_messages(wait: float) -> None:
    async def main() -> None:
        q = Queue("q", clock=ManualClock())
        seen: list[str] = []

        async def handler(m: Message) -> None:
            await asyncio.sleep(0)
            seen.append(m.body)

        w = AsyncWorker(q, handler, concurrency=3, wait=wait)
        with pytest.raises(RuntimeError, match="not started"):
            await w.wait_idle()
        async with w:
            for r in range(4):
                await q.send_batch_async(SendEntry(str(i), f"{r}-{i}") for i in range(7))
                assert await w.wait_idle(GUARD)
                assert w.stats.processed == len(seen) == 7 * (r + 1)
                assert q.stats().total == 0

    asyncio.run(main())


_ASYNC_BAD_ARGS: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"handler": "not callable"}, TypeError, r"^handler must be callable, not str$"),
    ({"queue": None}, TypeError, r"^queue must be a mqlite Queue, not NoneType$"),
    ({"concurrency": 0}, ValueError, r"^concurrency must be from 1 to 100000, not 0$"),
    ({"concurrency": 1.5}, TypeError, r"^concurrency must be an int, not float$"),
    ({"visibility_timeout": 10**400}, ValueError, r"^visibility_timeout must be from 0 to"),
    ({"heartbeat": float("nan")}, ValueError, r"^heartbeat must be from 0 to 43200, not nan$"),
    ({"wait": 21}, ValueError, r"^wait must be from 0 to 20, not 21$"),
    ({"wait": 10**400}, ValueError, r"^wait must be from 0 to 20, not 10{400}$"),
    ({"poll_interval": -0.5}, ValueError, r"^poll_interval must be > 0 and <= 3600, not -0.5$"),
    ({"on_error": "log"}, TypeError, r"^on_error must be callable or None, not str$"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), _ASYNC_BAD_ARGS)
def test_async_worker_bad_constructor_arguments_are_refused(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    async def handler(m: Message) -> None:
        pass

    args: dict[str, object] = {"queue": Queue("q"), "handler": handler, **kwargs}
    queue, handler_ = args.pop("queue"), args.pop("handler")
    with pytest.raises(error, match=match):
        AsyncWorker(queue, handler_, **args)  # type: ignore[arg-type]


def test_async_worker_is_single_use() -> None:
    async def main() -> None:
        async def handler(m: Message) -> None:
            pass

        w = AsyncWorker(Queue("q"), handler)
        await w.start()
        with pytest.raises(RuntimeError, match=r"^worker already started$"):
            await w.start()
        await w.stop()
        await w.stop()
        with pytest.raises(RuntimeError, match=r"^an AsyncWorker is single-use: this one was"):
            await w.start()

    asyncio.run(main())


def test_async_worker_logs_failures_and_the_last_one_before_the_dlq(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mqlite.worker")

    async def main() -> None:
        clock = ManualClock()
        dlq = Queue("orders-dlq", clock=clock)
        q = Queue(
            "orders", clock=clock, visibility_timeout=30, dead_letter_queue=dlq, max_receive_count=2
        )
        q.send("poison")

        async def handler(m: Message) -> None:
            raise RuntimeError("boom")

        async with AsyncWorker(q, handler, heartbeat=0, on_error=lambda m, e: None) as w:
            assert await w.wait_idle(GUARD)
            clock.advance(30)
            assert await w.wait_idle(GUARD)
            [m] = q.peek(include_in_flight=True)
            clock.advance(30)
            assert await w.wait_idle(GUARD)
        assert [x.body for x in dlq.peek()] == ["poison"]
        logs = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "mqlite.worker"]
        failed = f"handler failed on message {m.message_id} from queue orders"
        assert logs == [
            (logging.DEBUG, f"{failed} (receive count 1)"),
            (logging.DEBUG, f"{failed} (receive count 2)"),
            (
                logging.WARNING,
                f"message {m.message_id} from queue orders failed on receive 2 of"
                " max_receive_count 2: its next receive moves it to dead-letter queue"
                " orders-dlq",
            ),
        ]

    asyncio.run(main())


def test_async_wait_idle_after_stop_without_drain() -> None:
    async def main() -> None:
        q = Queue("q", clock=ManualClock(), visibility_timeout=300)
        for i in range(6):
            q.send(str(i))
        release = asyncio.Event()

        async def handler(m: Message) -> None:
            await release.wait()

        w = await AsyncWorker(q, handler, concurrency=3).start()
        assert await w.wait_idle(GUARD, handlers=False)
        await w.stop(drain=False)
        assert await w.wait_idle(GUARD)
        assert w.stats.released == 3
        assert q.stats().visible == 6

    asyncio.run(main())


def test_async_wait_idle_from_a_handler_is_refused() -> None:
    async def main() -> None:
        q = Queue("q", clock=ManualClock())
        q.send("x")
        outcome: list[str] = []

        async def handler(m: Message) -> None:
            with pytest.raises(RuntimeError, match="would wait for that handler"):
                await w.wait_idle(GUARD)
            outcome.append(f"handlers=False: {await w.wait_idle(GUARD, handlers=False)}")

        w = AsyncWorker(q, handler)
        async with w:
            assert await w.wait_idle(GUARD)
        assert outcome == ["handlers=False: True"]

    asyncio.run(main())


def test_async_leaving_the_block_waits_for_a_handler_that_stopped_the_worker() -> None:
    async def main() -> None:
        q = Queue("q", visibility_timeout=300)
        q.send("stop")
        returned = asyncio.Event()

        async def handler(m: Message) -> None:
            await w.stop()
            returned.set()
            for _ in range(5):
                await asyncio.sleep(0)  # still running when the block below exits

        w = AsyncWorker(q, handler)
        async with w:
            await asyncio.wait_for(returned.wait(), GUARD)
        assert w.stats.processed == 1
        assert q.stats().total == 0

    asyncio.run(main())


def test_a_refused_retry_is_logged_alike_by_both_workers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The handler deletes its own message, then asks for a retry: the queue refuses the
    # change_visibility, and both workers report it the same way and go on.
    caplog.set_level(logging.WARNING, logger="mqlite.worker")

    def make() -> tuple[Queue, Message]:
        q = Queue("q", clock=ManualClock(), visibility_timeout=30)
        q.send("gone")
        [m] = q.peek()
        return q, m

    def check_logged(m: Message) -> None:
        logs = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "mqlite.worker"]
        assert len(logs) == 1
        level, text = logs[0]
        assert level == logging.WARNING
        assert text.startswith(f"retry of {m.message_id} failed: ")
        assert text.endswith("is not available for visibility timeout change.")
        caplog.clear()

    q, m = make()

    def handler(msg: Message) -> None:
        q.delete(msg)
        raise Retry(5)

    with Worker(q, handler, heartbeat=0) as w:
        assert w.wait_idle(GUARD)
    assert w.stats.retried == 1
    check_logged(m)

    async def main() -> None:
        q, m = make()

        async def handler(msg: Message) -> None:
            q.delete(msg)
            raise Retry(5)

        async with AsyncWorker(q, handler, heartbeat=0) as w:
            assert await w.wait_idle(GUARD)
        assert w.stats.retried == 1
        check_logged(m)

    asyncio.run(main())


def test_async_handler_that_stopped_the_worker_keeps_its_heartbeats() -> None:
    # stop() from a handler does not wait for it, and must not end its heartbeats either:
    # the message stays hidden while the handler runs on. Once it returns, no heartbeat
    # is left waiting on the clock.
    async def main() -> None:
        clock = ManualClock()
        q = Queue("q", clock=clock, visibility_timeout=30)
        q.send("stop")
        stopped = asyncio.Event()
        finish = asyncio.Event()

        async def handler(m: Message) -> None:
            await w.stop()
            stopped.set()
            await finish.wait()

        w = await AsyncWorker(q, handler, concurrency=2).start()  # a heartbeat every 15 s
        await asyncio.wait_for(stopped.wait(), GUARD)
        for beat in (1, 2, 3):
            clock.advance(15)
            await until(lambda beat=beat: w.stats.heartbeats == beat)
            assert q.stats().visible == 0
        finish.set()
        await until(lambda: w.stats.processed == 1)
        await until(lambda: not clock.pending_deadlines())
        assert q.stats().total == 0

    asyncio.run(main())


@pytest.mark.parametrize("durable", [False, True])
def test_async_worker_stops_when_its_queue_is_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, durable: bool
) -> None:
    # As the threaded Worker: a closed queue ends the worker (no receive retried forever).
    caplog.set_level(logging.INFO, logger="mqlite.worker")

    async def main() -> None:
        clock = ManualClock()
        q = Queue("q", clock=clock, path=tmp_path / "q.db" if durable else None)
        seen: list[str] = []

        async def handler(m: Message) -> None:
            seen.append(m.body)

        w = await AsyncWorker(q, handler, wait=20).start()
        q.send("one")
        assert await w.wait_idle(timeout=GUARD)
        assert seen == ["one"]
        q.close()  # wakes the fetcher's long poll on the manual clock: no time passes
        me = asyncio.current_task()
        for _ in range(1_000):  # loop turns, not time: the worker's tasks end by themselves
            if not [t for t in asyncio.all_tasks() if t is not me]:
                break
            await asyncio.sleep(0)
        assert [t for t in asyncio.all_tasks() if t is not me] == []
        await w.stop()  # already stopped: returns at once
        assert w.stats.processed == 1

    _run_bounded(main)
    messages = [r.getMessage() for r in caplog.records]
    assert "queue q was closed: the async worker stops" in messages
    assert not [m for m in messages if "failed" in m]
