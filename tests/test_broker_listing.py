"""Broker listings: by name, prefix literal and case-sensitive, after creates and deletes."""

from __future__ import annotations

from mqlite import Broker


def test_prefix_listing_is_sorted_and_exact_at_the_edges() -> None:
    broker = Broker()
    names = ["b", "a-1", "ab", "a", "A", "a_", "aa", "aZ", "c"]
    for name in names:
        broker.create_queue(name)
    broker.delete_queue("aa")
    assert [q.name for q in broker.list_queues()] == sorted(set(names) - {"aa"})
    assert [q.name for q in broker.list_queues("a")] == ["a", "a-1", "aZ", "a_", "ab"]
    assert [q.name for q in broker.list_queues("a-")] == ["a-1"]
    assert [q.name for q in broker.list_queues("a1")] == []
    assert [q.name for q in broker.list_queues("d")] == []


def test_topics_are_listed_by_name() -> None:
    broker = Broker()
    for name in ["m", "b", "z", "a"]:
        broker.create_topic(name)
    broker.delete_topic("a")
    assert [t.name for t in broker.list_topics()] == ["b", "m", "z"]
