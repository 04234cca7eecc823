"""ManualClock and long polling: deterministic, no test waits on the wall clock."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mqlite import Interrupt, ManualClock, Message, Queue
from mqlite.clock import MAX_MANUAL_TIME

GUARD = 5.0  # real seconds; only a guard against hangs, never part of an assertion


def _wait_for(pred: object) -> None:
    """Spin (with a real-time guard) until *pred()* is true."""
    end = time.monotonic() + GUARD
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < end, "guard expired"
        time.sleep(0.001)


class Poller:
    """A long poll in another thread."""

    def __init__(self, q: Queue, **kwargs: object) -> None:
        self.result: list[Message] | None = None
        self.error: BaseException | None = None
        self.started = threading.Event()

        def run() -> None:
            self.started.set()
            try:
                self.result = q.receive(**kwargs)  # type: ignore[arg-type]
            except BaseException as e:  # pragma: no cover - surfaced below
                self.error = e

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.started.wait(GUARD)

    def join(self) -> list[Message]:
        self.thread.join(GUARD)
        assert not self.thread.is_alive()
        assert self.error is None
        assert self.result is not None
        return self.result


def _waiting(clock: ManualClock, n: int = 1) -> None:
    _wait_for(lambda: len(clock.pending_deadlines()) >= n)


def test_advance_and_set() -> None:
    clock = ManualClock(1000.0)
    assert clock.time() == 1000.0
    clock.advance(2.5)
    assert clock.time() == 1002.5
    clock.set(5000)
    assert clock.time() == 5000.0
    with pytest.raises(ValueError, match="seconds >= 0"):
        clock.advance(-1)
    clock.set(10)  # backwards is allowed
    assert clock.time() == 10.0


def test_default_start_is_fixed() -> None:
    assert ManualClock().time() == ManualClock().time()


def test_long_poll_woken_by_send() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    p = Poller(q, wait=20)
    _waiting(clock)
    assert p.thread.is_alive()
    q.send("hi")
    assert [m.body for m in p.join()] == ["hi"]
    assert clock.time() == ManualClock().time()  # no time passed


def test_long_poll_woken_by_visibility_expiry() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock, visibility_timeout=5)
    q.send("x")
    [m] = q.receive()
    p = Poller(q, wait=20)
    _waiting(clock)
    clock.advance(4)
    _waiting(clock)
    assert p.thread.is_alive()
    clock.advance(1)
    [m2] = p.join()
    assert m2.message_id == m.message_id
    assert m2.receive_count == 2


def test_long_poll_woken_by_delay_end() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    q.send("x", delay=10)
    p = Poller(q, wait=20)
    _waiting(clock)
    clock.advance(10)
    assert [m.body for m in p.join()] == ["x"]


def test_long_poll_returns_empty_at_deadline() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    p = Poller(q, wait=20)
    _waiting(clock)
    clock.advance(19.9)
    _waiting(clock)
    assert p.thread.is_alive()
    clock.advance(0.1)
    assert p.join() == []


def test_queue_receive_wait_default() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock, receive_wait=3)
    p = Poller(q)
    _waiting(clock)
    assert p.thread.is_alive()
    clock.advance(3)
    assert p.join() == []


def test_autojump_single_thread() -> None:
    clock = ManualClock(autojump=True)
    q = Queue("p", clock=clock)
    t0 = clock.time()
    assert q.receive(wait=20) == []
    assert clock.time() == t0 + 20
    q.send("x", delay=5)
    t1 = clock.time()
    [m] = q.receive(wait=20)
    assert m.body == "x"
    assert clock.time() == t1 + 5


def test_long_poll_does_not_wait_to_fill() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    q.send("a")
    q.send("b")
    assert len(q.receive(3, wait=5)) == 2  # returns at once, clock untouched


def test_receive_async_woken_by_send_from_thread() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)

    async def main() -> list[Message]:
        task = asyncio.ensure_future(q.receive_async(wait=20))
        await asyncio.sleep(0)
        assert not task.done()
        sender = threading.Thread(target=q.send, args=("from-thread",))
        sender.start()
        result = await asyncio.wait_for(task, GUARD)
        sender.join(GUARD)
        return result

    assert [m.body for m in asyncio.run(main())] == ["from-thread"]


def test_receive_async_woken_by_advance() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    q.send("x", delay=7)

    async def main() -> tuple[list[Message], list[Message]]:
        task = asyncio.ensure_future(q.receive_async(wait=20))
        await asyncio.sleep(0)
        clock.advance(7)
        got = await asyncio.wait_for(task, GUARD)
        empty = asyncio.ensure_future(q.receive_async(wait=3))
        await asyncio.sleep(0)
        assert not empty.done()
        clock.advance(3)
        return got, await asyncio.wait_for(empty, GUARD)

    got, empty = asyncio.run(main())
    assert [m.body for m in got] == ["x"]
    assert empty == []


def test_cancelled_receive_async_leaves_message() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)

    async def main() -> None:
        task = asyncio.ensure_future(q.receive_async(wait=20))
        await asyncio.sleep(0)
        task.cancel()
        q.send("keep")  # wakes the cancelled waiter; it must not take the message
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    s = q.stats()
    assert (s.visible, s.in_flight) == (1, 0)
    [m] = q.receive()
    assert m.receive_count == 1
    q.check_invariants()


def test_several_waiters_each_get_one() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    pollers = [Poller(q, wait=20) for _ in range(3)]
    _waiting(clock, 3)
    for i in range(3):
        q.send(str(i))
    bodies = sorted(m.body for p in pollers for m in p.join())
    assert bodies == ["0", "1", "2"]


def test_long_poll_at_in_flight_limit_woken_by_delete() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock, max_in_flight=1)
    q.send("a")
    q.send("b")
    [a] = q.receive()
    p = Poller(q, wait=20)
    _waiting(clock)
    assert p.thread.is_alive()
    q.delete(a)
    assert [m.body for m in p.join()] == ["b"]


def test_long_poll_at_in_flight_limit_returns_empty_at_deadline() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock, max_in_flight=1, visibility_timeout=100)
    q.send("a")
    q.send("b")
    q.receive()
    p = Poller(q, wait=20)
    _waiting(clock)
    clock.advance(20)
    assert p.join() == []


def test_cancel_after_wake_leaves_message() -> None:
    """A receive_async woken by a send but cancelled before it runs takes nothing."""
    clock = ManualClock()
    q = Queue("p", clock=clock)

    async def main() -> None:
        task = asyncio.ensure_future(q.receive_async(wait=20))
        await asyncio.sleep(0)
        q.send("keep")  # schedules the wake-up
        task.cancel()  # ... but the task is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    s = q.stats()
    assert (s.visible, s.in_flight) == (1, 0)


def test_first_receive_at_epoch_zero_is_kept() -> None:
    """A receive at t=0 is a first receive: a later one must not overwrite its time."""
    clock = ManualClock(start=0)
    q = Queue("p", clock=clock)
    q.send("x")
    assert q.peek()[0].first_receive_timestamp == 0  # never received
    [m] = q.receive(visibility_timeout=0)
    assert m.first_receive_timestamp == 0
    clock.advance(1)
    [m2] = q.receive(visibility_timeout=0)
    assert m2.receive_count == 2
    assert m2.first_receive_timestamp == 0


def test_first_receive_at_epoch_zero_survives_dead_letter_move() -> None:
    clock = ManualClock(start=0)
    dlq = Queue("dlq", clock=clock)
    q = Queue("p", clock=clock, dead_letter_queue=dlq, max_receive_count=1)
    q.send("x")
    q.receive(visibility_timeout=0)  # first receive, at t=0
    clock.advance(5)
    assert q.receive() == []  # moved to the dead-letter queue
    [m] = dlq.receive()
    assert m.first_receive_timestamp == 0
    dlq.check_invariants()


BAD_NUMBERS = [float("nan"), float("inf"), float("-inf"), -1, -0.5, 10**400, 1e300]
NOT_NUMBERS: list[object] = [True, False, None, "5", b"5", [5]]


@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_manual_clock_refuses_bad_numbers(bad: object) -> None:
    clock = ManualClock(1000.0)
    q = Queue("p", clock=clock)
    q.send("x", delay=5)
    with pytest.raises(ValueError, match="ManualClock"):
        clock.advance(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ManualClock"):
        clock.set(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ManualClock"):
        ManualClock(bad)  # type: ignore[arg-type]
    assert clock.time() == 1000.0  # nothing changed, and the clock still works
    clock.advance(5)
    assert clock.time() == 1005.0
    assert [m.body for m in q.receive()] == ["x"]


@pytest.mark.parametrize("bad", NOT_NUMBERS)
def test_manual_clock_refuses_non_numbers(bad: object) -> None:
    clock = ManualClock(1000.0)
    with pytest.raises(TypeError, match="ManualClock"):
        clock.advance(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ManualClock"):
        clock.set(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ManualClock"):
        ManualClock(bad)  # type: ignore[arg-type]
    assert clock.time() == 1000.0


def test_manual_clock_refuses_to_pass_its_last_time() -> None:
    clock = ManualClock(MAX_MANUAL_TIME - 1)
    with pytest.raises(ValueError, match="ManualClock"):
        clock.advance(2)
    assert clock.time() == MAX_MANUAL_TIME - 1
    clock.advance(1)
    assert clock.time() == MAX_MANUAL_TIME
    clock.set(0)
    assert clock.time() == 0.0
    assert ManualClock(0).time() == 0.0
    assert ManualClock(10**6).time() == 1e6  # ints are fine


# --- cancelled timers are freed ----------------------------------------------------------------


def test_cancelled_call_at_timers_are_freed() -> None:
    clock = ManualClock()
    loop = asyncio.new_event_loop()
    try:
        keep = clock.call_at(loop, clock.time() + 100, lambda: None)
        for _ in range(50_000):
            clock.call_at(loop, clock.time() + 20, lambda: None).cancel()
        assert len(clock._timers) <= 4
        assert clock.pending_deadlines() == [clock.time() + 100]
        keep.cancel()
        keep.cancel()  # twice is harmless
        assert clock.pending_deadlines() == []
        assert len(clock._timers) <= 1
    finally:
        loop.close()


def test_answered_async_long_polls_leave_no_timers() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    polls = 5_000

    async def main() -> None:
        for i in range(polls):
            task = asyncio.ensure_future(q.receive_async(wait=20))
            await asyncio.sleep(0)  # the poll registers its timer and waits
            q.send(str(i))
            [m] = await task
            q.delete(m)

    asyncio.run(main())
    assert len(clock._timers) <= 4
    assert clock.pending_deadlines() == []
    q.check_invariants()


def test_answered_threaded_long_polls_leave_no_timers() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    polls = 2_000
    got: list[str] = []

    def consume() -> None:
        for _ in range(polls):
            got.extend(m.body for m in q.receive(wait=20))

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    end = time.monotonic() + GUARD
    for i in range(polls):
        while not clock.pending_deadlines():  # the consumer is waiting
            assert time.monotonic() < end, "guard expired"
            time.sleep(0)
        q.send(str(i))
        while len(got) <= i:
            assert time.monotonic() < end, "guard expired"
            time.sleep(0)
    consumer.join(GUARD)
    assert not consumer.is_alive()
    assert got == [str(i) for i in range(polls)]
    assert len(clock._timers) <= 4


# --- the only thread never blocks forever ---------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _run_alone(code: str) -> subprocess.CompletedProcess[str]:
    """Run *code* in a fresh interpreter, where the main thread is the only thread.

    A real-time guard turns a regression (a hang) into a failure.
    """
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=GUARD,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        cwd=ROOT,
    )


def test_long_poll_from_the_only_thread_raises_instead_of_hanging() -> None:
    done = _run_alone(
        """
        import threading
        from mqlite import ManualClock, Queue

        assert threading.active_count() == 1
        clock = ManualClock()
        q = Queue("p", clock=clock)
        q.send("later", delay=60)
        try:
            q.receive(wait=20)
        except RuntimeError as e:
            print("refused:", e)
        else:
            raise SystemExit("the long poll returned")
        assert clock.time() == 1_704_067_200.0          # nothing moved
        assert clock.pending_deadlines() == []          # nothing left registered
        s = q.stats()
        assert (s.visible, s.in_flight, s.delayed) == (0, 0, 1)
        q.check_invariants()
        assert q.receive(wait=0) == []                  # a short poll still works
        clock.advance(60)
        assert [m.body for m in q.receive(wait=20)] == ["later"]   # nothing to wait for
        auto = ManualClock(autojump=True)
        assert Queue("a", clock=auto).receive(wait=20) == []       # the way out
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert "refused: " in done.stdout
    assert "only thread" in done.stdout
    assert "autojump" in done.stdout
    assert done.stdout.rstrip().endswith("ok")


