"""The FIFO deduplication window: deduplication ids seen in the last 5 minutes.

The window is a dict from key to the message id first sent with it, plus the keys in
expiry order in a :class:`~mqlite._runheap.RunHeap`. Expiries are ``now + window``, so
they arrive in order and go in its run (O(1), and no object allocated per key for the
garbage collector to track); an expiry earlier than the run's last (the clock was set
back) goes in its heap. A send checks and records its key in O(1) amortised, whatever the window
holds: expired keys are dropped from the fronts as time passes, never by scanning.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._runheap import RunHeap

__all__ = ["DedupWindow"]


class DedupWindow:
    """Deduplication ids seen in the last *window* seconds, with the message id each kept."""

    def __init__(self, window: float) -> None:
        self.window = window
        seen: dict[str, str] = {}
        self._seen = seen

        def owns(message_id: str, key: str) -> bool:
            # Ids are unique, so an entry still owns its key only if the id matches.
            return seen.get(key) is message_id

        #: (expiry, message id, key), earliest expiry first.
        self._expiries: RunHeap[str, str] = RunHeap(owns)

    def admit(self, key: str, message_id: str, now: float) -> str | None:
        """Record *key* as sent now with *message_id*, unless it is a duplicate.

        Returns:
            ``None`` for a new key; for a key already sent inside the window, the id of
            the message first sent with it (the window is then left unchanged).

        Cost: O(1) amortised.
        """
        seen = self._seen
        if self._expiries.first <= now:
            self.expire(now)
        original = seen.get(key)
        if original is not None:
            return original
        seen[key] = message_id
        self._expiries.push(now + self.window, message_id, key)
        return None

    @property
    def next_expiry(self) -> float:
        """When the earliest key leaves the window (infinity when none). Cost: O(1)."""
        return self._expiries.first

    def expire(self, now: float) -> None:
        """Forget every key whose window ended by *now*: once time has passed it, a key
        stays forgotten even if the clock is later set back. Cost: O(1) amortised."""
        seen = self._seen
        expiries = self._expiries
        while expiries.first <= now:  # one pop per key due, no extra call to find none
            expired = expiries.pop_due(now)
            if expired is not None:
                del seen[expired]

    def expire_keys(self, now: float) -> list[str]:
        """As :meth:`expire`, returning the keys forgotten (for a store kept in step).
        Cost: O(1) amortised per key forgotten."""
        seen = self._seen
        expiries = self._expiries
        gone: list[str] = []
        while expiries.first <= now:
            expired = expiries.pop_due(now)
            if expired is not None:
                del seen[expired]
                gone.append(expired)
        return gone

    def restore(self, key: str, message_id: str, expiry: float) -> None:
        """Put back a key recorded before a restart, expiring at *expiry*. Cost: O(1)
        in expiry order, O(log n) otherwise."""
        self._seen[key] = message_id
        self._expiries.push(expiry, message_id, key)

    def message_ids(self) -> Iterable[str]:
        """The message ids of every key in the window. Cost: O(1) (a view)."""
        return self._seen.values()

    def clear(self) -> None:
        """Forget every key (a purge does this)."""
        self._seen.clear()
        self._expiries.clear()

    def __len__(self) -> int:
        return len(self._seen)
