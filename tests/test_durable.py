"""Durable queues: what a file stores, what reopening restores, and the file rules."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _durable_support import copy_as_killed

from mqlite import (
    Broker,
    ManualClock,
    Message,
    PublishEntry,
    Queue,
    QueueStats,
    SendEntry,
    _store,
)
from mqlite.errors import (
    Closed,
    InvalidAttributeValue,
    InvalidParameterValue,
    PurgeQueueInProgress,
    QueueNameExists,
    ReceiptHandleIsInvalid,
    StorageError,
)


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_standard_messages_in_every_state_round_trip(tmp_path: Path) -> None:
    clock = ManualClock(1_000)
    path = tmp_path / "q.db"
    with Queue("jobs", path=path, clock=clock) as q:
        q.send("ready", attributes={"n": 1, "b": b"\x00\x01", "s": "x"})
        q.send("delayed", delay=30)
        q.send("flying")
        [first] = q.receive(visibility_timeout=100)
        assert first.body == "ready"
        q.change_visibility(first, 0)  # ready again, received once
        [flying] = q.receive(visibility_timeout=100)
        [flying] = q.receive(visibility_timeout=100)
        before = q.peek(include_in_flight=True, include_delayed=True)
    assert q.closed
    assert os.listdir(tmp_path) == ["q.db"]  # a clean close leaves no -wal
    with Queue("jobs", path=path, clock=clock) as q2:
        after = q2.peek(include_in_flight=True, include_delayed=True)
        assert [m._replace(receipt_handle=None) for m in after] == before
        assert q2.stats() == QueueStats(0, 2, 1)  # ready, flying in flight; delayed
        q2.check_invariants()
        # The handle issued before the restart still works while its message is in flight.
        q2.delete(flying)
        assert q2.stats() == QueueStats(0, 1, 1)
        clock.advance(31)  # the delay ends
        assert q2.stats() == QueueStats(1, 1, 0)
        clock.advance(100)
        got = q2.receive(10)
        assert [m.body for m in got] == ["ready", "delayed"]
        assert got[0].attributes == first.attributes
        assert got[0].receive_count == 3
        assert got[0].message_id == first.message_id


def test_time_while_closed_counts(tmp_path: Path) -> None:
    clock = ManualClock(50)
    path = tmp_path / "q.db"
    with Queue("jobs", path=path, clock=clock, retention=120) as q:
        q.send("old")
        q.send("hidden")
        q.receive(visibility_timeout=60)
    clock.advance(61)
    with Queue("jobs", path=path, clock=clock, retention=120) as q:
        assert q.stats() == QueueStats(2, 0, 0)
    clock.advance(60)
    with Queue("jobs", path=path, clock=clock, retention=120) as q:
        assert q.stats() == QueueStats(0, 0, 0)  # retention ran out while closed


def test_fifo_groups_dedup_and_sequence_numbers_round_trip(tmp_path: Path) -> None:
    clock = ManualClock(10)
    path = tmp_path / "f.db"
    with Queue("f.fifo", path=path, clock=clock) as q:
        sent = [
            q.send(b, group_id=g, deduplication_id=b)
            for g, b in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2"), ("a", "a3")]
        ]
        [m] = q.receive(1, visibility_timeout=50)
        assert m.body == "a1"
    with Queue("f.fifo", path=path, clock=clock) as q:
        q.check_invariants()
        # The dedup window is honoured after reopening: the original's id comes back.
        again = q.send("a2", group_id="a", deduplication_id="a2")
        assert (again.message_id, again.sequence_number) == (
            sent[2].message_id,
            sent[2].sequence_number,
        )
        assert q.stats() == QueueStats(4, 1, 0)
        # Group a is blocked by its in-flight head; b comes in send order.
        assert [x.body for x in q.receive(10)] == ["b1", "b2"]
        q.delete(m)  # the old handle of the in-flight head
        assert [x.body for x in q.receive(10)] == ["a2", "a3"]
        new = q.send("c", group_id="c", deduplication_id="c")
        assert str(new.sequence_number) > str(sent[-1].sequence_number)
    clock.advance(301)
    with Queue("f.fifo", path=path, clock=clock) as q:
        fresh = q.send("a1", group_id="a", deduplication_id="a1")
        assert fresh.message_id != sent[0].message_id  # the window has passed


def test_settings_are_stored_and_reopening_applies_the_ones_passed(tmp_path: Path) -> None:
    clock = ManualClock(0)
    path = tmp_path / "q.db"
    with Queue("jobs", path=path, clock=clock, visibility_timeout=5) as q:
        q.send("m")
    with Queue("jobs", path=path, clock=clock, visibility_timeout=7, retention=60) as q:
        assert q.visibility_timeout == 7
        q.receive()
    clock.advance(61)
    with Queue("jobs", path=path, clock=clock, retention=60) as q:
        assert q.stats() == QueueStats(0, 0, 0)


_STANDARD_SETTINGS: dict[str, Any] = {
    "visibility_timeout": 45,
    "delay": 7,
    "retention": 3_600,
    "max_message_size": 2_048,
    "receive_wait": 4,
    "max_in_flight": 33,
}
_FIFO_SETTINGS: dict[str, Any] = {
    **_STANDARD_SETTINGS,
    "content_based_deduplication": True,
    "deduplication_scope": "messageGroup",
    "fifo_throughput_limit": "perMessageGroupId",
}


@pytest.mark.parametrize("name", ["jobs", "jobs.fifo"])
def test_reopening_keeps_every_stored_setting_not_passed(tmp_path: Path, name: str) -> None:
    chosen = _FIFO_SETTINGS if name.endswith(".fifo") else _STANDARD_SETTINGS
    path = tmp_path / "q.db"
    with Queue(name, path=path, **chosen) as q:
        made = q.settings()
    assert {k: made[k] for k in chosen} == chosen
    with Queue(name, path=path) as q:  # nothing passed: everything as stored
        assert q.settings() == made
    for key, value in chosen.items():
        other = {**made, key: Queue(name).settings()[key]}  # that one back to its default
        if key == "deduplication_scope":
            # perMessageGroupId needs messageGroup: refused as configure() refuses it,
            # and the file keeps its settings.
            before = _listing(tmp_path)
            with pytest.raises(InvalidAttributeValue):
                Queue(name, path=path, **{key: other[key]})
            assert _listing(tmp_path) == before  # refused: the file is as it was
            with Queue(name, path=path) as q:
                assert q.settings() == made
            continue
        with Queue(name, path=path, **{key: other[key]}) as q:
            assert q.settings() == other, key
        with Queue(name, path=path) as q:  # stored as changed
            assert q.settings() == other, key
        with Queue(name, path=path, **{key: value}) as q:
            assert q.settings() == made, key


def test_settings_that_do_not_fit_together_refuse_a_new_file_and_create_nothing(
    tmp_path: Path,
) -> None:
    with pytest.raises(InvalidAttributeValue):
        Queue("f.fifo", path=tmp_path / "f.db", fifo_throughput_limit="perMessageGroupId")
    assert list(tmp_path.iterdir()) == []


def test_a_fifo_delay_passed_when_reopening_applies_as_configure_does(tmp_path: Path) -> None:
    # configure() applies a FIFO queue's new delay to messages still inside theirs; so
    # does a reopen that passes one, and a reopen that passes none keeps the stored one.
    path = tmp_path / "f.db"
    clock = ManualClock(1_000)
    kw: dict[str, Any] = {"clock": clock, "content_based_deduplication": True}
    with Queue("f.fifo", path=path, delay=60, **kw) as q:
        q.send("m", group_id="g")
    clock.advance(10)
    with Queue("f.fifo", path=path, **kw) as q:
        assert (q.delay, q.stats().delayed) == (60, 1)
    with Queue("f.fifo", path=path, delay=5, **kw) as q:
        assert [m.body for m in q.receive()] == ["m"]


def test_broker_create_queue_on_a_reopened_broker_compares_the_stored_settings(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.db"
    with Broker(path=path) as broker:
        made = broker.create_queue("jobs", visibility_timeout=45, delay=3).settings()
    with Broker(path=path) as broker:
        jobs = broker.get_queue("jobs")
        assert jobs.settings() == made
        assert broker.create_queue("jobs", visibility_timeout=45) is jobs
        assert broker.create_queue("jobs") is jobs  # nothing named: nothing differs
        with pytest.raises(QueueNameExists):
            broker.create_queue("jobs", visibility_timeout=30)
        with pytest.raises(QueueNameExists):
            broker.create_queue("jobs", delay=0)
        assert jobs.settings() == made


def test_purge_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    clock = ManualClock(0)
    with Queue("jobs", path=path, clock=clock) as q:
        for body in "abc":
            q.send(body)
        q.purge()
        q.send("d")
    with Queue("jobs", path=path, clock=clock) as q:
        assert [m.body for m in q.receive(10)] == ["d"]


def test_closed_queue_refuses_every_call(tmp_path: Path) -> None:
    for q in (Queue("mem"), Queue("disk", path=tmp_path / "d.db")):
        q.close()
        q.close()  # twice is fine
        with pytest.raises(Closed) as info:
            q.send("x")
        assert info.value.code == "ResourceClosed"
        with pytest.raises(Closed):
            q.receive()
        with pytest.raises(Closed):
            q.stats()


def test_close_wakes_a_waiting_receive(tmp_path: Path) -> None:
    async def scenario(q: Queue) -> None:
        task = asyncio.create_task(q.receive_async(wait=20))
        await asyncio.sleep(0)  # the task runs until it waits for a message
        assert not task.done()
        q.close()
        with pytest.raises(Closed):
            await asyncio.wait_for(task, 2)

    for q in (
        Queue("mem", clock=ManualClock(0)),
        Queue("d", path=tmp_path / "d.db", clock=ManualClock(0)),
    ):
        asyncio.run(scenario(q))


def test_bad_durability_and_standalone_dead_letter_queue(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue):
        Queue("q", path=tmp_path / "q.db", durability="sometimes")
    with pytest.raises(InvalidParameterValue):
        Queue("q", path=tmp_path / "q.db", dead_letter_queue=Queue("dlq"))
    assert os.listdir(tmp_path) == []
    for mode in ("crash", "power"):
        with Queue("q", path=tmp_path / f"{mode}.db", durability=mode) as q:
            q.send("x")
        with Queue("q", path=tmp_path / f"{mode}.db", durability=mode) as q:
            assert q.stats().visible == 1


def test_second_opener_in_this_process(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with Queue("q", path=path):
        with pytest.raises(StorageError) as info:
            Queue("q", path=path)
        assert info.value.code == "InvalidStorage"
    with Queue("q", path=path):  # released by the close
        pass


def test_second_opener_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    script = textwrap.dedent(
        f"""
        from mqlite import Queue
        from mqlite.errors import StorageError
        try:
            Queue("q", path={str(path)!r})
        except StorageError as e:
            print("refused", e.code)
        else:
            print("opened")
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    with Queue("q", path=path) as q:
        q.send("x")
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        )
        assert out.stdout.split() == ["refused", "InvalidStorage"]
        q.send("y")
    with Queue("q", path=path) as q:
        assert q.stats().visible == 2


