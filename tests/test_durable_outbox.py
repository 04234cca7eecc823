"""A durable broker's outbox: a delivery that ``publish`` leaves to another thread (a FIFO
topic's queue) or to an executor is stored before ``publish`` returns, so a kill before it
is made does not lose it: the reopened broker makes it."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _durable_support import copy_as_killed

from mqlite import Broker, Notification
from mqlite.topic import OUTBOX


def _outbox_rows(broker: Broker) -> int:
    store = broker._store
    assert store is not None
    with store.reading() as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM extras WHERE key LIKE ?", (OUTBOX + "%",)
        ).fetchone()
    return int(count)


def _bodies(path: Path, queue: str) -> list[str]:
    with Broker(path=path) as broker:
        assert _outbox_rows(broker) == 0  # made at opening, and forgotten
        return [m.body for m in broker.get_queue(queue).peek()]


def test_a_fifo_publish_queued_behind_another_delivery_survives_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    broker = Broker(path=path)
    jobs = broker.create_queue("jobs.fifo", content_based_deduplication=True)
    topic = broker.create_topic("news.fifo", content_based_deduplication=True)
    inside, release = threading.Event(), threading.Event()

    def slow(n: Notification) -> None:
        if n.message == "first":
            inside.set()
            release.wait(10)

    topic.subscribe(slow)  # delivered to first: "first" stops there for a while
    topic.subscribe(jobs, raw_message_delivery=True)
    drainer = threading.Thread(target=lambda: topic.publish("first", group_id="g"))
    drainer.start()
    try:
        assert inside.wait(10)
        topic.publish("second", group_id="g")  # queued behind "first": returns at once
        assert [m.body for m in jobs.peek()] == []
        assert _outbox_rows(broker) == 1
        killed = copy_as_killed(path, tmp_path / "killed" / path.name)
    finally:
        release.set()
        drainer.join(10)
    assert [m.body for m in jobs.peek()] == ["first", "second"]
    assert _outbox_rows(broker) == 0  # made: forgotten
    broker.close()
    # "first" was not acknowledged (its publish had not returned); "second" was.
    assert _bodies(killed, "jobs.fifo") == ["second"]
    assert _bodies(killed, "jobs.fifo") == ["second"]  # made once, not at every opening
    assert _bodies(path, "jobs.fifo") == ["first", "second"]


_Job = tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...]]


class _Paused(concurrent.futures.Executor):
    """An executor that runs what it is given only when told to."""

    def __init__(self) -> None:
        self.jobs: list[
            tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...]]
        ] = []

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.jobs.append((future, fn, args))
        return future

    def run(self) -> None:
        for future, fn, args in self.jobs:
            future.set_result(fn(*args))
        self.jobs.clear()


def test_deliveries_left_on_an_executor_survive_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    executor = _Paused()
    broker = Broker(path=path)
    plain = broker.create_queue("plain")
    ordered = broker.create_queue("ordered.fifo", content_based_deduplication=True)
    news = broker.create_topic("news", executor=executor)
    news_fifo = broker.create_topic(
        "news.fifo", content_based_deduplication=True, executor=executor
    )
    news.subscribe(plain, raw_message_delivery=True)
    news_fifo.subscribe(ordered, raw_message_delivery=True)
    news.publish("a", attributes={"n": 1, "bin": b"\x00\xff"})
    news.publish("b")
    news_fifo.publish("c", group_id="g")
    news_fifo.publish("d", group_id="g")
    assert plain.peek() == []
    assert ordered.peek() == []
    assert _outbox_rows(broker) == 4
    killed = copy_as_killed(path, tmp_path / "killed" / path.name)
    executor.run()
    assert _outbox_rows(broker) == 0
    broker.close()
    with Broker(path=killed) as reopened:
        assert _outbox_rows(reopened) == 0
        [a, b] = sorted(reopened.get_queue("plain").peek(), key=lambda m: m.body)
        assert (a.body, b.body) == ("a", "b")
        assert a.attributes["bin"].value == b"\x00\xff"
        assert a.attributes["n"].data_type == "Number"
        assert [m.body for m in reopened.get_queue("ordered.fifo").peek()] == ["c", "d"]
    assert sorted(_bodies(path, "plain")) == ["a", "b"]


def test_a_publish_that_delivers_itself_stores_no_outbox_row(tmp_path: Path) -> None:
    with Broker(path=tmp_path / "b.db") as broker:
        jobs = broker.create_queue("jobs.fifo", content_based_deduplication=True)
        topic = broker.create_topic("news.fifo", content_based_deduplication=True)
        topic.subscribe(jobs, raw_message_delivery=True)
        appended: list[str] = []
        store = broker._store_outbox

        def spy(key: str, data: dict[str, Any] | None) -> None:
            appended.append(key)
            store(key, data)

        topic._outbox_store = spy
        topic.publish("x", group_id="g")
        assert appended == []  # delivered before publish returned: nothing to store
        assert [m.body for m in jobs.peek()] == ["x"]