def test_fixture_clock_long_poll_fails_instead_of_hanging(tmp_path: Path) -> None:
    test_file = tmp_path / "test_user.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import pytest

            pytest_plugins = ["mqlite.testing"]


            def test_forgot_to_send(manual_clock, queue_factory):
                q = queue_factory("jobs")
                with pytest.raises(RuntimeError, match="only thread"):
                    q.receive(wait=20)


            def test_hangs_unless_refused(manual_clock, queue_factory):
                queue_factory("jobs").receive(wait=20)
            """
        )
    )
    # No plugin autoloading: a quicker start; the file names the one plugin it needs.
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        text=True,
        timeout=GUARD * 2,
        env=env,
        cwd=tmp_path,
    )
    assert "1 failed, 1 passed" in done.stdout, done.stdout + done.stderr
    assert "RuntimeError" in done.stdout


def test_wait_with_another_thread_alive_still_blocks() -> None:
    """The refusal is only for the only thread: with another thread, a send wakes it."""
    clock = ManualClock()
    q = Queue("p", clock=clock)
    p = Poller(q, wait=20)
    _waiting(clock)
    q.send("x")
    assert [m.body for m in p.join()] == ["x"]


def test_autojump_near_the_last_time_still_returns() -> None:
    """A jump goes to the wait's own deadline, even past the last time one can set."""
    clock = ManualClock(MAX_MANUAL_TIME - 5, autojump=True)
    q = Queue("p", clock=clock)
    assert q.receive(wait=20) == []
    assert clock.time() == MAX_MANUAL_TIME + 15


