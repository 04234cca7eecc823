"""The in-order run + late heap against a sorted list of live entries."""

from __future__ import annotations

import math

import pytest
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mqlite._runheap import RunHeap


class _Item:
    """An entry's item: live while its ticket still equals the tag it was pushed with."""

    def __init__(self, name: int) -> None:
        self.name = name
        self.ticket = 0


def _alive(tag: int, item: _Item) -> bool:
    return tag == item.ticket


keys = st.integers(min_value=0, max_value=20).map(float)


class RunHeapMachine(RuleBasedStateMachine):
    """Pushes in and out of order, pops, stale entries and rebuilds with no slack."""

    def __init__(self) -> None:
        super().__init__()
        self.heap: RunHeap[int, _Item] = RunHeap(_alive, slack=0)
        #: The model: (key, push order, item) of every live entry, kept sorted.
        self.model: list[tuple[float, int, _Item]] = []
        self.pushes = 0
        self.rebuilds = 0

    def _push(self, key: float, item: _Item) -> None:
        self.pushes += 1
        item.ticket += 1  # any older entry of this item goes stale
        self.model = [e for e in self.model if e[2] is not item]
        self.heap.push(key, item.ticket, item)
        self.model.append((key, self.pushes, item))
        self.model.sort(key=lambda e: (e[0], e[1]))

    @rule(key=keys)
    def push_new(self, key: float) -> None:
        self._push(key, _Item(self.pushes))

    @rule(delta=st.integers(min_value=0, max_value=3))
    def push_in_order(self, delta: int) -> None:
        last = max((e[0] for e in self.model), default=0.0)
        self._push(last + delta, _Item(self.pushes))

    @precondition(lambda self: self.model)
    @rule(data=st.data(), key=keys)
    def push_again(self, data: st.DataObject, key: float) -> None:
        _, _, item = data.draw(st.sampled_from(self.model))
        self._push(key, item)

    @rule(batch=st.lists(keys, max_size=8), in_order=st.booleans())
    def extend(self, batch: list[float], in_order: bool) -> None:
        """Many new entries at once (in key order or not; on an empty structure or not):
        the same as pushing each in turn."""
        if in_order:
            batch.sort()
        items = [_Item(self.pushes + i) for i in range(len(batch))]
        self.heap.extend(batch, [0] * len(batch), items)
        for key, item in zip(batch, items, strict=True):
            self.pushes += 1
            self.model.append((key, self.pushes, item))
        self.model.sort(key=lambda e: (e[0], e[1]))

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def go_stale(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(self.model))
        entry[2].ticket += 1
        self.model.remove(entry)

    @rule(limit=keys)
    def pop_due(self, limit: float) -> None:
        got = self.heap.pop_due(limit)
        if self.model and self.model[0][0] <= limit:
            assert got is self.model.pop(0)[2]
        else:
            assert got is None

    @rule()
    def earliest(self) -> None:
        assert self.heap.earliest() == (self.model[0][0] if self.model else None)

    @rule()
    def maybe_compact(self) -> None:
        before = len(self.heap)
        if self.heap.maybe_compact(len(self.model)):
            self.rebuilds += 1
            # It may stop once the stale head is gone, but never above the bound.
            assert len(self.heap) < before
            assert len(self.heap) <= 2 * len(self.model) + self.heap.slack
        else:
            assert before <= 2 * len(self.model) + self.heap.slack

    @rule()
    def compact(self) -> None:
        self.heap.compact()
        assert len(self.heap) == len(self.model)

    @rule()
    def clear(self) -> None:
        self.heap.clear()
        self.model.clear()

    @invariant()
    def holds_the_live_entries(self) -> None:
        held = sorted((key, item.name) for key, item in self.heap.live())
        assert held == sorted((key, item.name) for key, _, item in self.model)
        assert len(self.heap) >= len(self.model)
        assert self.heap.run_in_order()
        assert self.heap.first <= (self.model[0][0] if self.model else math.inf)


RunHeapMachine.TestCase.settings = hsettings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestRunHeap = RunHeapMachine.TestCase


def test_equal_keys_come_out_in_push_order_across_run_and_heap() -> None:
    heap: RunHeap[int, str] = RunHeap(lambda tag, item: True)
    heap.push(5.0, 0, "a")  # run
    heap.push(7.0, 0, "b")  # run
    heap.push(5.0, 0, "c")  # late: heap, after "a" in push order
    heap.push(7.0, 0, "d")  # run again (>= the run's last)
    heap.push(6.0, 0, "e")  # heap
    assert [heap.pop_due(10.0) for _ in range(6)] == ["a", "c", "e", "b", "d", None]


def test_compact_keeps_order_and_drops_only_stale_entries() -> None:
    items = [_Item(i) for i in range(40)]
    heap: RunHeap[int, _Item] = RunHeap(_alive, slack=3)
    for i, item in enumerate(items):
        heap.push(float(i // 2 if i % 3 else 40 - i), item.ticket, item)
    for item in items:
        if item.name % 4:
            item.ticket += 1  # 30 stale, 10 live
    assert heap.maybe_compact(10)
    assert len(heap) == 10
    out = []
    while (due := heap.pop_due(math.inf)) is not None:
        out.append(due.name)
    expected = sorted((float(i // 2 if i % 3 else 40 - i), i) for i in range(40) if i % 4 == 0)
    assert out == [i for _, i in expected]


@pytest.mark.parametrize("slack", [0, 5])
def test_maybe_compact_waits_for_the_slack(slack: int) -> None:
    items = [_Item(i) for i in range(10)]
    heap: RunHeap[int, _Item] = RunHeap(_alive, slack=slack)
    for i, item in enumerate(items):
        heap.push(float(i), 0, item)
    for item in items[:6]:
        item.ticket += 1  # 6 stale, 4 live: 10 > 2 * 4 + slack only when slack < 2
    assert heap.maybe_compact(4) is (slack < 2)
    assert len(heap) == (4 if slack < 2 else 10)


def test_a_key_pushed_after_the_run_empties_still_follows_an_older_equal_late_key() -> None:
    x, y, z = _Item(0), _Item(1), _Item(2)
    heap: RunHeap[int, _Item] = RunHeap(_alive)
    heap.push(10.0, 0, x)  # run
    heap.push(4.0, 0, y)  # late: heap
    x.ticket += 1
    heap.compact()  # the run is empty now; y waits in the heap
    heap.push(4.0, 0, z)  # equal to y's key, pushed after it
    assert [heap.pop_due(4.0), heap.pop_due(4.0), heap.pop_due(4.0)] == [y, z, None]


def test_extend_on_an_empty_heap_is_pushing_each_in_turn() -> None:
    # Out of order, with equal keys: a stable sort into the run gives the push order.
    keys = [3.0, 1.0, 3.0, 2.0, 1.0, 5.0]
    names = ["a", "b", "c", "d", "e", "f"]
    bulk: RunHeap[int, str] = RunHeap(lambda tag, item: True)
    bulk.extend(keys, [0] * 6, names)
    one_by_one: RunHeap[int, str] = RunHeap(lambda tag, item: True)
    for key, name in zip(keys, names, strict=True):
        one_by_one.push(key, 0, name)
    expected = ["b", "e", "d", "a", "c", "f"]
    assert bulk.first == 1.0
    assert bulk.run_in_order()
    for heap in (bulk, one_by_one):
        heap.push(2.0, 0, "late")  # after the bulk: late, behind the equal "d"
        assert [heap.pop_due(math.inf) for _ in range(8)] == [
            *expected[:3],
            "late",
            *expected[3:],
            None,
        ]
