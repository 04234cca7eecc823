"""Entries ordered by a key that mostly arrives in order: an in-order run plus a late heap.

Deadlines (``now + timeout``), dedup expiries (``now + window``) and enqueue times all
grow with the clock, so almost every key is at least the last one pushed. Those go in a
*run*: parallel deques of key, tag and item, appended at the right and taken from the
left in O(1), with no object allocated per entry (the garbage collector sees nothing
new, which matters at a million messages). A key smaller than the largest the run has
taken (a late arrival: a shorter timeout, a dead letter keeping its enqueue time, the
clock set back) goes in a heap of (key, order, tag, item) tuples instead, O(log n). The
earliest entry is the smaller of the two heads, and equal keys come out in push order:
every run entry pushed after a heap entry has a larger key than it (that largest key
is forgotten only when both are empty), so on a tie the run's head is the older one.

Entries are removed lazily. Each carries a *tag* chosen by the caller (a ticket, a
message id), and the caller's ``alive(tag, item)`` says whether it still counts; stale
entries are skipped when they surface, or dropped all at once by :meth:`RunHeap.compact`
when :meth:`RunHeap.maybe_compact` finds them outnumbering the live ones by more than the
*slack* given at construction (tests pass a slack of 0 so every rebuild runs).
"""

from __future__ import annotations

import heapq
import math
import operator
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Generic, TypeVar

__all__ = ["RunHeap"]

T = TypeVar("T")  # the tag
I = TypeVar("I")  # noqa: E741 - the item