# --- Interrupt: a waiting receive gives up when told to -----------------------------------


def test_interrupt_ends_a_threaded_long_poll_with_nothing() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    stop = Interrupt()
    p = Poller(q, wait=20, interrupt=stop)
    _waiting(clock)
    assert p.thread.is_alive()
    stop.set()
    assert p.join() == []
    assert clock.time() == ManualClock().time()  # no time passed: it gave up early
    assert clock.pending_deadlines() == []  # and left no timer behind
    q.send("later")
    assert q.stats().visible == 1  # the interrupted poll took nothing


def test_interrupt_set_beforehand_makes_a_short_poll() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    stop = Interrupt()
    stop.set()
    # From the only thread a wait would raise (it could never end): this one does not wait.
    assert q.receive(wait=20, interrupt=stop) == []
    q.send("here")
    assert [m.body for m in q.receive(wait=20, interrupt=stop)] == ["here"]


def test_interrupt_wakes_only_the_receives_given_it() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    stop = Interrupt()
    mine = Poller(q, wait=20, interrupt=stop)
    other = Poller(q, wait=20)
    _waiting(clock, 2)
    stop.set()
    assert mine.join() == []
    assert other.thread.is_alive()
    q.send("for-the-other")
    assert [m.body for m in other.join()] == ["for-the-other"]


