"""FIFO deduplication: the 5-minute window of deduplication ids.

The window is a dict from key to the message id first sent with it, plus the keys in
expiry order. Expiries are ``now + window``, so they arrive in order and go in a *run*
of parallel deques (O(1), and no object allocated per key for the garbage collector to
track); an expiry earlier than the run's last (the clock was set back) goes in a heap
beside it. A send checks and records its key in O(1) amortised, whatever the window
holds: expired keys are dropped from the fronts as time passes, never by scanning.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable

__all__ = ["DedupWindow"]


class DedupWindow:
    """Deduplication ids seen in the last *window* seconds, with the message id each kept."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._seen: dict[str, str] = {}
        self._run_until: deque[float] = deque()
        self._run_key: deque[str] = deque()
        self._run_id: deque[str] = deque()
        self._late: list[tuple[float, str, str]] = []

    def admit(self, key: str, message_id: str, now: float) -> str | None:
        """Record *key* as sent now with *message_id*, unless it is a duplicate.

        Returns:
            ``None`` for a new key; for a key already sent inside the window, the id of
            the message first sent with it (the window is then left unchanged).

        Cost: O(1) amortised.
        """
        run_until = self._run_until
        if (run_until and run_until[0] <= now) or (self._late and self._late[0][0] <= now):
            self._expire(now)
        original = self._seen.get(key)
        if original is not None:
            return original
        self._seen[key] = message_id
        until = now + self.window
        if not run_until or run_until[-1] <= until:
            run_until.append(until)
            self._run_key.append(key)
            self._run_id.append(message_id)
        else:
            heapq.heappush(self._late, (until, key, message_id))
        return None

    def message_ids(self) -> Iterable[str]:
        """The message ids of every key in the window. Cost: O(1) (a view)."""
        return self._seen.values()

    def clear(self) -> None:
        """Forget every key (a purge does this)."""
        self._seen.clear()
        self._run_until.clear()
        self._run_key.clear()
        self._run_id.clear()
        self._late.clear()

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: float) -> None:
        seen = self._seen
        run_until, run_key, run_id = self._run_until, self._run_key, self._run_id
        while run_until and run_until[0] <= now:
            run_until.popleft()
            key, message_id = run_key.popleft(), run_id.popleft()
            # Ids are unique, so this entry still owns the key only if the id matches.
            if seen.get(key) is message_id:
                del seen[key]
        late = self._late
        while late and late[0][0] <= now:
            _, key, message_id = heapq.heappop(late)
            if seen.get(key) is message_id:
                del seen[key]
