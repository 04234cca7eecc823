"""Hidden records (delayed or in flight) ordered by the deadline that makes them ready.

Deadlines mostly arrive in order: they are ``now + timeout`` with the same timeout for
most messages. Those go in a *run*: parallel deques of deadline, order, ticket and record,
appended at the right and taken from the left in O(1), with no object allocated per
entry (the garbage collector sees nothing new, which matters at a million messages). A
deadline earlier than the run's last goes in a heap of tuples instead. The earliest entry
is the smaller of the two heads, compared by (deadline, order): ties keep push order.

Entries are removed lazily, like every structure of the core: an entry is live while its
ticket equals its record's ticket, and stale entries are skipped when they surface or
dropped by :meth:`Deadlines.compact`.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._state import Record

__all__ = ["Deadlines"]


class Deadlines:
    """Hidden records, earliest deadline first. See the module docstring."""

    __slots__ = ("_heap", "_order", "_run_order", "_run_rec", "_run_ticket", "_run_until", "first")

    def __init__(self) -> None:
        self._run_until: deque[float] = deque()
        self._run_order: deque[int] = deque()
        self._run_ticket: deque[int] = deque()
        self._run_rec: deque[Record] = deque()
        self._heap: list[tuple[float, int, int, Record]] = []
        self._order = 0
        #: The earliest deadline held, live or stale (``inf`` when empty): ``first > now``
        #: tells the caller in one comparison that nothing is due.
        self.first = math.inf

    def __len__(self) -> int:
        """Entries held, live or stale."""
        return len(self._run_until) + len(self._heap)

    def push(self, until: float, rec: Record) -> None:
        """Hold *rec* until *until*, under its current ticket. Cost: O(1), or O(log n)."""
        self._order += 1
        run_until = self._run_until
        if not run_until or run_until[-1] <= until:
            run_until.append(until)
            self._run_order.append(self._order)
            self._run_ticket.append(rec.ticket)
            self._run_rec.append(rec)
        else:
            heapq.heappush(self._heap, (until, self._order, rec.ticket, rec))
        if until < self.first:
            self.first = until

    def pop_due(self, now: float) -> Record | None:
        """Take the earliest live record whose deadline is at or before *now*, if any.

        Cost: O(1) from the run, O(log n) from the heap; stale entries on the way are
        dropped (amortised O(1) each).
        """
        while self.first <= now:
            rec, ticket = self._pop_earliest()
            if ticket == rec.ticket:
                return rec
        return None

    def earliest(self) -> float | None:
        """The earliest live deadline, or ``None``. Cost: amortised O(1)."""
        while self.first != math.inf:
            if self._run_is_first():
                ticket, rec = self._run_ticket[0], self._run_rec[0]
            else:
                _, _, ticket, rec = self._heap[0]
            if ticket == rec.ticket:
                return self.first
            self._pop_earliest()
        return None

    def live(self) -> Iterator[Record]:
        """Every record with a live entry. Cost: O(n) — for invariant checks."""
        for ticket, rec in zip(self._run_ticket, self._run_rec, strict=True):
            if ticket == rec.ticket:
                yield rec
        for _, _, ticket, rec in self._heap:
            if ticket == rec.ticket:
                yield rec

    def compact(self) -> None:
        """Drop every stale entry. Cost: O(n)."""
        keep = [
            entry
            for entry in zip(
                self._run_until, self._run_order, self._run_ticket, self._run_rec, strict=True
            )
            if entry[2] == entry[3].ticket
        ]
        self._run_until = deque(e[0] for e in keep)
        self._run_order = deque(e[1] for e in keep)
        self._run_ticket = deque(e[2] for e in keep)
        self._run_rec = deque(e[3] for e in keep)
        self._heap = [e for e in self._heap if e[2] == e[3].ticket]
        heapq.heapify(self._heap)
        self._reset_first()

    # --- internals ---------------------------------------------------------------------------

    def _run_is_first(self) -> bool:
        heap = self._heap
        if not self._run_until:
            return False
        if not heap:
            return True
        return (self._run_until[0], self._run_order[0]) < (heap[0][0], heap[0][1])

    def _pop_earliest(self) -> tuple[Record, int]:
        if self._run_is_first():
            self._run_until.popleft()
            self._run_order.popleft()
            ticket = self._run_ticket.popleft()
            rec = self._run_rec.popleft()
        else:
            _, _, ticket, rec = heapq.heappop(self._heap)
        self._reset_first()
        return rec, ticket

    def _reset_first(self) -> None:
        first = math.inf
        if self._run_until:
            first = self._run_until[0]
        if self._heap and self._heap[0][0] < first:
            first = self._heap[0][0]
        self.first = first