def test_interrupt_ends_an_async_long_poll_with_nothing() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    stop = Interrupt()

    async def main() -> list[Message]:
        task = asyncio.ensure_future(q.receive_async(wait=20, interrupt=stop))
        await asyncio.sleep(0)
        assert not task.done()
        setter = threading.Thread(target=stop.set)
        setter.start()
        result = await asyncio.wait_for(task, GUARD)
        setter.join(GUARD)
        return result

    assert asyncio.run(main()) == []
    assert clock.pending_deadlines() == []
    q.send("x")

    async def again() -> list[Message]:
        return await q.receive_async(wait=20, interrupt=stop)  # set: a short poll

    assert [m.body for m in asyncio.run(again())] == ["x"]


def test_one_interrupt_shared_by_two_receives_wakes_the_one_still_waiting() -> None:
    clock = ManualClock()
    q = Queue("p", clock=clock)
    stop = Interrupt()
    first = Poller(q, wait=20, interrupt=stop)
    second = Poller(q, wait=20, interrupt=stop)
    _waiting(clock, 2)
    q.send("one")  # answers one of them, which stops listening to the interrupt
    _wait_for(lambda: not first.thread.is_alive() or not second.thread.is_alive())
    stop.set()  # must still reach the other
    assert sorted(len(p.join()) for p in (first, second)) == [0, 1]
