"""FIFO topics under concurrent publishers: every message reaches every subscriber once,
in sequence-number order; duplicates return the original's id and sequence number."""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from mqlite import ManualClock, Notification, PublishEntry, Queue
from mqlite.message import PublishResult
from mqlite.topic import Topic

THREADS = 8
PER_THREAD = 500
GROUPS = 3


@pytest.fixture
def often_switching() -> Iterator[None]:
    """Switch threads very often, so publishers interleave inside publish."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _increasing(seqs: list[str]) -> bool:
    return all(a < b for a, b in itertools.pairwise(seqs))


@pytest.mark.parametrize("workers", [0, 1, 4], ids=["synchronous", "executor-1", "executor-4"])
@pytest.mark.usefixtures("often_switching")
def test_concurrent_fifo_publishers_deliver_in_sequence_order(workers: int) -> None:
    executor = ThreadPoolExecutor(workers) if workers else None
    t = Topic("t.fifo", content_based_deduplication=True, executor=executor)
    lock = threading.Lock()
    every: list[Notification] = []
    odd: list[Notification] = []

    def add_to(sink: list[Notification]) -> Callable[[Notification], None]:
        def add(n: Notification) -> None:
            with lock:
                sink.append(n)

        return add

    t.subscribe(add_to(every))
    t.subscribe(add_to(odd), filter_policy={"odd": ["yes"]})
    envelopes = Queue("envelopes.fifo")
    t.subscribe(envelopes)
    raw = Queue("raw")  # a standard queue: gets the bare message
    t.subscribe(raw, raw_message_delivery=True)

    results: list[list[tuple[str, int, PublishResult]]] = [[] for _ in range(THREADS)]

    def publisher(k: int) -> None:
        for i in range(PER_THREAD):
            body = f"{k}-{i}"
            group = i % GROUPS
            r = t.publish(body, group_id=f"g{group}", attributes={"odd": "yes" if i % 2 else "no"})
            results[k].append((body, group, r))

    threads = [threading.Thread(target=publisher, args=(k,)) for k in range(THREADS)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=30)
            assert not th.is_alive()
        assert t.flush(timeout=30)
    finally:
        if executor is not None:
            executor.shutdown()

    published = [item for mine in results for item in mine]
    assert len(published) == THREADS * PER_THREAD
    seq_of = {body: r.sequence_number or "" for body, _, r in published}
    group_of = {body: group for body, group, _ in published}
    assert len(set(seq_of.values())) == len(published)  # sequence numbers are unique

    def check(name: str, delivered: list[tuple[str, str]], expected: set[str]) -> None:
        """*delivered*: (body, sequence number) in delivery order."""
        bodies = [body for body, _ in delivered]
        assert len(bodies) == len(expected), name  # every message once
        assert set(bodies) == expected, name
        for body, seq in delivered:
            assert seq == seq_of[body], name
        seqs = [seq for _, seq in delivered]
        # SNS FIFO orders each message group; mqlite delivers a topic in sequence order.
        for group in range(GROUPS):
            mine = [seq for body, seq in delivered if group_of[body] == group]
            assert _increasing(mine), f"{name}: group g{group} out of order"
        assert _increasing(seqs), f"{name}: out of sequence order"

    everything = set(seq_of)
    check("callable", [(n.message, n.sequence_number or "") for n in every], everything)
    odd_bodies = {b for b in everything if int(b.split("-")[1]) % 2}
    check("filtered callable", [(n.message, n.sequence_number or "") for n in odd], odd_bodies)
    sent = [json.loads(m.body) for m in envelopes.peek()]
    check("fifo queue", [(e["Message"], e["SequenceNumber"]) for e in sent], everything)
    check("raw queue", [(m.body, seq_of[m.body]) for m in raw.peek()], everything)


# --- duplicates ------------------------------------------------------------------------------


def test_duplicate_returns_the_original_message_id_and_sequence_number() -> None:
    clock = ManualClock()
    t = Topic("t.fifo", clock=clock)
    got: list[Notification] = []
    t.subscribe(got.append)
    first = t.publish("a", group_id="g", deduplication_id="d")
    assert first.sequence_number is not None
    # Enough other messages in between that the topic tidies what it keeps per dedup id.
    others = [t.publish(f"m{i}", group_id="g", deduplication_id=f"o{i}") for i in range(300)]
    clock.advance(299)
    again = t.publish("b", group_id="other", deduplication_id="d")
    assert (again.message_id, again.sequence_number) == (first.message_id, first.sequence_number)
    assert [n.message for n in got].count("b") == 0  # accepted, not delivered
    clock.advance(1)  # the window has passed: a new message with a new, larger number
    later = t.publish("c", group_id="g", deduplication_id="d")
    assert later.message_id != first.message_id
    assert later.sequence_number is not None
    assert later.sequence_number > others[-1].sequence_number  # type: ignore[operator]
    assert t.publish("c", group_id="g", deduplication_id="d") == later
    assert [n.message for n in got] == ["a", *(f"m{i}" for i in range(300)), "c"]


def test_duplicates_in_and_across_batches_return_the_original() -> None:
    t = Topic("t.fifo", content_based_deduplication=True)
    got: list[str] = []
    t.subscribe(lambda n: got.append(n.sequence_number or ""))
    batch = t.publish_batch(
        [
            PublishEntry("1", "same", group_id="g"),
            PublishEntry("2", "other", group_id="g"),
            PublishEntry("3", "same", group_id="h"),  # content-based: a duplicate of "1"
        ]
    ).successful
    assert [r.id for r in batch] == ["1", "2", "3"]
    one, two, three = batch
    assert (three.message_id, three.sequence_number) == (one.message_id, one.sequence_number)
    assert one.sequence_number != two.sequence_number
    [again] = t.publish_batch([PublishEntry("x", "other", group_id="g")]).successful
    assert (again.id, again.message_id, again.sequence_number) == (
        "x",
        two.message_id,
        two.sequence_number,
    )
    assert got == [one.sequence_number, two.sequence_number]  # each delivered once