def _refused_unchanged(path: Path, name: str = "q") -> StorageError:
    before = _listing(path.parent)
    with pytest.raises(StorageError) as info:
        Queue(name, path=path)
    assert _listing(path.parent) == before
    return info.value


def test_foreign_files_are_refused_and_left_unchanged(tmp_path: Path) -> None:
    import sqlite3

    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 50)
    assert "not an mqlite file" in str(_refused_unchanged(text))
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    assert "not an mqlite file" in str(_refused_unchanged(other))
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    _refused_unchanged(empty)


def test_damaged_file_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with Queue("q", path=path) as q:
        q.send("x")
    data = bytearray(path.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)
    path.write_bytes(bytes(data))
    _refused_unchanged(path)


def test_newer_version_wrong_kind_and_wrong_name(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with Queue("q", path=path):
        pass
    assert "holds the queue 'q'" in str(_refused_unchanged(path, "other"))
    newer = tmp_path / "newer.db"
    data = bytearray(path.read_bytes())
    data[60:64] = (_store.SCHEMA_VERSION + 1).to_bytes(4, "big")
    newer.write_bytes(bytes(data))
    assert "newer" in str(_refused_unchanged(newer))
    broker_file = tmp_path / "b.db"
    store = _store.Store(broker_file, kind="broker", name="", durability="crash")
    store.close()
    assert "broker's file" in str(_refused_unchanged(broker_file))


def test_migration_hook_upgrades_an_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    path = tmp_path / "q.db"
    with Queue("q", path=path) as q:
        q.send("x")
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={_store.SCHEMA_VERSION - 1}")
    conn.execute("ALTER TABLE meta RENAME TO meta_old")
    conn.commit()
    conn.close()
    calls: list[int] = []

    def upgrade(c: sqlite3.Connection) -> None:
        calls.append(1)
        c.execute("ALTER TABLE meta_old RENAME TO meta")

    # The header check reads the old meta table through the immutable view first.
    monkeypatch.setitem(_store.MIGRATIONS, _store.SCHEMA_VERSION - 1, upgrade)
    monkeypatch.setattr(_store.Store, "_inspect", lambda self: None)
    with Queue("q", path=path) as q:
        assert q.stats().visible == 1
    assert calls == [1]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == _store.SCHEMA_VERSION
    conn.close()


def test_unknown_handle_still_refused_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    other = Queue("q")
    other.send("x")
    [m] = other.receive()
    with Queue("q", path=path) as q:
        q.send("x")
    with Queue("q", path=path) as q, pytest.raises(ReceiptHandleIsInvalid):
        q.delete(m)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_message_ids_after_fork_do_not_repeat() -> None:
    from mqlite.message import new_message_id

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, ",".join(new_message_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 10_000).decode().split(",")
    os.close(read)
    os.waitpid(pid, 0)
    parent = [new_message_id() for _ in range(3)]
    assert not set(child) & set(parent)


def test_broker_round_trip_with_dead_letters_and_redrive(tmp_path: Path) -> None:
    clock = ManualClock(1_000)
    path = tmp_path / "b.db"
    with Broker(path=path, clock=clock) as broker:
        dlq = broker.create_queue("dlq")
        jobs = broker.create_queue(
            "jobs", dead_letter_queue=dlq, max_receive_count=1, visibility_timeout=5
        )
        broker.create_queue("f.fifo", content_based_deduplication=True).send("x", group_id="g")
        jobs.send("poison")
        jobs.receive()
        clock.advance(6)
        assert jobs.receive() == []  # moved to the dead-letter queue
        broker.create_queue("gone")
        broker.delete_queue("gone")
    assert broker.closed
    assert jobs.closed
    with pytest.raises(Closed):
        broker.create_queue("x")
    with Broker(path=path, clock=clock) as broker:
        assert [q.name for q in broker.list_queues()] == ["dlq", "f.fifo", "jobs"]
        jobs, dlq = broker.get_queue("jobs"), broker.get_queue("dlq")
        assert jobs.dead_letter_queue is dlq
        assert jobs.visibility_timeout == 5
        assert broker.get_queue("f.fifo").content_based_deduplication
        [dead] = dlq.peek()
        assert dead.dead_letter_source_arn == jobs.arn
        assert dlq.redrive() == 1  # back to the source it came from
        assert [m.body for m in jobs.peek()] == ["poison"]
        # create_queue on a stored queue follows CreateQueue's rules.
        assert broker.create_queue("jobs", visibility_timeout=5) is jobs
        with pytest.raises(QueueNameExists):
            broker.create_queue("jobs", visibility_timeout=6)


def test_broker_and_queue_files_are_not_interchangeable(tmp_path: Path) -> None:
    broker_file = tmp_path / "b.db"
    queue_file = tmp_path / "q.db"
    Broker(path=broker_file).close()
    Queue("q", path=queue_file).close()
    assert "broker's file" in str(_refused_unchanged(broker_file))
    before = _listing(tmp_path)
    with pytest.raises(StorageError):
        Broker(path=queue_file)
    assert _listing(tmp_path) == before
    with Broker(path=broker_file), pytest.raises(StorageError):
        Broker(path=broker_file)


def test_topics_and_queue_subscriptions_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    clock = ManualClock(0)
    with Broker(path=path, clock=clock) as broker:
        red = broker.create_queue("red")
        raw = broker.create_queue("raw")
        topic = broker.create_topic("events")
        topic.subscribe(red, filter_policy={"colour": ["red"]})
        topic.subscribe(raw, raw_message_delivery=True)
        topic.subscribe(lambda n: None)  # code: not stored
        gone = broker.create_topic("gone")
        gone.subscribe(red).unsubscribe()
        broker.create_topic("ordered.fifo", content_based_deduplication=True)
    with Broker(path=path, clock=clock) as broker:
        assert [t.name for t in broker.list_topics()] == ["events", "gone", "ordered.fifo"]
        assert broker.get_topic("ordered.fifo").content_based_deduplication
        assert broker.get_topic("gone").subscriptions == []
        topic = broker.get_topic("events")
        subs = topic.subscriptions
        assert [s.target for s in subs] == [broker.get_queue("red"), broker.get_queue("raw")]
        assert subs[1].raw_message_delivery
        topic.publish("hi", attributes={"colour": "blue"})
        assert broker.get_queue("red").stats().visible == 0
        assert [m.body for m in broker.get_queue("raw").receive()] == ["hi"]
        broker.delete_topic("gone")
    with Broker(path=path, clock=clock) as broker:
        assert [t.name for t in broker.list_topics()] == ["events", "ordered.fifo"]


def test_a_failed_commit_raises_and_the_file_keeps_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    path = tmp_path / "q.db"
    q = Queue("q", path=path)
    q.send("kept")

    def broken(self: _store.Store, batch: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as m:
        m.setattr(_store.Store, "_write", broken)
        with pytest.raises(StorageError) as info:
            q.send("lost")
        assert info.value.code == "InvalidStorage"
    # Memory holds "lost", the file does not: every later call refuses.
    for call in (q.stats, lambda: q.send("x"), q.receive, q.peek):
        with pytest.raises(StorageError):
            call()
    q.close()
    with Queue("q", path=path) as again:
        assert [m.body for m in again.peek()] == ["kept"]


def test_threads_share_commits_and_lose_nothing(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "q.db"
    q = Queue("q", path=path)

    def work(n: int) -> None:
        for i in range(40):
            q.send(f"{n}-{i}")
        for _ in range(20):
            for m in q.receive(1):
                q.delete(m)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    left = sorted(m.body for m in q.peek())
    q.close()
    with Queue("q", path=path) as again:
        again.check_invariants()
        assert sorted(m.body for m in again.peek()) == left
        assert len(left) == 8 * 40 - 8 * 20


def test_threads_lose_nothing_acknowledged_at_a_kill(tmp_path: Path) -> None:
    # Group commit with many threads (leaders committing for others, handing over): every
    # send that returned before the kill is in the file.
    path = tmp_path / "q.db"
    script = textwrap.dedent(
        f"""
        import os, sys, threading
        from mqlite import Queue
        q = Queue("q", path={str(path)!r})
        lock = threading.Lock()
        count = [0]
        def work(n):
            for i in range(10_000):
                q.send(f"{{n}}-{{i}}")
                with lock:
                    sys.stdout.write(f"{{n}}-{{i}}\\n")
                    sys.stdout.flush()
                    count[0] += 1
                    if count[0] == 3000:
                        os.kill(os.getpid(), 9)
        for n in range(8):
            threading.Thread(target=work, args=(n,)).start()
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == -9, out.stderr
    acknowledged = set(out.stdout.split())
    assert len(acknowledged) >= 3000
    with Queue("q", path=path) as q:
        q.check_invariants()
        stored = [m.body for m in q.peek()]
        assert len(stored) == len(set(stored))
        assert acknowledged <= set(stored)


class _Interrupted(Exception):
    pass


def _interrupt(signum: int, frame: object) -> None:
    raise _Interrupted


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_an_interrupted_wait_for_a_commit_leaves_the_line(tmp_path: Path) -> None:
    import threading
    import time

    path = tmp_path / "q.db"
    q = Queue("q", path=path)
    store = q._store
    assert store is not None
    store._leading = True  # as if another thread were committing: the next send waits
    main = threading.get_ident()

    def interrupt() -> None:
        deadline = time.monotonic() + 2
        while not store._waiters and time.monotonic() < deadline:
            time.sleep(0.001)
        signal.pthread_kill(main, signal.SIGUSR1)

    old = signal.signal(signal.SIGUSR1, _interrupt)
    try:
        helper = threading.Thread(target=interrupt)
        helper.start()
        with pytest.raises(_Interrupted):
            q.send("a")
        helper.join()
    finally:
        signal.signal(signal.SIGUSR1, old)
    # Out of the line, and the thread's waiter (whose lock a leader could still release)
    # is not reused: a later wait cannot return before its commit.
    assert store._waiters == []
    assert getattr(store._local, "waiter", None) is None
    store._leading = False
    q.send("b")
    q.close()
    with Queue("q", path=path) as again:
        assert sorted(m.body for m in again.peek()) == ["a", "b"]


def test_an_interrupted_commit_fails_the_store(tmp_path: Path) -> None:
    # An interrupt inside a commit may leave the batch unstored: memory would run ahead of
    # the file, so the queue refuses every later call (and no waiter hangs).
    q = Queue("q", path=tmp_path / "q.db")
    q.send("kept")
    store = q._store
    assert store is not None

    def interrupted(batch: object) -> None:
        raise _Interrupted

    store._write = interrupted  # type: ignore[method-assign]
    with pytest.raises(_Interrupted):
        q.send("maybe")
    with pytest.raises(StorageError):
        q.send("refused")
    with pytest.raises(StorageError):
        q.stats()
    q.close()
    with Queue("q", path=tmp_path / "q.db") as again:
        assert [m.body for m in again.peek()] == ["kept"]


def _record_body(seen: list[str], message: Message) -> None:
    seen.append(message.body)


def test_a_worker_stops_when_its_queue_is_closed(tmp_path: Path) -> None:
    import threading

    from mqlite import Worker

    for q in (Queue("mem", clock=ManualClock(0)), Queue("d", path=tmp_path / "d.db")):
        seen: list[str] = []
        worker = Worker(q, functools.partial(_record_body, seen), concurrency=2).start()
        q.send("one")
        assert worker.wait_idle(timeout=2)
        assert seen == ["one"]
        q.close()
        for thread in [t for t in threading.enumerate() if t.name.startswith(worker.name)]:
            thread.join(2)
            assert not thread.is_alive(), thread.name
        worker.stop(timeout=2)  # already stopped: returns at once


def test_a_subscription_keeps_its_arn_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    with Broker(path=path) as broker:
        arn = broker.create_topic("t").subscribe(broker.create_queue("q")).arn
    with Broker(path=path) as broker:
        assert [s.arn for s in broker.get_topic("t").subscriptions] == [arn]


def test_sequence_counter_survives_deleting_the_newest_messages(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with Queue("q", path=path) as q:
        q.send("a")
        [old] = q.receive()
        q.delete(old)
    with Queue("q", path=path) as q:
        q.send("b")
        [new] = q.receive()
        # The deleted message's handle does not name the new message.
        assert new.receipt_handle != old.receipt_handle
        q.delete(old)  # a no-op: its message is gone
        assert q.stats().in_flight == 1


def test_a_killed_process_loses_nothing_it_returned_from(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    script = textwrap.dedent(
        f"""
        import os
        from mqlite import Queue
        q = Queue("q", path={str(path)!r})
        for i in range(20):
            q.send(str(i))
        [m] = q.receive(visibility_timeout=600)
        q.delete(m)
        print(m.body, flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == -9
    assert out.stdout.split() == ["0"]
    assert (tmp_path / "q.db-wal").exists()  # an unclean end: the next open checks the file
    with Queue("q", path=path) as q:
        assert [m.body for m in q.peek()] == [str(i) for i in range(1, 20)]


def test_counters_survive_a_kill_though_not_every_commit_writes_them(tmp_path: Path) -> None:
    # The queues' counters are reservations written ahead of use (docs/durability.md):
    # after a kill, numbers already issued are never issued again, and a purge still counts.
    script = textwrap.dedent(
        f"""
        import os
        from mqlite import Queue
        std = Queue("q", path={str(tmp_path / "q.db")!r})
        fifo = Queue("f.fifo", path={str(tmp_path / "f.db")!r}, content_based_deduplication=True)
        purged = Queue("p", path={str(tmp_path / "p.db")!r})
        for i in range(5000):  # past the first reservation
            std.send(str(i))
        for m in std.receive(10, visibility_timeout=600):
            print(m.receipt_handle, flush=True)
        std.purge()
        for body in ("a", "b"):
            fifo.send(body, group_id="g")
            [m] = fifo.receive()
            fifo.delete(m)
        print(m.sequence_number, flush=True)
        purged.send("x")
        purged.purge()
        os.kill(os.getpid(), 9)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == -9, out.stderr
    *handles, sequence_number = out.stdout.split()
    assert len(handles) == 10
    with Queue("q", path=tmp_path / "q.db") as q:
        for i in range(10):
            q.send(str(i))
        fresh = {m.receipt_handle for m in q.receive(10, visibility_timeout=600)}
        assert len(fresh) == 10
        assert not fresh & set(handles)
        for handle in handles:
            q.delete(handle)  # no-ops: their messages were purged
        assert q.stats().in_flight == 10
    with Queue("f.fifo", path=tmp_path / "f.db", content_based_deduplication=True) as f:
        assert int(f.send("c", group_id="g").sequence_number or 0) > int(sequence_number)
    with Queue("p", path=tmp_path / "p.db") as p, pytest.raises(PurgeQueueInProgress):
        p.purge()  # within 60 s of the purge before the kill


def test_counters_written_before_the_first_send_after_an_opening_are_not_lowered(
    tmp_path: Path,
) -> None:
    # A purge (or the periodic totals) writes a queue's counters before any message does:
    # after a reopen, or on a new queue, they must be the loaded (or first) numbers, so a
    # kill then issues no handle or sequence number twice, and none shorter than 20 digits.
    script = textwrap.dedent(
        f"""
        import os
        from mqlite import Queue
        kw = dict(content_based_deduplication=True)
        with Queue("q", path={str(tmp_path / "q.db")!r}) as std:
            for i in range(3):
                std.send(str(i))
            for m in std.receive(3, visibility_timeout=600):
                print(m.receipt_handle, flush=True)
        with Queue("f.fifo", path={str(tmp_path / "f.db")!r}, **kw) as fifo:
            print(fifo.send("a", group_id="g").sequence_number, flush=True)
        std = Queue("q", path={str(tmp_path / "q.db")!r})
        std.purge()
        fifo = Queue("f.fifo", path={str(tmp_path / "f.db")!r}, **kw)
        fifo.purge()
        new = Queue("n.fifo", path={str(tmp_path / "n.db")!r}, **kw)
        new.purge()
        print("ready", flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == -9, out.stderr
    *handles, sequence_number, ready = out.stdout.split()
    assert len(handles) == 3
    assert ready == "ready"
    with Queue("q", path=tmp_path / "q.db") as q:
        for handle in handles:
            q.delete(handle)  # no-ops: their messages were purged
        q.send("x")
        [m] = q.receive()
        assert m.receipt_handle not in handles
    kw: dict[str, Any] = {"content_based_deduplication": True}
    with Queue("f.fifo", path=tmp_path / "f.db", **kw) as f:
        later = f.send("b", group_id="g").sequence_number
        assert later is not None
        assert len(later) == 20
        assert int(later) > int(sequence_number)
    with Queue("n.fifo", path=tmp_path / "n.db", **kw) as n:
        first = n.send("c", group_id="g").sequence_number
        assert first is not None
        assert len(first) == 20


def test_what_stats_and_peek_showed_survives_a_kill_and_a_clock_set_back(
    tmp_path: Path,
) -> None:
    # stats and peek apply what is due (a delay that ended, a retention that ran out):
    # what they showed is committed before they return, so a kill followed by a reopen
    # with the clock set back shows the same as the in-memory queue does after it.
    script = textwrap.dedent(
        f"""
        import os
        from mqlite import ManualClock, Queue
        for name in ("s", "p"):
            clock = ManualClock(1_000)
            q = Queue(name, path={str(tmp_path)!r} + f"/{{name}}.db", clock=clock, retention=60)
            q.send("late", delay=5)
            clock.advance(4)
            q.send("old")
            clock.advance(2)  # "late" is ready
            assert q.stats().visible == 2
            clock.advance(56)  # "late" is past its retention, "old" not yet
            shown = q.stats() if name == "s" else q.peek()
            print(name, shown, flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == -9, out.stderr
    assert len(out.stdout.splitlines()) == 2
    for name in ("s", "p"):
        # The clock set back to before the retention ran out and before the delay ended.
        answers = []
        for path in [None, tmp_path / f"{name}.db"]:
            clock = ManualClock(1_000)
            with Queue(name, path=path, clock=clock, retention=60) as q:
                if path is None:
                    q.send("late", delay=5)
                    clock.advance(4)
                    q.send("old")
                    clock.advance(58)
                    q.stats()
                clock.set(1_003)
                answers.append((q.stats(), [m.body for m in q.peek(include_delayed=True)]))
        assert answers[1] == answers[0] == (QueueStats(1, 0, 0), ["old"])


def test_a_deleted_queues_counters_never_land_on_the_queue_reusing_its_id(
    tmp_path: Path,
) -> None:
    # A broker reuses the id of the last queue when it is deleted; counters written later
    # (every 64 commits) are the new queue's only, even after a kill.
    script = textwrap.dedent(
        f"""
        import os
        from mqlite import Broker
        b = Broker(path={str(tmp_path / "b.db")!r})
        b.create_queue("keep")
        old = b.create_queue("old")
        old.purge()
        old.send("x")
        old.receive()
        b.delete_queue("old")
        new = b.create_queue("new")
        for i in range(200):
            new.send(str(i))
        print("ready", flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == -9, out.stderr
    assert out.stdout.split() == ["ready"]
    with Broker(path=tmp_path / "b.db") as b:
        new = b.get_queue("new")
        assert new.stats().visible == 200
        new.purge()  # the deleted queue's purge time is not this queue's


def test_counters_are_exact_after_a_clean_close(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with Queue("q", path=path) as q:
        q.send("a")
        [m] = q.receive()
        q.delete(m)
    with Queue("q", path=path) as q:
        state = q._state
        assert (state._seq, state.sent, state.received, state.deleted) == (1, 1, 1, 1)


# The schema of version 1 files, frozen: the migration must upgrade exactly this.
_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE queues (
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, fifo INTEGER NOT NULL,
    token TEXT NOT NULL, settings TEXT NOT NULL, seq INTEGER NOT NULL,
    sequence TEXT NOT NULL, last_purge REAL, sent INTEGER NOT NULL,
    received INTEGER NOT NULL, deleted INTEGER NOT NULL);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY, st INTEGER NOT NULL, dl REAL, rc INTEGER NOT NULL,
    inh INTEGER NOT NULL, frm INTEGER, ra REAL NOT NULL, enq REAL NOT NULL,
    sent INTEGER NOT NULL, mid TEXT NOT NULL, body TEXT NOT NULL, mb TEXT NOT NULL,
    attrs TEXT, ma TEXT, gid TEXT, did TEXT, sn TEXT, dls TEXT, dlsa TEXT);
CREATE TABLE topics (name TEXT PRIMARY KEY, fifo INTEGER NOT NULL,
    cbd INTEGER NOT NULL, subscriptions TEXT NOT NULL);
CREATE TABLE dedup (q INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    expiry REAL NOT NULL, PRIMARY KEY (q, key)) WITHOUT ROWID;
"""


def test_a_version_1_file_is_upgraded_and_keeps_its_messages(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "q.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id={_store.APPLICATION_ID}")
    conn.execute("PRAGMA user_version=1")
    conn.executescript(_SCHEMA_V1)
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [("kind", "queue"), ("name", "q")])
    settings = Queue("q").settings()
    settings["dead_letter_queue"] = None
    conn.execute(
        "INSERT INTO queues VALUES (1,'q',0,'tok',?,1,'1',NULL,1,0,0)",
        (_store.dumps(settings),),
    )
    conn.execute(
        "INSERT INTO messages VALUES (?,0,NULL,0,0,NULL,0,?,?,'id-1','hello',?,NULL,NULL,"
        "NULL,NULL,NULL,NULL,NULL)",
        ((1 << 44) | 1, 1000.0, 1000000, "5d41402abc4b2a76b9719d911017c592"),
    )
    conn.close()
    with Queue("q", path=path, clock=ManualClock(1001)) as q:
        [m] = q.receive()
        assert (m.body, m.message_id) == ("hello", "id-1")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == _store.SCHEMA_VERSION == 2
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"groups", "hides", "extras", "topic_dedup"} <= tables
    conn.close()


def _link_after_its_queue_is_deleted(broker: Broker, clock: ManualClock) -> list[object]:
    """What a queue shows of its dead-letter link once that queue is deleted (and a new
    queue of the same name is made), and how it delivers."""
    jobs = broker.get_queue("jobs")
    dead = jobs.dead_letter_queue
    assert dead is not None
    seen: list[object] = [dead.name, dead.arn, dead.deleted, jobs.max_receive_count]
    jobs.send("x")
    for _ in range(3):  # past max_receive_count: delivered, there is nowhere to move it
        seen.append([m.receive_count for m in jobs.receive(visibility_timeout=0)])
    seen.append(broker.create_queue("jobs", max_receive_count=2) is jobs)
    with pytest.raises(QueueNameExists):
        broker.create_queue("jobs", dead_letter_queue=None)
    return seen


def test_a_link_to_a_deleted_dead_letter_queue_is_restored_as_in_memory(tmp_path: Path) -> None:
    seen = []
    for path in [None, tmp_path / "b.db"]:
        clock = ManualClock(0)
        broker = Broker(path=path, clock=clock)
        dead = broker.create_queue("dead")
        broker.create_queue("jobs", dead_letter_queue=dead, max_receive_count=2)
        broker.delete_queue("dead")
        if path is not None:
            broker.close()
            broker = Broker(path=path, clock=clock)
        first = _link_after_its_queue_is_deleted(broker, clock)
        clock.advance(61)
        new = broker.create_queue("dead")  # same name, another queue: not the link
        if path is not None:
            broker.close()
            broker = Broker(path=path, clock=clock)
            new = broker.get_queue("dead")
        link = broker.get_queue("jobs").dead_letter_queue
        assert link is not None
        assert link is not new
        seen.append((first, link.arn, link.deleted))
        broker.close()
    assert seen[0] == seen[1]
    assert seen[0][0][:4] == ["dead", "arn:aws:sqs:us-east-1:000000000000:dead", True, 2]


def _slow_commits(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """From now on each commit waits until the returned event is set, which only another
    task of the loop does: a commit waited for on the loop itself fails (after 2 s)."""
    release = threading.Event()
    original = _store.Store.sync

    def sync(self: _store.Store) -> None:
        if not release.wait(2):
            raise AssertionError("the commit blocked the event loop")
        original(self)

    monkeypatch.setattr(_store.Store, "sync", sync)
    return release


def test_receive_async_in_power_mode_waits_for_its_commit_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = Queue("q", path=tmp_path / "q.db", durability="power", clock=ManualClock(0))
    q.send("m")
    release = _slow_commits(monkeypatch)
    order: list[str] = []

    async def other() -> None:
        order.append("other task ran")
        release.set()  # only a free loop gets here: then the commit goes on

    async def main() -> list[Message]:
        receiving = asyncio.create_task(q.receive_async())
        await asyncio.sleep(0)  # the receive takes the message and waits for its commit
        await asyncio.create_task(other())
        got = await receiving
        order.append("received")
        return got

    [m] = asyncio.run(main())
    assert m.body == "m"
    assert order == ["other task ran", "received"]
    monkeypatch.undo()
    assert q.stats().in_flight == 1
    q.close()
    with Queue("q", path=tmp_path / "q.db", clock=ManualClock(0)) as again:
        assert again.stats().in_flight == 1  # committed before it was returned


def test_a_receive_async_cancelled_while_its_commit_waits_gives_the_messages_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = Queue("q", path=tmp_path / "q.db", durability="power", clock=ManualClock(0))
    q.send("m")
    release = _slow_commits(monkeypatch)

    async def main() -> None:
        receiving = asyncio.create_task(q.receive_async())
        await asyncio.sleep(0)  # waiting for its commit in a thread
        receiving.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await receiving

    asyncio.run(main())
    monkeypatch.undo()
    assert q.stats().visible == 1  # not hidden for a caller that is gone
    [m] = q.receive()
    assert m.receive_count == 2
    q.close()


def test_a_version_1_fifo_file_is_upgraded_and_serves_its_groups_in_send_order(
    tmp_path: Path,
) -> None:
    import sqlite3

    path = tmp_path / "f.db"
    clock = ManualClock(1_000)
    kw: dict[str, Any] = {"clock": clock, "content_based_deduplication": True}
    with Queue("f.fifo", path=path, **kw) as q:
        for body, group in [("b1", "b"), ("a1", "a"), ("b2", "b"), ("c1", "c")]:
            q.send(body, group_id=group)
    # The same file as version 1 wrote it: no order tables.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE groups")
    conn.execute("DROP TABLE hides")
    conn.execute("DROP TABLE extras")
    conn.execute("DROP TABLE topic_dedup")
    conn.execute("PRAGMA user_version=1")
    conn.close()
    with Queue("f.fifo", path=path, **kw) as q:
        # Groups in the order of their first messages, as version 1 restored them.
        assert [m.body for m in q.receive(10)] == ["b1", "b2", "a1", "c1"]
    with Queue("f.fifo", path=path, **kw) as q:  # the upgraded file stores the order
        assert q.stats().in_flight == 4
        clock.advance(30)
        assert [m.body for m in q.receive(10)] == ["b1", "b2", "a1", "c1"]


def _with_dead_letter_queue(broker: Broker, clock: ManualClock) -> tuple[Queue, Queue]:
    """Queue "jobs" whose messages go to "dead" at their second receive, holding "poison",
    received once and visible again."""
    dead = broker.create_queue("dead")
    jobs = broker.create_queue(
        "jobs", dead_letter_queue=dead, max_receive_count=1, visibility_timeout=5
    )
    jobs.send("poison")
    assert len(jobs.receive()) == 1
    clock.advance(5)
    return jobs, dead


def test_a_commit_between_dead_lettering_and_the_dead_letter_queue_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "b" / "broker.db"
    path.parent.mkdir()
    clock = ManualClock(1000)
    copies: list[Path] = []
    with Broker(path=path, clock=clock) as broker:
        jobs, dead = _with_dead_letter_queue(broker, clock)
        accept = dead._accept_dead_letters

        def another_thread_commits_first(records: Any, source: Any) -> bool:
            broker._store.sync()  # type: ignore[union-attr]  # everything pending so far
            copies.append(copy_as_killed(path, tmp_path / "kill" / path.name))
            return accept(records, source)

        monkeypatch.setattr(dead, "_accept_dead_letters", another_thread_commits_first)
        assert jobs.receive() == []  # moved to the dead-letter queue
        assert dead.stats().visible == 1
    with Broker(path=copies[0], clock=clock) as broker:
        held = broker.get_queue("jobs").stats().visible + broker.get_queue("dead").stats().visible
        assert held == 1  # still in the source queue: never in neither


def test_a_commit_between_a_redrive_take_and_its_send_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "b" / "broker.db"
    path.parent.mkdir()
    clock = ManualClock(1000)
    copies: list[Path] = []
    with Broker(path=path, clock=clock) as broker:
        jobs, dead = _with_dead_letter_queue(broker, clock)
        jobs.receive()
        assert dead.stats().visible == 1
        send = jobs._send

        def another_thread_commits_first(p: Any) -> Any:
            broker._store.sync()  # type: ignore[union-attr]
            copies.append(copy_as_killed(path, tmp_path / "kill" / path.name))
            return send(p)

        monkeypatch.setattr(jobs, "_send", another_thread_commits_first)
        assert dead.redrive() == 1
        assert jobs.stats().visible == 1
    with Broker(path=copies[0], clock=clock) as broker:
        held = broker.get_queue("jobs").stats().visible + broker.get_queue("dead").stats().visible
        assert held == 1


def test_a_dedup_id_whose_window_passed_stays_forgotten_after_a_reopen_and_a_clock_set_back(
    tmp_path: Path,
) -> None:
    clock = ManualClock(1000)
    path = tmp_path / "f.fifo.db"
    memory = Queue("f.fifo", clock=clock)
    durable = Queue("f.fifo", path=path, clock=clock)
    first = [q.send("m", group_id="a", deduplication_id="x") for q in (memory, durable)]
    clock.advance(301)  # the 5-minute window has passed, and both queues see it pass
    assert memory.stats() == durable.stats()
    durable.close()
    durable = Queue("f.fifo", path=path, clock=clock)
    clock.set(1297)  # back inside what was the window
    again = [q.send("m", group_id="a", deduplication_id="x") for q in (memory, durable)]
    durable.close()
    # Forgotten by both: each accepts it as a new message.
    assert again[0].message_id != first[0].message_id
    assert again[1].message_id != first[1].message_id


def test_multi_row_inserts_only_plain_one_row_inserts() -> None:
    many = _store._multi_row("INSERT OR REPLACE INTO hides VALUES (?,?)", 3)
    assert many == "INSERT OR REPLACE INTO hides VALUES (?,?),(?,?),(?,?)"
    for sql in (
        "UPDATE messages SET st=? WHERE id=?",
        "DELETE FROM messages WHERE id=?",
        "INSERT INTO topic_dedup VALUES (?,'',?,0) ON CONFLICT (topic, key) DO NOTHING",
        "INSERT INTO t VALUES (?, json(?))",
    ):
        assert _store._multi_row(sql, 2) is None, sql


@pytest.mark.parametrize("name", ["jobs", "jobs.fifo"])
def test_one_commit_of_many_sends_stores_each_in_order(tmp_path: Path, name: str) -> None:
    # 120 sends held back and committed together: runs of plain rows (up to 60 long) go as
    # multi-row INSERTs of up to 50 rows, between other statements (rows with attributes,
    # a delayed row; a FIFO send's dedup row follows each); every message comes back, in
    # order.
    clock = ManualClock(1_000)
    fifo = name.endswith(".fifo")
    extra: dict[str, Any] = {"content_based_deduplication": True} if fifo else {}
    q = Queue(name, path=tmp_path / "q.db", clock=clock, **extra)
    store = q._store
    assert store is not None
    sync = store.sync
    store.sync = lambda: None  # type: ignore[method-assign]
    try:
        for i in range(120):
            attributes = {"n": str(i)} if i in (0, 100) else None
            q.send(f"m{i}", attributes=attributes, group_id="g" if fifo else None)
            if i == 60:
                q.send("later", delay=None if fifo else 30, group_id="h" if fifo else None)
    finally:
        store.sync = sync  # type: ignore[method-assign]
    store.sync()
    q.close()
    q = Queue(name, path=tmp_path / "q.db", clock=clock)
    clock.advance(30)
    got: list[Message] = []
    while batch := q.receive(10, visibility_timeout=600):
        got.extend(batch)
        for m in batch:  # a FIFO group serves its next messages once these are gone
            q.delete(m)
    bodies = [m.body for m in got if m.body != "later"]
    assert bodies == [f"m{i}" for i in range(120)]
    assert [m.body for m in got].count("later") == 1
    assert all(m.attributes["n"].value == str(int(m.body[1:])) for m in got if m.attributes)
    q.close()


@pytest.mark.parametrize("kind", ["queue", "fifo queue", "broker", "fifo topic", "in memory"])
def test_closing_frees_the_messages_held_in_memory(tmp_path: Path, kind: str) -> None:
    # With the garbage collector off, as for records that gc.freeze() exempted after a
    # large reopen: closing must free what the queue held by reference counting alone,
    # so opening and closing again and again takes no more memory each round.
    import gc
    import tracemalloc

    fifo = kind == "fifo queue"
    name = "jobs.fifo" if fifo else "jobs"
    path = None if kind == "in memory" else tmp_path / "jobs.db"

    def fill(q: Queue) -> None:
        fifo = q.fifo
        for i in range(400):
            entries = [
                SendEntry(
                    id=str(k),
                    body=f"{i}-{k}-" + "x" * 200,
                    group_id=f"g{k}" if fifo else None,
                    deduplication_id=f"{i}-{k}" if fifo else None,
                )
                for k in range(10)
            ]
            q.send_batch(entries)
        q.receive(10)

    if kind == "broker":
        with Broker(path=path) as b:
            fill(b.create_queue("jobs"))
            fill(b.create_queue("jobs.fifo", fifo=True))
    elif kind == "fifo topic":  # its deduplication window: 4,000 ids, restored at opening
        with Broker(path=path) as b:
            topic = b.create_topic("news.fifo")
            for i in range(400):
                topic.publish_batch(
                    PublishEntry(
                        id=str(k),
                        message="x" * 200,
                        group_id="g",
                        deduplication_id=f"{i}-{k}-" + "d" * 100,
                    )
                    for k in range(10)
                )
    elif path is not None:
        with Queue(name, path=path) as q:
            fill(q)

    def open_close() -> int:
        """Open the file (or fill a queue in memory), close it: the bytes it held."""
        start = tracemalloc.get_traced_memory()[0]
        if kind in ("broker", "fifo topic"):
            holder: Broker | Queue = Broker(path=path)
        else:
            holder = Queue(name, path=path)
            if path is None:
                fill(holder)
        held = tracemalloc.get_traced_memory()[0] - start
        holder.close()
        del holder
        return held

    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        loaded = open_close()
        # 4,000 or 8,000 messages (or dedup ids) of 200 bytes and more
        assert loaded > 1_500_000
        before = tracemalloc.get_traced_memory()[0]
        open_close()
        open_close()
        # What each further round keeps (what a first one caches is left out).
        kept = (tracemalloc.get_traced_memory()[0] - before) / 2
    finally:
        tracemalloc.stop()
        gc.enable()
    assert kept < loaded / 10, (kept, loaded)


def test_a_closed_queue_says_so_in_its_repr(tmp_path: Path) -> None:
    q = Queue("jobs", path=tmp_path / "q.db")
    q.send("a")
    assert "visible=1" in repr(q)
    q.close()
    assert repr(q) == "<Queue 'jobs' (standard) closed>"


def _dedup_rows(q: Queue) -> int:
    store = q._store
    assert store is not None
    with store.reading() as conn:
        (count,) = conn.execute("SELECT count(*) FROM dedup").fetchone()
    return int(count)


def test_dedup_ids_leave_the_file_when_their_window_ends(tmp_path: Path) -> None:
    clock = ManualClock(1_000)
    path = tmp_path / "q.db"
    q = Queue("q.fifo", path=path, clock=clock)
    for i in range(3):
        q.send(f"m{i}", group_id="g", deduplication_id=f"d{i}")
    clock.advance(100)
    q.send("m3", group_id="g", deduplication_id="d3")
    assert _dedup_rows(q) == 4
    clock.advance(201)  # the first three windows have ended
    q.stats()  # a call: memory forgets them, and the file with it
    assert _dedup_rows(q) == 1
    q.close()
    clock.advance(100)  # the last one's window ends while the file is closed
    q = Queue("q.fifo", path=path, clock=clock)
    assert _dedup_rows(q) == 0
    assert q.send("again", group_id="g", deduplication_id="d3").sequence_number is not None
    assert len(q.peek()) == 5
    q.close()


def test_a_purge_time_is_never_stored_ahead_of_the_purge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another queue's commit writes this queue's counters without this queue's lock. If
    # it committed the purge time before the purge's deletes, a kill right then would
    # leave the messages stored and purges refused for 60 s.
    from mqlite import _state

    path = tmp_path / "b.db"
    broker = Broker(path=path)
    jobs, other = broker.create_queue("jobs"), broker.create_queue("other")
    jobs.send("1")
    jobs.send("2")  # jobs' counters changed since they were last written
    snapshot = tmp_path / "killed"
    clear = _state.QueueState.clear

    def clear_after_another_commit(state: _state.QueueState) -> None:
        if state is jobs._state:
            other.send("x")  # its commit writes jobs' counters too
            copy_as_killed(path, snapshot / "b.db")  # a kill here: the file as it is now
        clear(state)

    monkeypatch.setattr(_state.QueueState, "clear", clear_after_another_commit)
    jobs.purge()
    monkeypatch.undo()
    broker.close()
    with Broker(path=snapshot / "b.db") as reopened:
        q = reopened.get_queue("jobs")
        assert sorted(m.body for m in q.peek()) == ["1", "2"]  # the purge was not stored
        q.purge()  # and purges are not refused
        assert q.peek() == []


@pytest.mark.parametrize("durable", [False, True])
def test_a_closed_broker_and_its_topics_refuse_every_call_and_change_nothing(
    tmp_path: Path, durable: bool
) -> None:
    path = tmp_path / "b.db" if durable else None
    broker = Broker(path=path)
    jobs = broker.create_queue("jobs")
    topic = broker.create_topic("news")
    sub = topic.subscribe(jobs)
    broker.close()
    calls: list[Callable[[], object]] = [
        lambda: broker.create_queue("new"),
        lambda: broker.get_queue("jobs"),
        lambda: broker.get_queue_by_arn(jobs.arn),
        lambda: broker.list_queues(),
        lambda: broker.delete_queue("jobs"),
        lambda: broker.create_topic("other"),
        lambda: broker.get_topic("news"),
        lambda: broker.list_topics(),
        lambda: broker.delete_topic("news"),
        lambda: topic.publish("hello"),
        lambda: topic.subscribe(print),
        lambda: topic.unsubscribe(sub),
        lambda: sub.unsubscribe(),
        lambda: sub.configure(raw_message_delivery=True),
    ]
    for call in calls:
        with pytest.raises(Closed):
            call()
    assert sub.active
    if path is not None:
        with Broker(path=path) as reopened:
            assert [q.name for q in reopened.list_queues()] == ["jobs"]
            assert [t.name for t in reopened.list_topics()] == ["news"]
            [kept] = reopened.get_topic("news").subscriptions
            assert kept.arn == sub.arn
            assert not kept.raw_message_delivery
            assert reopened.get_queue("jobs").peek() == []


@pytest.mark.parametrize("opener", ["queue", "broker"])
def test_a_path_that_is_no_file_path_is_refused_and_creates_nothing(
    tmp_path: Path, opener: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    open_: Callable[[Any], object] = (
        (lambda p: Queue("q", path=p)) if opener == "queue" else (lambda p: Broker(path=p))
    )
    for bad in ("", str(tmp_path / "a\x00b.db"), 123, 1.5, ["q.db"]):
        with pytest.raises(InvalidParameterValue) as info:
            open_(bad)
        assert "path must be" in str(info.value)
    assert list(tmp_path.iterdir()) == []
    # bytes name a file as str does
    with Queue("q", path=os.fsencode(tmp_path / "q.db")) as q:  # type: ignore[arg-type]
        q.send("a")
    with Queue("q", path=tmp_path / "q.db") as q:
        assert [m.body for m in q.peek()] == ["a"]
