"""FilterIndex: every subscription whose filter policy matches a message, without testing
each policy in turn.

Design
------

The idea is event-ruler's: compile all policies of a topic into shared lookup structures
keyed by field path and value, walk the *message* once, and let the structures say which
policies it satisfies. Unmatched policies then cost nothing at publish time.

Each policy is a handful of *branches* (its ``$or`` alternatives; see mqlite.filters). A
path of a branch is **selective** when every condition in its list is one that can be
looked up by value — exact string, number, ``true``/``false``/``null``, prefix, suffix,
equals-ignore-case, numeric range, CIDR — and **deferred** otherwise (its list holds an
``anything-but`` or an ``exists``, which almost any value satisfies, so indexing them would
make every message touch every such policy).

* Selective paths are filed per scope and path in a :class:`_PathIndex`:
  hash maps ``value -> branches`` for exact strings, numbers and literals; prefixes and
  suffixes in hash maps per length (a value of length *n* is looked up once per distinct
  pattern length <= *n*); equals-ignore-case in a hash map on a case-insensitive key
  (candidates are then checked exactly); CIDR networks in hash maps per mask length (the
  value's address is masked once per distinct mask length); numeric ranges in a segment
  tree over their sorted end points (a stabbing query costs O(log n + hits)).
* A branch with at least one selective path is **anchored**: it is filed under one of
  them only, the one fewest other branches share (a per-(path, value) popularity count,
  plus a guess at how broad the condition is), and re-anchored when that value becomes
  popular. A message that satisfies the anchor makes the branch a *candidate*; only then
  are its other paths — selective or deferred — tested directly. This is the Python
  counterpart of event-ruler walking each rule's fields in order: a value many rules
  share (``"type": ["order"]``) is reached only through the rarer field next to it, so it
  does not make every message touch every rule that names it.
* A branch with no selective path is **unanchored**. Its paths are filed per path and
  checked, and counted, when the message has that path (or, for ``exists: false``, when
  it lacks it); the branch fires when all its paths count. Almost every such check
  succeeds, so this cost follows the matches.
* For the ``MessageBody`` scope, a firing branch whose values came through JSON arrays on
  two or more of its paths is re-checked by the branch itself, which enforces array
  consistency.

So one ``match`` costs O(fields of the message the index knows about, times their values,
times distinct pattern lengths) + O(candidates) — not O(policies).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Mapping
from typing import Any

from ._attribute import Attribute
from ._conditions import (
    SELECTIVE_KINDS,
    Cidr,
    Condition,
    ExactNumber,
    ExactString,
    Exists,
    IgnoreCase,
    JsonLiteral,
    NumericRange,
    Prefix,
    Suffix,
    ignore_case_key,
    parse_ip,
)
from ._fields import Field, Fields, attribute_fields, body_fields, parse_body
from .filters import MESSAGE_ATTRIBUTES, MESSAGE_BODY, Branch, FilterPolicy, path_satisfied

__all__ = ["FilterIndex"]


def _add(table: dict[Any, set[int]], key: Any, branch_id: int) -> None:
    bucket = table.get(key)
    if bucket is None:
        table[key] = {branch_id}
    else:
        bucket.add(branch_id)


def _discard(table: dict[Any, set[int]], key: Any, branch_id: int) -> None:
    bucket = table.get(key)
    if bucket is not None:
        bucket.discard(branch_id)
        if not bucket:
            del table[key]


class _RangeIndex:
    """Numeric ranges of one path: which contain a number?

    A segment tree over the *slots* the sorted end points cut the number line into (each
    end point is a slot, and so is each open gap between neighbours); a range is filed
    at the O(log n) tree nodes covering its slots, and a number's slot is found by
    bisection, so a query costs O(log n + hits). Ranges whose end points are not in the
    tree yet wait in a short pending list, scanned linearly, until there are more than
    about √n of them; then the tree is rebuilt (O(n log n), amortised over √n additions).
    """

    __slots__ = ("_bounds", "_in_tree", "_pending", "_pending_count", "_size", "_total", "_tree")

    def __init__(self) -> None:
        self._bounds: list[float] = []
        self._size = 1
        self._tree: dict[int, set[int]] = {}
        self._in_tree: dict[int, list[NumericRange]] = {}
        self._pending: dict[int, list[NumericRange]] = {}
        self._pending_count = 0
        self._total = 0

    def __len__(self) -> int:
        return self._total

    def add(self, branch_id: int, condition: NumericRange) -> None:
        """File a range. Cost: O(log n), or O(1) while it waits for a rebuild."""
        self._total += 1
        if self._known(condition.low) and self._known(condition.high):
            self._in_tree.setdefault(branch_id, []).append(condition)
            self._update(condition, branch_id, add=True)
        else:
            self._pending.setdefault(branch_id, []).append(condition)
            self._pending_count += 1

    def remove(self, branch_id: int) -> None:
        """Forget every range of a branch. Cost: O(k log n) for its k ranges."""
        for condition in self._in_tree.pop(branch_id, ()):
            self._update(condition, branch_id, add=False)
            self._total -= 1
        pending = self._pending.pop(branch_id, ())
        self._pending_count -= len(pending)
        self._total -= len(pending)

    def stab(self, value: float, out: set[int]) -> None:
        """Add to *out* the branches with a range containing *value*.

        Cost: O(log n + hits + pending).
        """
        if self._pending_count > 4 + math.isqrt(self._total):
            self._rebuild()
        tree = self._tree
        if tree:
            at = self._slot(value) + self._size
            while at:
                bucket = tree.get(at)
                if bucket:
                    out |= bucket
                at >>= 1
        if self._pending_count:
            for branch_id, conditions in self._pending.items():
                for condition in conditions:
                    if condition.test(value):
                        out.add(branch_id)
                        break

    def _known(self, bound: float) -> bool:
        at = bisect.bisect_left(self._bounds, bound)
        return at < len(self._bounds) and self._bounds[at] == bound

    def _slot(self, value: float) -> int:
        at = bisect.bisect_left(self._bounds, value)
        if at < len(self._bounds) and self._bounds[at] == value:
            return 2 * at + 1
        return 2 * at

    def _update(self, condition: NumericRange, branch_id: int, *, add: bool) -> None:
        bounds = self._bounds
        low = 2 * bisect.bisect_left(bounds, condition.low) + (2 if condition.low_open else 1)
        high = 2 * bisect.bisect_left(bounds, condition.high) + (0 if condition.high_open else 1)
        left, right = low + self._size, high + self._size + 1
        tree = self._tree
        while left < right:
            if left & 1:
                (_add if add else _discard)(tree, left, branch_id)
                left += 1
            if right & 1:
                right -= 1
                (_add if add else _discard)(tree, right, branch_id)
            left >>= 1
            right >>= 1

    def _rebuild(self) -> None:
        every: dict[int, list[NumericRange]] = {}
        for table in (self._in_tree, self._pending):
            for branch_id, conditions in table.items():
                every.setdefault(branch_id, []).extend(conditions)
        bounds = {c.low for conditions in every.values() for c in conditions}
        bounds.update(c.high for conditions in every.values() for c in conditions)
        self._bounds = sorted(bounds)
        slots = 2 * len(self._bounds) + 1
        self._size = 1 << (slots - 1).bit_length()
        self._tree = {}
        self._in_tree = every
        self._pending = {}
        self._pending_count = 0
        for branch_id, conditions in every.items():
            for condition in conditions:
                self._update(condition, branch_id, add=True)

    def check_invariants(self) -> None:
        """Assert the invariants (for tests)."""
        assert self._pending_count == sum(len(c) for c in self._pending.values())
        assert self._total == self._pending_count + sum(len(c) for c in self._in_tree.values())
        filed = {branch_id for bucket in self._tree.values() for branch_id in bucket}
        assert filed <= set(self._in_tree), "a removed branch is still in the tree"
        assert all(self._tree.values()), "empty tree node kept"
        for conditions in self._in_tree.values():
            for condition in conditions:
                assert self._known(condition.low)
                assert self._known(condition.high)


class _LengthTable:
    """Prefixes (or suffixes) of one path, in one hash map per pattern length."""

    __slots__ = ("by_length", "lengths")

    def __init__(self) -> None:
        self.by_length: dict[int, dict[str, set[int]]] = {}
        self.lengths: list[int] = []

    def add(self, pattern: str, branch_id: int) -> None:
        size = len(pattern)
        table = self.by_length.get(size)
        if table is None:
            table = self.by_length[size] = {}
            bisect.insort(self.lengths, size)
        _add(table, pattern, branch_id)

    def discard(self, pattern: str, branch_id: int) -> None:
        size = len(pattern)
        table = self.by_length.get(size)
        if table is None:
            return
        _discard(table, pattern, branch_id)
        if not table:
            del self.by_length[size]
            self.lengths.remove(size)


class _PathIndex:
    """The selective conditions every anchored branch puts on one path."""

    __slots__ = (
        "ignore_case",
        "ip_masks",
        "ips",
        "literals",
        "numbers",
        "patterns",
        "prefixes",
        "ranges",
        "strings",
        "suffixes",
    )

    def __init__(self) -> None:
        self.strings: dict[str, set[int]] = {}
        self.numbers: dict[float, set[int]] = {}
        self.literals: dict[str, set[int]] = {}
        self.prefixes = _LengthTable()
        self.suffixes = _LengthTable()
        self.ignore_case: dict[str, dict[int, list[IgnoreCase]]] = {}
        self.ips: dict[tuple[int, int], dict[int, set[int]]] = {}
        self.ip_masks: list[tuple[int, int]] = []
        self.ranges: _RangeIndex | None = None
        # Whether a string value needs more than the exact-string lookup: kept up to date
        # by add and discard, so that the commonest index (exact strings only) costs one
        # hash lookup per value.
        self.patterns = False

    def _has_patterns(self) -> bool:
        return bool(
            self.prefixes.lengths or self.suffixes.lengths or self.ignore_case or self.ip_masks
        )

    def is_empty(self) -> bool:
        return not (
            self.strings
            or self.numbers
            or self.literals
            or self.prefixes.lengths
            or self.suffixes.lengths
            or self.ignore_case
            or self.ips
            or self.ranges
        )

    def add(self, condition: Condition, branch_id: int) -> None:
        """File one selective condition. Cost: O(1) amortised (O(log n) for ranges)."""
        if isinstance(condition, ExactString):
            _add(self.strings, condition.value, branch_id)
            if condition.ip is not None:
                bits, address = condition.ip
                self._add_ip(bits, bits, address, branch_id)
        elif isinstance(condition, ExactNumber):
            _add(self.numbers, condition.value, branch_id)
        elif isinstance(condition, JsonLiteral):
            _add(self.literals, _literal_key(condition.value), branch_id)
        elif isinstance(condition, Prefix):
            self.prefixes.add(condition.value, branch_id)
        elif isinstance(condition, Suffix):
            self.suffixes.add(condition.value, branch_id)
        elif isinstance(condition, IgnoreCase):
            bucket = self.ignore_case.setdefault(condition.key, {})
            bucket.setdefault(branch_id, []).append(condition)
        elif isinstance(condition, Cidr):
            self._add_ip(condition.bits, condition.mask, condition.network, branch_id)
        elif isinstance(condition, NumericRange):
            if self.ranges is None:
                self.ranges = _RangeIndex()
            self.ranges.add(branch_id, condition)
        else:  # pragma: no cover - guarded by SELECTIVE_KINDS
            raise TypeError(f"not a selective condition: {condition!r}")
        self.patterns = self._has_patterns()

    def discard(self, condition: Condition, branch_id: int) -> None:
        """Unfile one condition of a branch being removed (ranges go all at once)."""
        if isinstance(condition, ExactString):
            _discard(self.strings, condition.value, branch_id)
            if condition.ip is not None:
                bits, address = condition.ip
                self._discard_ip(bits, bits, address, branch_id)
        elif isinstance(condition, ExactNumber):
            _discard(self.numbers, condition.value, branch_id)
        elif isinstance(condition, JsonLiteral):
            _discard(self.literals, _literal_key(condition.value), branch_id)
        elif isinstance(condition, Prefix):
            self.prefixes.discard(condition.value, branch_id)
        elif isinstance(condition, Suffix):
            self.suffixes.discard(condition.value, branch_id)
        elif isinstance(condition, IgnoreCase):
            bucket = self.ignore_case.get(condition.key)
            if bucket is not None:
                bucket.pop(branch_id, None)
                if not bucket:
                    del self.ignore_case[condition.key]
        elif isinstance(condition, Cidr):
            self._discard_ip(condition.bits, condition.mask, condition.network, branch_id)
        elif isinstance(condition, NumericRange) and self.ranges is not None:
            self.ranges.remove(branch_id)
            if not len(self.ranges):
                self.ranges = None
        self.patterns = self._has_patterns()

    def _add_ip(self, bits: int, mask: int, network: int, branch_id: int) -> None:
        table = self.ips.get((bits, mask))
        if table is None:
            table = self.ips[(bits, mask)] = {}
            self.ip_masks = sorted(self.ips)
        _add(table, network, branch_id)

    def _discard_ip(self, bits: int, mask: int, network: int, branch_id: int) -> None:
        table = self.ips.get((bits, mask))
        if table is None:
            return
        _discard(table, network, branch_id)
        if not table:
            del self.ips[(bits, mask)]
            self.ip_masks = sorted(self.ips)

    def lookup(self, values: list[Any], out: set[int]) -> None:
        """Add to *out* the branches one of *values* satisfies at this path.

        Cost per value: O(1) hash lookups for exact values and literals, one per distinct
        prefix/suffix length and CIDR mask length, O(log n + hits) for ranges.
        """
        for value in values:
            kind = type(value)
            if kind is str:
                bucket = self.strings.get(value)
                if bucket:
                    out |= bucket
                if self.patterns:
                    self._lookup_patterns(value, out)
            elif kind is float:
                bucket = self.numbers.get(value)
                if bucket:
                    out |= bucket
                if self.ranges is not None:
                    self.ranges.stab(value, out)
            elif self.literals:
                bucket = self.literals.get(_literal_key(value))
                if bucket:
                    out |= bucket

    def _lookup_patterns(self, value: str, out: set[int]) -> None:
        # Everything but the exact match: prefixes, suffixes, equals-ignore-case, CIDR.
        size = len(value)
        prefixes = self.prefixes
        for length in prefixes.lengths:
            if length > size:
                break
            bucket = prefixes.by_length[length].get(value[:length])
            if bucket:
                out |= bucket
        suffixes = self.suffixes
        for length in suffixes.lengths:
            if length > size:
                break
            bucket = suffixes.by_length[length].get(value[size - length :])
            if bucket:
                out |= bucket
        if self.ignore_case:
            candidates = self.ignore_case.get(ignore_case_key(value))
            if candidates:
                for branch_id, conditions in candidates.items():
                    if any(condition.test(value) for condition in conditions):
                        out.add(branch_id)
        if self.ip_masks:
            ip = parse_ip(value)
            if ip is not None:
                bits, address = ip
                for table_bits, mask in self.ip_masks:
                    if table_bits == bits:
                        bucket = self.ips[(bits, mask)].get(address >> (bits - mask))
                        if bucket:
                            out |= bucket


def _literal_key(value: bool | None) -> str:
    # True == 1 == 1.0 in a dict, so literals get keys of their own.
    return "null" if value is None else ("true" if value else "false")


def _condition_key(path: str, condition: Condition) -> tuple[Any, ...]:
    """What makes two selective conditions fire for the same values (popularity key)."""
    if isinstance(condition, ExactString):
        return (path, "string", condition.value)
    if isinstance(condition, ExactNumber):
        return (path, "number", condition.value)
    if isinstance(condition, JsonLiteral):
        return (path, "literal", _literal_key(condition.value))
    if isinstance(condition, Prefix):
        return (path, "prefix", condition.value)
    if isinstance(condition, Suffix):
        return (path, "suffix", condition.value)
    if isinstance(condition, IgnoreCase):
        return (path, "ignore-case", condition.key)
    if isinstance(condition, Cidr):
        return (path, "cidr", condition.bits, condition.mask, condition.network)
    assert isinstance(condition, NumericRange)
    return (path, "range", condition.low, condition.low_open, condition.high, condition.high_open)


def _breadth(condition: Condition) -> int:
    """A rough guess of how many values a condition accepts beyond its exact twins: exact
    values none, patterns and ranges more, empty patterns and half-lines many."""
    if isinstance(condition, (Prefix, Suffix)):
        return 1 if condition.value else 64
    if isinstance(condition, Cidr):
        return 1 + (condition.bits - condition.mask)
    if isinstance(condition, NumericRange):
        return 2 if math.isfinite(condition.low) and math.isfinite(condition.high) else 16
    if isinstance(condition, JsonLiteral):
        return 4
    return 0


class _Slot:
    """One branch as filed in the index.

    An anchored branch (one with a selective path) is filed under one *anchor* path only:
    the selective path fewest other branches share (see _ScopeIndex._choose). A message
    that satisfies the anchor makes the branch a candidate, and ``checks`` (every other
    path) are then tested directly. An unanchored branch is filed under all its paths.
    """

    __slots__ = ("anchor", "branch", "checks", "entry", "key", "selective", "seq")

    def __init__(self, entry: _Entry, branch: Branch) -> None:
        self.entry = entry
        # The entry's seq and key, copied: match reads them for every candidate.
        self.seq = entry.seq
        self.key = entry.key
        self.branch = branch
        self.selective = [
            (path, conditions)
            for path, conditions in branch.items
            if all(condition.kind in SELECTIVE_KINDS for condition in conditions)
        ]
        self.anchor: str | None = None
        self.checks: list[tuple[str, tuple[Condition, ...]]] = list(branch.items)


class _Entry:
    """One policy in the index: its key, its position, its branches' ids."""

    __slots__ = ("branch_ids", "key", "policy", "seq")

    def __init__(self, key: Hashable, seq: int, policy: FilterPolicy) -> None:
        self.key = key
        self.seq = seq
        self.policy = policy
        self.branch_ids: list[int] = []