class RunHeap(Generic[T, I]):
    """Items ordered by (key, push order), with lazy deletion. See the module docstring."""

    __slots__ = (
        "_alive",
        "_heap",
        "_last",
        "_order",
        "_run_item",
        "_run_key",
        "_run_tag",
        "first",
        "slack",
    )

    def __init__(self, alive: Callable[[T, I], bool], *, slack: int = 0) -> None:
        self._alive = alive
        #: Stale entries tolerated beyond the live ones before :meth:`maybe_compact` rebuilds.
        self.slack = slack
        self._run_key: deque[float] = deque()
        self._run_tag: deque[T] = deque()
        self._run_item: deque[I] = deque()
        self._heap: list[tuple[float, int, T, I]] = []
        #: Orders late entries with equal keys in the heap (the run needs no order).
        self._order = 0
        #: The largest key the run has taken since the structure was last empty.
        self._last = -math.inf
        #: The earliest key held, live or stale (``inf`` when empty): ``first > now``
        #: tells the caller in one comparison that nothing is due.
        self.first = math.inf

    def __len__(self) -> int:
        """Entries held, live or stale. Cost: O(1)."""
        return len(self._run_key) + len(self._heap)

    def push(self, key: float, tag: T, item: I) -> None:
        """Hold *item* under *key* with *tag*. Cost: O(1) in order, O(log n) late."""
        if key >= self._last:
            self._last = key
            self._run_key.append(key)
            self._run_tag.append(tag)
            self._run_item.append(item)
        else:
            self._order += 1
            heapq.heappush(self._heap, (key, self._order, tag, item))
        if key < self.first:
            self.first = key

    def extend(self, keys: list[float], tags: list[T], items: list[I]) -> None:
        """Hold many entries at once, as if each ``(key, tag, item)`` were pushed in turn
        (three lists of one length).

        On an empty structure (a queue being loaded) every entry goes in the run: keys in
        order are appended as they are, others are first sorted by key, stably, which
        gives the same (key, push order) as pushing them one by one. Otherwise each is
        pushed. Cost: O(n) for keys in order, O(n log n) for others.
        """
        if not keys:
            return
        if self._run_key or self._heap:
            for key, tag, item in zip(keys, tags, items, strict=True):
                self.push(key, tag, item)
            return
        if not all(map(operator.le, keys, islice(keys, 1, None))):
            order = sorted(range(len(keys)), key=keys.__getitem__)
            keys = [keys[i] for i in order]
            tags = [tags[i] for i in order]
            items = [items[i] for i in order]
        self._run_key.extend(keys)
        self._run_tag.extend(tags)
        self._run_item.extend(items)
        self._last = keys[-1]
        self.first = keys[0]

    def pop_due(self, limit: float) -> I | None:
        """Take the earliest live item whose key is at or before *limit*, if any.

        Cost: O(1) from the run, O(log n) from the heap; stale entries on the way are
        dropped (amortised O(1) each).
        """
        # _pop_earliest and _reset_first, inlined: this runs for every message that
        # becomes ready or expires.
        alive = self._alive
        run_key, heap = self._run_key, self._heap
        first = self.first
        while first <= limit:
            if run_key and (not heap or run_key[0] <= heap[0][0]):
                run_key.popleft()
                tag = self._run_tag.popleft()
                item = self._run_item.popleft()
            elif heap:
                _, _, tag, item = heapq.heappop(heap)
            else:  # empty: only an infinite limit gets here
                return None
            first = run_key[0] if run_key else math.inf
            if heap and heap[0][0] < first:
                first = heap[0][0]
            self.first = first
            if alive(tag, item):
                return item
        return None

    def earliest(self) -> float | None:
        """The earliest live key, or ``None``. Cost: amortised O(1) (drops stale heads)."""
        alive = self._alive
        while self.first != math.inf:
            if self._run_is_first():
                tag, item = self._run_tag[0], self._run_item[0]
            else:
                _, _, tag, item = self._heap[0]
            if alive(tag, item):
                return self.first
            self._pop_earliest()
        return None

    def live(self) -> Iterator[tuple[float, I]]:
        """``(key, item)`` of every live entry, run first. Cost: O(n) — for checks and scans."""
        alive = self._alive
        for key, tag, item in zip(self._run_key, self._run_tag, self._run_item, strict=True):
            if alive(tag, item):
                yield key, item
        for key, _, tag, item in self._heap:
            if alive(tag, item):
                yield key, item

    def run_in_order(self) -> bool:
        """Whether the run's keys never decrease (an invariant). Cost: O(n)."""
        run = self._run_key
        return all(run[i] <= run[i + 1] for i in range(len(run) - 1))

    def maybe_compact(self, live: int) -> bool:
        """Drop stale entries if more than ``live + slack`` are held (*live*: the caller's
        count): all of them when *live* is 0, else the run's stale head, then the rest by
        a rebuild if still too many. Afterwards at most ``2 * live + slack`` entries remain.

        Returns whether it dropped any. Cost: O(1), or O(n) amortised over the stale entries.
        """
        if len(self) <= 2 * live + self.slack:
            return False
        if not live:  # every entry is stale: no entry needs testing
            self.clear()
            return True
        # Queues are mostly drained oldest first, so stale entries gather at the run's
        # head: dropping those is cheaper than a rebuild, and often enough.
        alive, run_key, run_tag, run_item = (
            self._alive,
            self._run_key,
            self._run_tag,
            self._run_item,
        )
        while run_key and not alive(run_tag[0], run_item[0]):
            run_key.popleft()
            run_tag.popleft()
            run_item.popleft()
        if len(self) > 2 * live + self.slack:
            self.compact()
        else:
            if not run_key and not self._heap:
                self._last = -math.inf
            self._reset_first()
        return True

    def compact(self) -> None:
        """Drop every stale entry, keeping the order of the rest. Cost: O(n)."""
        alive = self._alive
        keep = [
            entry
            for entry in zip(self._run_key, self._run_tag, self._run_item, strict=True)
            if alive(entry[1], entry[2])
        ]
        self._run_key = deque(e[0] for e in keep)
        self._run_tag = deque(e[1] for e in keep)
        self._run_item = deque(e[2] for e in keep)
        self._heap = [e for e in self._heap if alive(e[2], e[3])]
        heapq.heapify(self._heap)
        if not self._heap:  # no late entry to order against: the run's own last will do
            self._last = self._run_key[-1] if self._run_key else -math.inf
        self._reset_first()

    def clear(self) -> None:
        """Drop every entry. Cost: O(n)."""
        self._run_key.clear()
        self._run_tag.clear()
        self._run_item.clear()
        self._heap.clear()
        self.first = math.inf
        self._last = -math.inf

    # --- internals ---------------------------------------------------------------------------

    def _run_is_first(self) -> bool:
        heap = self._heap
        if not self._run_key:
            return False
        if not heap:
            return True
        return self._run_key[0] <= heap[0][0]  # on a tie the run's head is older

    def _pop_earliest(self) -> tuple[T, I]:
        if self._run_is_first():
            self._run_key.popleft()
            tag = self._run_tag.popleft()
            item = self._run_item.popleft()
        else:
            _, _, tag, item = heapq.heappop(self._heap)
        self._reset_first()
        return tag, item

    def _reset_first(self) -> None:
        first = math.inf
        if self._run_key:
            first = self._run_key[0]
        if self._heap and self._heap[0][0] < first:
            first = self._heap[0][0]
        self.first = first
