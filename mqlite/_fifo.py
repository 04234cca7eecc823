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

    def admit(self, key: str, message_id: str, now: float) -> str | None:
        """Record *key* as sent now with *message_id*, unless it is a duplicate.

        Returns:
            ``None`` for a new key; for a key already sent inside the window, the id of
            the message first sent with it (the window is then left unchanged).

        Cost: O(1) amortised (a heap push of the newest expiry is O(1) typical).
        """
        expiries, seen = self._expiries, self._seen
        if expiries and expiries[0][0] <= now:
            self._expire(now)
        hit = seen.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        until = now + self.window
        seen[key] = (message_id, until)
        heapq.heappush(expiries, (until, key))
        return None

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
