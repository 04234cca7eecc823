"""The per-queue change recorder: a :class:`QueueState` that writes each state change to its
:class:`~mqlite._store.Store`, and the loader that rebuilds one from the file.

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
from typing import Any

from ._attribute import Attribute
from ._state import DEDUP_WINDOW, DELAYED, READY, QueueState, Record
from ._store import RESERVE, Store, dumps

__all__ = ["JournaledState", "encode_attributes", "load_state"]

_SEQ_BITS = 44

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
    for name, v in json.loads(text).items():
        out[name] = Attribute(v[0], v[1] if v[1] is not None else base64.b64decode(v[2]))
    return out


class JournaledState(QueueState):
    """A :class:`QueueState` whose every change is appended to *store* (queue id *qid*)."""

    def __init__(self, store: Store, qid: int, **kwargs: Any) -> None:
        self.store = store
        self.qid = qid
        self._base = qid << _SEQ_BITS
        self._adding = False
        super().__init__(**kwargs)
        # The reservations last written (none yet: the first message writes them).
        self._seq_mark = -1
        self._sequence_mark = -1
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
        if (
            plain
            and rec.state == READY
            and rec.group_id is not None
            and rec.deduplication_id is not None
            and rec.sequence_number is not None
        ):
            # A FIFO send: its ids and sequence number, nothing else.
            self.store.append(
                _INSERT_READY_FIFO,
                (
                    self._base | rec.seq,
                    rec.enqueued_at,
                    rec.sent_ms,
                    rec.message_id,
                    rec.body,
                    rec.md5_of_body,
                    rec.group_id,
                    rec.deduplication_id,
                    rec.sequence_number,
                ),
                self,
                force,
            )
            return
        if (
            plain
            and rec.group_id is None
            and rec.deduplication_id is None
            and rec.sequence_number is None
        ):
            if rec.state == READY:
                self.store.append(
                    _INSERT_READY,
                    (
                        self._base | rec.seq,
                        rec.enqueued_at,
                        rec.sent_ms,
                        rec.message_id,
                        rec.body,
                        rec.md5_of_body,
                    ),
                    self,
                    force,
                )
            else:
                self.store.append(
                    _INSERT_DELAYED,
                    (
                        self._base | rec.seq,
                        now + delay,
                        rec.enqueued_at,
                        rec.sent_ms,
                        rec.message_id,
                        rec.body,
                        rec.md5_of_body,
                    ),
                    self,
                    force,
                )
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
            self.store.append(_DELETE, (self._base | rec.seq,), self)

    def clear(self) -> None:
        super().clear()
        lo = self._base
        self.store.append(
            "DELETE FROM messages WHERE id BETWEEN ? AND ?", (lo, lo | ((1 << _SEQ_BITS) - 1))
        )
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

    def counters_row(self, final: bool) -> tuple[Any, ...]:
        """The queue's counters as a commit writes them: the reservations, or (*final*,
        at close) the exact values."""
        return (
            self._seq if final else self._seq_mark,
            str(self._sequence if final else self._sequence_mark),
            self._last_purge,
            self.sent,
            self.received,
            self.deleted,
            self.qid,
        )


def load_state(state: QueueState, store: Store, qid: int, now: float) -> None:
    """Fill the empty *state* with queue *qid*'s rows from *store*, as it was stored."""
    conn = store.conn
    row = conn.execute(
        "SELECT seq, sequence, last_purge, sent, received, deleted FROM queues WHERE id=?", (qid,)
    ).fetchone()
    seq, sequence, last_purge, sent, received, deleted = row
    lo = qid << _SEQ_BITS
    hi = lo | ((1 << _SEQ_BITS) - 1)
    records: list[tuple[Record, float | None, int]] = []
    for (
        rid,
        st,
        dl,
        rc,
        inh,
        frm,
        ra,
        enq,
        sent_ms,
        mid,
        body,
        mb,
        attrs_text,
        ma,
        gid,
        did,
        sn,
        dls,
        dlsa,
    ) in conn.execute("SELECT * FROM messages WHERE id BETWEEN ? AND ? ORDER BY id", (lo, hi)):
        rec = Record(
            rid & (hi - lo),
            mid,
            body,
            mb,
            {} if attrs_text is None else decode_attributes(attrs_text),
            ma,
            enq,
        )
        rec.state = st
        rec.sent_ms = sent_ms
        rec.receive_count = rc
        rec.first_receive_ms = frm
        rec.received_at = ra
        rec.group_id = gid
        rec.deduplication_id = did
        rec.sequence_number = sn
        rec.dead_letter_source = dls
        rec.dead_letter_source_arn = dlsa
        records.append((rec, dl, inh))
    dedup = conn.execute(
        "SELECT key, value, expiry FROM dedup WHERE q=? AND expiry>? ORDER BY expiry", (qid, now)
    ).fetchall()
    state.load(
        records,
        dedup,
        seq=max(seq, records[-1][0].seq if records else 0),
        sequence=int(sequence),
        last_purge=last_purge,
        totals=(sent, received, deleted),
    )