class _ScopeIndex:
    """Everything filed for one scope (MessageAttributes or MessageBody).

    Anchors: when a branch arrives, each of its selective conditions adds one to the
    *popularity* of its (path, value) key, and the branch is anchored on the path whose
    conditions are least popular (plus a guess at how broad they are). Popularity keeps
    growing as branches arrive, so whenever a key's popularity reaches a power of two the
    branches anchored on it are reconsidered; each branch is thus reconsidered O(log n)
    times, and no value many branches share stays the anchor of many of them (unless every
    path of theirs is as common, in which case they are all partial matches anyway).
    """

    __slots__ = (
        "absent",
        "anchored_on",
        "body",
        "by_path",
        "loose",
        "paths",
        "popularity",
        "prefixes",
        "slots",
    )

    def __init__(self, body: bool) -> None:
        self.body = body
        self.slots: dict[int, _Slot] = {}
        self.by_path: dict[str, _PathIndex] = {}
        self.popularity: dict[tuple[Any, ...], int] = {}
        self.anchored_on: dict[tuple[Any, ...], set[int]] = {}
        # Unanchored branches: conditions checked when the path is present ...
        self.loose: dict[str, dict[int, tuple[Condition, ...]]] = {}
        # ... and branches that a missing path satisfies (exists: false).
        self.absent: dict[str, set[int]] = {}
        # Reference counts of every path (and, for bodies, every dotted prefix) in use.
        self.paths: dict[str, int] = {}
        self.prefixes: dict[str, int] = {}

    def add(self, branch_id: int, slot: _Slot) -> None:
        """File one branch. Cost: O(size of the branch), amortised."""
        self.slots[branch_id] = slot
        for path, _ in slot.branch.items:
            self._count_path(path, 1)
        if not slot.selective:
            for path, conditions in slot.branch.items:
                self.loose.setdefault(path, {})[branch_id] = conditions
                if any(isinstance(c, Exists) and not c.value for c in conditions):
                    _add(self.absent, path, branch_id)
            return
        crowded = []
        for path, conditions in slot.selective:
            for condition in conditions:
                key = _condition_key(path, condition)
                count = self.popularity.get(key, 0) + 1
                self.popularity[key] = count
                if count >= 4 and count & (count - 1) == 0:
                    crowded.append(key)
        self._anchor(branch_id, slot, self._choose(slot))
        for key in crowded:
            for other in list(self.anchored_on.get(key, ())):
                other_slot = self.slots[other]
                best = self._choose(other_slot)
                if best != other_slot.anchor:
                    self._unanchor(other, other_slot)
                    self._anchor(other, other_slot, best)

    def remove(self, branch_id: int) -> None:
        """Unfile one branch. Cost: O(size of the branch)."""
        slot = self.slots.pop(branch_id)
        for path, _ in slot.branch.items:
            self._count_path(path, -1)
        if not slot.selective:
            for path, _ in slot.branch.items:
                loose = self.loose[path]
                del loose[branch_id]
                if not loose:
                    del self.loose[path]
                _discard(self.absent, path, branch_id)
            return
        self._unanchor(branch_id, slot)
        for path, conditions in slot.selective:
            for condition in conditions:
                key = _condition_key(path, condition)
                count = self.popularity[key] - 1
                if count:
                    self.popularity[key] = count
                else:
                    del self.popularity[key]

    def _choose(self, slot: _Slot) -> str:
        popularity = self.popularity
        best_path, best_cost = "", -1
        for path, conditions in slot.selective:
            cost = sum(popularity.get(_condition_key(path, c), 0) + _breadth(c) for c in conditions)
            if best_cost < 0 or cost < best_cost:
                best_path, best_cost = path, cost
        return best_path

    def _anchor(self, branch_id: int, slot: _Slot, path: str) -> None:
        conditions = dict(slot.selective)[path]
        slot.anchor = path
        slot.checks = [item for item in slot.branch.items if item[0] != path]
        index = self.by_path.get(path)
        if index is None:
            index = self.by_path[path] = _PathIndex()
        for condition in conditions:
            index.add(condition, branch_id)
            _add(self.anchored_on, _condition_key(path, condition), branch_id)

    def _unanchor(self, branch_id: int, slot: _Slot) -> None:
        path = slot.anchor
        assert path is not None
        index = self.by_path[path]
        for condition in dict(slot.selective)[path]:
            index.discard(condition, branch_id)
            _discard(self.anchored_on, _condition_key(path, condition), branch_id)
        if index.is_empty():
            del self.by_path[path]
        slot.anchor = None
        slot.checks = list(slot.branch.items)

    def _count_path(self, path: str, delta: int) -> None:
        names = [path]
        if self.body:
            at = path.find(".")
            while at != -1:
                names.append(path[:at])
                at = path.find(".", at + 1)
        for table, keys in ((self.paths, names[:1]), (self.prefixes, names)):
            for key in keys:
                count = table.get(key, 0) + delta
                if count:
                    table[key] = count
                else:
                    del table[key]

    def collect(self, fields: Fields, found: dict[int, Hashable]) -> None:
        """Add to *found* (seq -> key) the policies whose branches *fields* satisfy.

        Cost: O(lookups for the fields' values) + O(candidates * their other paths).
        """
        candidates: set[int] = set()
        counts: dict[int, int] = {}
        by_path = fields.by_path
        indexes = self.by_path
        loose_paths = self.loose
        for path, field in by_path.items():
            index = indexes.get(path)
            if index is not None:
                index.lookup(field.values, candidates)
            loose = loose_paths.get(path)
            if loose is not None:
                for branch_id, conditions in loose.items():
                    if path_satisfied(conditions, field):
                        counts[branch_id] = counts.get(branch_id, 0) + 1
        for path, branch_ids in self.absent.items():
            if path not in by_path:
                for branch_id in branch_ids:
                    counts[branch_id] = counts.get(branch_id, 0) + 1
        slots = self.slots
        # Only values that came through arrays can need the array-consistency check.
        arrays = fields.arrays
        for branch_id in candidates:
            slot = slots[branch_id]
            if slot.seq in found:
                continue
            for path, conditions in slot.checks:
                if not path_satisfied(conditions, by_path.get(path)):
                    break
            else:
                if not arrays or self._consistent(slot, fields):
                    found[slot.seq] = slot.key
        if not counts:
            return
        if not fields.has_input():
            return  # the empty-input rule: nothing for all-absent branches to go on
        for branch_id, count in counts.items():
            slot = slots[branch_id]
            if (
                count == len(slot.checks)
                and slot.seq not in found
                and (not arrays or self._consistent(slot, fields))
            ):
                found[slot.seq] = slot.key

    @staticmethod
    def _consistent(slot: _Slot, fields: Fields) -> bool:
        # Values from different elements of one array must not be combined; only a body
        # with arrays on two or more of the branch's paths needs the full check.
        return not _through_arrays(slot.branch, fields.by_path) or slot.branch.matches(fields)


