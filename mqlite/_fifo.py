"""FIFO deduplication: the 5-minute window of deduplication ids.

The window is a dict from key to (message id, expiry) plus a min-heap of expiries, so a
send checks and records its key in O(1) amortised, whatever the window holds: expired
keys are dropped from the heap's front as time passes, never by scanning.
"""

from __future__ import annotations

import heapq

__all__ = ["DedupWindow"]


class DedupWindow:
    """Deduplication ids seen in the last *window* seconds, with the message id each kept."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._seen: dict[str, tuple[str, float]] = {}
        self._expiries: list[tuple[float, str]] = []

    def seen(self, key: str, now: float) -> str | None:
        """The message id first sent with *key* inside the window, or ``None``.

        Cost: O(1) amortised.
        """
        self._expire(now)
        hit = self._seen.get(key)
        if hit is None or hit[1] <= now:
            return None
        return hit[0]

    def add(self, key: str, message_id: str, now: float) -> None:
        """Record that *key* was sent now as *message_id*. Cost: O(log n), O(1) typical."""
        until = now + self.window
        self._seen[key] = (message_id, until)
        heapq.heappush(self._expiries, (until, key))

    def clear(self) -> None:
        """Forget every key (a purge does this)."""
        self._seen.clear()
        self._expiries.clear()

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: float) -> None:
        expiries, seen = self._expiries, self._seen
        while expiries and expiries[0][0] <= now:
            until, key = heapq.heappop(expiries)
            hit = seen.get(key)
            if hit is not None and hit[1] == until:
                del seen[key]
