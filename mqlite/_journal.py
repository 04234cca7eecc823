"""The per-queue change recorder: a :class:`QueueState` that writes each state change to its
:class:`~mqlite._store.Store` (``mqlite._loader`` rebuilds one from the file).

:class:`JournaledState` overrides exactly the places the core's module docstring lists
(``_add``, ``_send_fifo``, ``_start_flight``, ``_hide``, ``_set_visibility``,
``_make_ready``, ``_remove``, ``clear``): each calls the core, then appends one statement
with the record's new row. An in-memory queue uses the plain :class:`QueueState`, so
``path=None`` pays nothing.

A message is one row keyed by ``queue id << 44 | seq``: integer columns for its state,
deadline and counts, JSON only for attributes; a plain message (no attributes, group,
dedup id or history) binds only the columns it sets. The queue's counters are written as
``mqlite._store`` describes: reservations of ``seq`` and the FIFO ``sequence`` raised ahead
of use, totals now and then, exact values at close.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._attribute import Attribute
from ._dedup import DedupWindow
from ._state import (
    DEDUP_WINDOW,
    DELAYED,
    READY,
    TURN_SHIFT,
    QueueState,
    Record,
    Refusal,
    _Group,
)
from ._store import RESERVE, Store, dumps

__all__ = ["FifoJournaledState", "JournaledState", "decode_attributes", "encode_attributes"]

_SEQ_BITS = 44
_raw_decode = json.JSONDecoder().raw_decode

_INSERT = "INSERT OR REPLACE INTO messages VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
# The same row for a plain message, ready or delayed: every other column is NULL, 0 or
# 0.0. Binding fewer parameters is a measurable part of a lone send's commit (a bound
# None costs sqlite3 an adapter lookup).
_INSERT_READY = (
    "INSERT OR REPLACE INTO messages (id,st,dl,rc,inh,ra,enq,sent,mid,body,mb)"
    f" VALUES (?,{READY},NULL,0,0,0.0,?,?,?,?,?)"
)
_INSERT_DELAYED = (
    "INSERT OR REPLACE INTO messages (id,st,dl,rc,inh,ra,enq,sent,mid,body,mb)"
    f" VALUES (?,{DELAYED},?,0,0,0.0,?,?,?,?,?)"
)
_INSERT_READY_FIFO = (
    "INSERT OR REPLACE INTO messages (id,st,dl,rc,inh,ra,enq,sent,mid,body,mb,gid,did,sn)"
    f" VALUES (?,{READY},NULL,0,0,0.0,?,?,?,?,?,?,?,?)"
)
_UPDATE = "UPDATE messages SET st=?, dl=?, rc=?, frm=?, ra=? WHERE id=?"
_DELETE = "DELETE FROM messages WHERE id=?"
_COUNTERS = (
    "UPDATE queues SET seq=?, sequence=?, last_purge=?, sent=?, received=?, deleted=? WHERE id=?"
)
_TURN = "INSERT OR REPLACE INTO groups VALUES (?,?,?)"
_FREE = "DELETE FROM groups WHERE q=? AND gid=?"
_HIDE = "INSERT OR REPLACE INTO hides VALUES (?,?)"
_UNHIDE = "DELETE FROM hides WHERE id=?"
# Rows of freed groups and removed messages deleted together, this many at a time.
_STALE_BATCH = 64
_FORGET = "DELETE FROM dedup WHERE q=? AND key=?"


def encode_attributes(attributes: dict[str, Attribute]) -> str | None:
    """Attributes as compact JSON (``None`` when there are none); bytes in base64."""
    if not attributes:
        return None
    return dumps(
        {
            name: [a.data_type, a.value]
            if isinstance(a.value, str)
            else [a.data_type, None, base64.b64encode(a.value).decode()]
            for name, a in attributes.items()
        }
    )


def decode_attributes(text: str | None) -> dict[str, Attribute]:
    """The inverse of :func:`encode_attributes`."""
    if text is None:
        return {}
    out: dict[str, Attribute] = {}
    # raw_decode: the text is the compact JSON encode_attributes wrote, so loads' type and
    # whitespace checks are not needed (a reopen decodes every attribute-carrying row).
    for name, v in _raw_decode(text)[0].items():
        out[name] = Attribute(v[0], v[1] if v[1] is not None else base64.b64decode(v[2]))
    return out


class _StoredWindow(DedupWindow):
    """A FIFO queue's dedup window whose keys leave the file as they leave memory: each
    key forgotten appends its row's delete, in the commit of the call that forgot it (so
    a clock set back later, or a kill, never brings it back)."""

    def __init__(self, window: float, store: Store, qid: int) -> None:
        super().__init__(window)
        self._store = store
        self._qid = qid

    def expire(self, now: float) -> None:
        for key in self.expire_keys(now):
            self._store.append(_FORGET, (self._qid, key))


class JournaledState(QueueState):
    """A :class:`QueueState` whose every change is appended to *store* (queue id *qid*)."""

    def __init__(self, store: Store, qid: int, **kwargs: Any) -> None:
        self.store = store
        self.qid = qid
        self._base = qid << _SEQ_BITS
        self._adding = False
        # Records removed during a receive or redrive take, their rows not yet dropped.
        self._held: list[Record] | None = None
        super().__init__(**kwargs)
        self._dedup = _StoredWindow(self._dedup.window, store, qid)
        # The reservations last written: a commit may write them before any message (a
        # purge, totals), so they start at the counters themselves, never below.
        self._seq_mark = self._seq
        self._sequence_mark = self._sequence
        # The purge time a commit may write: set once the purge's deletes are appended.
        # Another queue's commit writes this queue's counters without this queue's lock,
        # and must not store a purge time ahead of the purge (a kill would then refuse
        # purges for 60 s over messages the purge never deleted).
        self._purge_mark: float | None = None
        store.register(self)

    # --- hooks ------------------------------------------------------------------------------

    def _add(self, rec: Record, now: float, delay: float) -> None:
        self._adding = True
        try:
            super()._add(rec, now, delay)
        finally:
            self._adding = False
        force = False
        if self._seq > self._seq_mark or self._sequence > self._sequence_mark:
            # Raised before the message is appended, so the commit that stores it (or
            # an earlier one) stores the new reservation.
            self._seq_mark = self._seq + RESERVE
            self._sequence_mark = self._sequence + RESERVE
            force = True
        inherited = self._inherited.get(rec.seq, 0)
        plain = (
            not rec.attributes
            and rec.receive_count == 0
            and rec.first_receive_ms is None
            and rec.received_at == 0.0
            and rec.dead_letter_source is None
            and rec.dead_letter_source_arn is None
            and rec.md5_of_attributes is None
            and not inherited
        )
        if plain:
            key = self._base | rec.seq
            # The columns every plain row sets, after its key (and deadline, if delayed).
            common = (rec.enqueued_at, rec.sent_ms, rec.message_id, rec.body, rec.md5_of_body)
            ids = (rec.group_id, rec.deduplication_id, rec.sequence_number)
            if rec.state == READY and None not in ids:
                # A FIFO send: its ids and sequence number, nothing else.
                self.store.append(_INSERT_READY_FIFO, (key, *common, *ids), self, force)
                return
            if ids == (None, None, None):
                if rec.state == READY:
                    self.store.append(_INSERT_READY, (key, *common), self, force)
                else:
                    self.store.append(_INSERT_DELAYED, (key, now + delay, *common), self, force)
                return
        self.store.append(
            _INSERT,
            (
                self._base | rec.seq,
                rec.state,
                now + delay if rec.state == DELAYED else None,
                rec.receive_count,
                inherited,
                rec.first_receive_ms,
                rec.received_at,
                rec.enqueued_at,
                rec.sent_ms,
                rec.message_id,
                rec.body,
                rec.md5_of_body,
                encode_attributes(rec.attributes),
                rec.md5_of_attributes,
                rec.group_id,
                rec.deduplication_id,
                rec.sequence_number,
                rec.dead_letter_source,
                rec.dead_letter_source_arn,
            ),
            self,
            force,
        )

    def _send_fifo(self, now: float, message_id: str, *args: Any) -> Any:
        seq = self._seq
        result = super()._send_fifo(now, message_id, *args)
        if self._seq != seq:  # stored, not a duplicate: its key entered the window
            group_id, dedup_id = args[4], args[5]
            key = f"{group_id}\x00{dedup_id}" if self.dedup_per_group else dedup_id
            self.store.append(
                "INSERT OR REPLACE INTO dedup VALUES (?,?,?,?)",
                (self.qid, key, f"{message_id} {result.sequence_number}", now + DEDUP_WINDOW),
            )
        return result

    def _start_flight(
        self, rec: Record, now: float, now_ms: int, visibility_timeout: float
    ) -> None:
        super()._start_flight(rec, now, now_ms, visibility_timeout)
        self._update(rec, now + visibility_timeout)

    def _hide(self, rec: Record, until: float) -> None:
        super()._hide(rec, until)
        if not self._adding:
            self._update(rec, until)

    def _make_ready(self, rec: Record) -> None:
        super()._make_ready(rec)
        self._update(rec, None)

    def _remove(self, rec: Record, *, prune: bool = True) -> None:
        live = rec.seq in self._live
        super()._remove(rec, prune=prune)
        if live:
            held = self._held
            if held is not None:
                held.append(rec)
            else:
                self.store.append(_DELETE, (self._base | rec.seq,), self)

    # A message this queue hands to another (a dead letter, a redrive) keeps its row until
    # the other queue's row is appended: another thread's commit in between must never
    # store the removal alone, or a kill then would lose the message (a kill after both
    # leaves it in both, never in neither). The shell calls forget() once it is handed over.

    def receive(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`QueueState.receive`; the rows of its dead letters stay until
        :meth:`forget`."""
        held: list[Record] = []
        self._held = held
        try:
            result = super().receive(*args, **kwargs)
        finally:
            self._held = None
        self._release(held, () if isinstance(result, Refusal) else result[1])
        return result

    def take_for_redrive(self, *args: Any, **kwargs: Any) -> list[Record]:
        """:meth:`QueueState.take_for_redrive`; the rows of what it takes stay until
        :meth:`forget`."""
        held: list[Record] = []
        self._held = held
        try:
            taken = super().take_for_redrive(*args, **kwargs)
        finally:
            self._held = None
        self._release(held, taken)
        return taken

    def _release(self, held: list[Record], handed: Sequence[Record]) -> None:
        keep = {id(rec) for rec in handed}
        for rec in held:
            if id(rec) not in keep:  # expired meanwhile: gone for good now
                self.store.append(_DELETE, (self._base | rec.seq,), self)

    def forget(self, records: Sequence[Record]) -> None:
        """Drop the rows of *records*, handed to another queue (whose rows are appended)."""
        for rec in records:
            self.store.append(_DELETE, (self._base | rec.seq,), self)

    def clear(self) -> None:
        super().clear()
        lo = self._base
        mask = (1 << _SEQ_BITS) - 1
        self.store.append("DELETE FROM messages WHERE id BETWEEN ? AND ?", (lo, lo | mask))
        self._purge_mark = self._last_purge  # any commit from now on holds the deletes
        # The purge time must survive a kill (one purge per 60 s): counters now.
        self.store.append("DELETE FROM dedup WHERE q=?", (self.qid,), self, True)

    def _update(self, rec: Record, deadline: float | None) -> None:
        self.store.append(
            _UPDATE,
            (
                rec.state,
                deadline,
                rec.receive_count,
                rec.first_receive_ms,
                rec.received_at,
                self._base | rec.seq,
            ),
            self,
        )

    def load(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`QueueState.load`; the loaded counters are the reservations in force (a
        commit before the next message writes them back, not less)."""
        super().load(*args, **kwargs)
        self._seq_mark = self._seq
        self._sequence_mark = self._sequence
        self._purge_mark = self._last_purge

    def counters_row(self, final: bool) -> tuple[Any, ...]:
        """The queue's counters as a commit writes them: the reservations, or (*final*,
        at close) the exact values."""
        return (
            self._seq if final else self._seq_mark,
            str(self._sequence if final else self._sequence_mark),
            self._purge_mark,
            self.sent,
            self.received,
            self.deleted,
            self.qid,
        )


class FifoJournaledState(JournaledState):
    """A FIFO queue's :class:`JournaledState`, which also stores the order it serves its
    groups in, so a reopened queue serves them as it would have without the reopen.

    Two orders are stored. A group's *turn* is its place in the ready list: each join
    takes a larger one, and the loader offers groups by turn. A join made by the send that
    creates the group (the common case) writes nothing: its turn is implied, the
    message's seq shifted by :data:`~mqlite._state.TURN_SHIFT` (the key of a group
    without a row is its head's), and every stored turn is at least the seq of the last
    message sent when it was given, so it sorts after those implied before it. A group
    whose head leaves while it waits in line (retention, a redrive) keeps its place: if
    its turn was implied it is stored then. A freed group's row is deleted with it (most
    groups have none). Messages hidden until the same instant come back in the order
    they were hidden in, which decides which group comes first: each hide's order is
    stored per message (table ``hides``; a receive writes its rows in one batch, and rows
    of removed messages are deleted in batches).
    """

    def __init__(self, store: Store, qid: int, **kwargs: Any) -> None:
        #: The last group turn given (see the class docstring).
        self._turn = 0
        #: The last hide order given.
        self._hide_turn = 0
        self._loading = False
        # During a receive: its hide rows, appended together at its end.
        self._receiving: list[tuple[int, int]] | None = None
        # Groups with a stored turn; messages with a hides row, and rows of removed ones
        # still to delete.
        self._turned: set[str] = set()
        self._hide_rows: set[int] = set()
        self._stale_hides: list[int] = []
        super().__init__(store, qid, **kwargs)

    def receive(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`QueueState.receive`, writing its messages' hide order in one batch."""
        rows: list[tuple[int, int]] = []
        self._receiving = rows
        try:
            return super().receive(*args, **kwargs)
        finally:
            self._receiving = None
            append = self.store.append
            for row in rows:
                append(_HIDE, row)

    def _start_flight(
        self, rec: Record, now: float, now_ms: int, visibility_timeout: float
    ) -> None:
        super()._start_flight(rec, now, now_ms, visibility_timeout)
        self._hidden_in_order(rec)

    def _hide(self, rec: Record, until: float) -> None:
        super()._hide(rec, until)
        self._hidden_in_order(rec)

    def _hidden_in_order(self, rec: Record) -> None:
        if self._loading:
            return
        self._hide_turn += 1
        row = (self._base | rec.seq, self._hide_turn)
        self._hide_rows.add(rec.seq)
        if self._receiving is not None:
            self._receiving.append(row)
        else:
            self.store.append(_HIDE, row)

    def _remove(self, rec: Record, *, prune: bool = True) -> None:
        if rec.seq in self._hide_rows:
            self._hide_rows.discard(rec.seq)
            self._stale_hides.append(self._base | rec.seq)
            if len(self._stale_hides) >= _STALE_BATCH:
                self._drop_stale()
        group = rec.group
        if (
            group is not None
            and group.queued
            and group.group_id not in self._turned
            and len(group.messages) > 1
            and group.messages[0] is rec
        ):
            # The head of a group waiting in line leaves (retention, a redrive) and the
            # group keeps its place: store the turn its head implied.
            self._turned.add(group.group_id)
            self.store.append(_TURN, (self.qid, group.group_id, rec.seq << TURN_SHIFT))
        super()._remove(rec, prune=prune)

    def _offer_group(self, group: _Group | None) -> None:
        if group is None:
            return
        queued = group.queued
        freeing = not group.messages and self._groups.get(group.group_id) is group
        super()._offer_group(group)
        if self._loading:
            return
        if group.queued and not queued:
            implied = self._seq << TURN_SHIFT
            if self._adding and self._turn < implied:
                # The send that made the group: its turn is implied by the message's seq.
                self._turn = implied
                return
            self._turn = max(self._turn + 1, implied)
            self._turned.add(group.group_id)
            self.store.append(_TURN, (self.qid, group.group_id, self._turn))
        elif freeing and group.group_id in self._turned:
            self._turned.discard(group.group_id)
            self.store.append(_FREE, (self.qid, group.group_id))

    def _drop_stale(self) -> None:
        append = self.store.append
        for seq_id in self._stale_hides:
            append(_UNHIDE, (seq_id,))
        self._stale_hides = []

    def clear(self) -> None:
        super().clear()
        lo = self._base
        self.store.append("DELETE FROM groups WHERE q=?", (self.qid,))
        self.store.append(
            "DELETE FROM hides WHERE id BETWEEN ? AND ?", (lo, lo | ((1 << _SEQ_BITS) - 1))
        )
        self._turned.clear()
        self._hide_rows.clear()
        self._stale_hides = []

    def load(
        self,
        *args: Any,
        turns: Mapping[str, int] | None = None,
        hides: Mapping[int, int] | None = None,
        **kwargs: Any,
    ) -> None:
        """:meth:`QueueState.load` with the stored group *turns* and *hides* orders; rows
        the file no longer needs are deleted."""
        turns = turns or {}
        hides = hides or {}
        self._loading = True
        try:
            super().load(*args, turns=turns, hides=hides, **kwargs)
        finally:
            self._loading = False
        self._turn = max(max(turns.values(), default=0), self._seq << TURN_SHIFT)
        self._hide_turn = max(hides.values(), default=0)
        live = self._live
        self._hide_rows = {seq for seq in hides if seq in live}
        self._stale_hides = [self._base | seq for seq in hides if seq not in live]
        if self._stale_hides:
            self._drop_stale()
        self._turned = set()
        for group_id in turns:
            if group_id in self._groups:
                self._turned.add(group_id)
            else:  # left by an older build: its group is gone
                self.store.append(_FREE, (self.qid, group_id))