def _through_arrays(branch: Branch, by_path: dict[str, Field]) -> bool:
    count = 0
    for path, _ in branch.items:
        field = by_path.get(path)
        if field is not None and field.arrays is not None:
            count += 1
    return count > 1


class FilterIndex:
    """The filter policies of one topic's subscriptions, indexed for fast matching.

    Policies of both scopes live together: a message's attributes feed the
    ``MessageAttributes`` policies, its body the ``MessageBody`` ones. Keys are any
    hashable values (a topic uses its subscriptions). Not thread-safe: the owner holds a
    lock around it.

    ``match`` finds every matching policy through hash maps and sorted structures keyed by
    path and value (see the module docstring), so its cost grows with the message's fields
    and the number of partly matching policies, not with the number of policies.
    """

    __slots__ = ("_entries", "_next_branch", "_next_seq", "_scopes")

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}
        self._next_seq = 0
        self._next_branch = 0
        self._scopes = {
            MESSAGE_ATTRIBUTES: _ScopeIndex(body=False),
            MESSAGE_BODY: _ScopeIndex(body=True),
        }

    def __len__(self) -> int:
        """How many policies are indexed."""
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """Whether a policy is indexed under *key*."""
        return key in self._entries

    def get(self, key: Hashable) -> FilterPolicy | None:
        """The policy indexed under *key*, or None."""
        entry = self._entries.get(key)
        return None if entry is None else entry.policy

    def add(self, key: Hashable, policy: FilterPolicy) -> None:
        """Index *policy* under *key*.

        A key already present has its policy replaced and keeps its place in the order.
        Cost: O(size of the policy) amortised (branches anchored on a value that grows
        popular are moved, O(log n) times each over their life), plus O(log n) per
        numeric range.
        """
        old = self._entries.get(key)
        if old is not None:
            self._unfile(old)
            seq = old.seq
        else:
            seq = self._next_seq
            self._next_seq += 1
        entry = _Entry(key, seq, policy)
        scope = self._scopes[policy.scope]
        for branch in policy.branches:
            branch_id = self._next_branch
            self._next_branch += 1
            entry.branch_ids.append(branch_id)
            scope.add(branch_id, _Slot(entry, branch))
        self._entries[key] = entry

    def remove(self, key: Hashable) -> None:
        """Forget the policy indexed under *key*.

        Cost: O(size of the policy), plus O(log n) per numeric range.

        Raises:
            KeyError: nothing is indexed under *key*.
        """
        self._unfile(self._entries.pop(key))

    def _unfile(self, entry: _Entry) -> None:
        scope = self._scopes[entry.policy.scope]
        for branch_id in entry.branch_ids:
            scope.remove(branch_id)

    def match(
        self, *, attributes: Mapping[str, Attribute] | None = None, body: str | None = None
    ) -> list[Hashable]:
        """The keys of every policy the message satisfies, in the order they were added.

        *attributes* feed ``MessageAttributes`` policies and *body* (parsed once, and only
        if a ``MessageBody`` policy is indexed) feeds ``MessageBody`` policies; either may
        be None.

        Cost: O(size of the attributes, or of the parts of the body some policy names)
        plus, per field value, O(1) hash lookups (one per distinct prefix/suffix/mask
        length) and O(log n) for numeric ranges, plus the checks of each candidate (a
        branch whose anchor the message satisfies) and O(m log m) to order the m matches.
        It does not grow with the number of policies.
        """
        found: dict[int, Hashable] = {}
        attribute_scope = self._scopes[MESSAGE_ATTRIBUTES]
        if attribute_scope.slots and attributes:
            fields = attribute_fields(attributes, attribute_scope.paths)
            if fields.has_input():
                attribute_scope.collect(fields, found)
        body_scope = self._scopes[MESSAGE_BODY]
        if body_scope.slots and body is not None:
            root = parse_body(body)
            if root is not None:
                body_scope.collect(body_fields(root, body_scope.paths, body_scope.prefixes), found)
        if len(found) < 2:
            return list(found.values())
        return list(map(found.__getitem__, sorted(found)))

    def check_invariants(self) -> None:
        """Assert the index's invariants (for tests): every branch of every entry is filed
        where its anchor says, popularity counts are exact, and nothing else is filed."""
        expected: set[int] = set()
        for key, entry in self._entries.items():
            assert entry.key == key
            scope = self._scopes[entry.policy.scope]
            assert len(entry.branch_ids) == len(entry.policy.branches)
            for branch_id in entry.branch_ids:
                slot = scope.slots[branch_id]
                assert slot.entry is entry
                assert (slot.seq, slot.key) == (entry.seq, entry.key)
                expected.add(branch_id)
        filed = {branch_id for scope in self._scopes.values() for branch_id in scope.slots}
        assert filed == expected, "stray or missing branches"
        for scope in self._scopes.values():
            used: dict[str, int] = {}
            popularity: dict[tuple[Any, ...], int] = {}
            anchored_on: dict[tuple[Any, ...], set[int]] = {}
            for branch_id, slot in scope.slots.items():
                for path, _ in slot.branch.items:
                    used[path] = used.get(path, 0) + 1
                for path, conditions in slot.selective:
                    for condition in conditions:
                        key = _condition_key(path, condition)
                        popularity[key] = popularity.get(key, 0) + 1
                        if path == slot.anchor:
                            anchored_on.setdefault(key, set()).add(branch_id)
                if slot.selective:
                    assert slot.anchor in dict(slot.selective)
                    assert scope.by_path[slot.anchor] is not None
                    assert [p for p, _ in slot.checks] == [
                        p for p, _ in slot.branch.items if p != slot.anchor
                    ]
                else:
                    assert slot.anchor is None
                    assert slot.checks == list(slot.branch.items)
            assert used == scope.paths
            assert popularity == scope.popularity
            assert anchored_on == scope.anchored_on
            for path, index in scope.by_path.items():
                assert not index.is_empty(), f"empty path index kept for {path!r}"
                assert index.patterns == index._has_patterns(), path
                if index.ranges is not None:
                    index.ranges.check_invariants()
            for path, loose in scope.loose.items():
                for branch_id in loose:
                    assert not scope.slots[branch_id].selective, path
            for path, branch_ids in scope.absent.items():
                assert branch_ids <= set(scope.loose.get(path, {})), path
