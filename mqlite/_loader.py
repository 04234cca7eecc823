"""The loader: rebuilds a queue's :class:`~mqlite._state.QueueState` (a
:class:`~mqlite._journal.JournaledState`) from its rows when a durable queue or broker
opens, fast enough for a million messages.

The commonest row (a standard queue's ready message, never received) is read with a few
columns and built in bulk by :meth:`QueueState.load_fresh`; every other row with all its
columns through :func:`~mqlite._state.stored_record`. The garbage collector pauses during
a load, and a large one ends with ``gc.freeze()`` (docs/durability.md says why).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import closing

from ._attribute import Attribute
from ._journal import _SEQ_BITS, decode_attributes
from ._state import DELAYED, IN_FLIGHT, READY, QueueState, Record, stored_record
from ._store import Store

__all__ = ["FREEZE_AT", "load_state"]

# The commonest stored shape: a standard queue's message that is ready, was never received
# and has no group, deduplication id or dead-letter source. Those rows are read with 8
# columns and built in bulk (QueueState.load_fresh); the rest with every column.
_PLAIN = (
    "st=0 AND rc=0 AND inh=0 AND dl IS NULL AND frm IS NULL AND ra=0"
    " AND gid IS NULL AND did IS NULL AND sn IS NULL AND dls IS NULL AND dlsa IS NULL"
)
_SEQ_MASK = (1 << _SEQ_BITS) - 1
_STATES = frozenset((READY, DELAYED, IN_FLIGHT))
#: After loading this many messages, :func:`load_state` calls :func:`gc.freeze`.
FREEZE_AT = 100_000
# Distinct attribute texts remembered during one load.
_DECODED_KEPT = 4096


def _decoder() -> Callable[[str], dict[str, Attribute]]:
    """Attribute texts to dicts, for one load. Many messages carry the same attributes:
    each distinct text is decoded once (the Attribute values are frozen and shared; each
    record still gets a dict of its own, as a send gives it)."""
    known: dict[str, dict[str, Attribute]] = {}

    def decode(text: str) -> dict[str, Attribute]:
        attributes = known.get(text)
        if attributes is None:
            attributes = decode_attributes(text)
            if len(known) < _DECODED_KEPT:
                known[text] = attributes
        return dict(attributes)

    return decode


_SELECT_PLAIN = (
    f"SELECT id & {_SEQ_MASK}, enq, sent, mid, body, mb, attrs, ma FROM messages"
    f" WHERE id BETWEEN ? AND ? AND {_PLAIN} ORDER BY id"
)
_SELECT_OTHERS = (
    f"SELECT id & {_SEQ_MASK}, st, dl, rc, inh, frm, ra, enq, sent, mid, body, mb, attrs, ma,"
    f" gid, did, sn, dls, dlsa FROM messages WHERE id BETWEEN ? AND ?"
    f" AND NOT ({_PLAIN}) ORDER BY id"
)


def load_state(state: QueueState, store: Store, qid: int, now: float) -> None:
    """Fill the empty *state* with queue *qid*'s rows from *store*, as it was stored.

    The garbage collector is paused meanwhile: every record made here is alive at the end,
    and collections would walk the growing heap again and again (a third to half of the
    time at a million messages). After a large load (:data:`FREEZE_AT` messages or more)
    it calls :func:`gc.freeze`, so later collections skip what exists by then.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        loaded = _load(state, store, qid, now)
        if loaded >= FREEZE_AT:
            # Move everything loaded out of the collector's reach: otherwise the next
            # collections walk every record again (half a second per million, as pauses
            # in the first calls after opening).
            gc.freeze()
    finally:
        if enabled:
            gc.enable()


def _load(state: QueueState, store: Store, qid: int, now: float) -> int:
    conn = store.conn
    row = conn.execute(
        "SELECT seq, sequence, last_purge, sent, received, deleted FROM queues WHERE id=?", (qid,)
    ).fetchone()
    seq, sequence, last_purge, sent, received, deleted = row
    lo = qid << _SEQ_BITS
    hi = lo | _SEQ_MASK
    decode = _decoder()
    # A FIFO queue's messages all have a group: none is of the plain shape.
    fresh = 0
    if not state.fifo:
        # Closed even when a row fails to decode: a statement left open keeps the
        # connection (and its WAL file) from closing with the refused file.
        with closing(conn.execute(_SELECT_PLAIN, (lo, hi))) as plain:
            fresh = state.load_fresh(plain, decode)
    count: int = conn.execute(
        "SELECT count(*) FROM messages WHERE id BETWEEN ? AND ?", (lo, hi)
    ).fetchone()[0]
    records: list[tuple[Record, float | None, int]] = []
    if count > fresh:
        append = records.append
        with closing(conn.execute(_SELECT_OTHERS, (lo, hi))) as others:
            for (
                rseq,
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
            ) in others:
                if st not in _STATES or (st != READY and dl is None):
                    raise ValueError(f"message {rseq} is stored with state {st!r}, deadline {dl!r}")
                rec = stored_record(
                    rseq,
                    st,
                    rc,
                    frm,
                    ra,
                    enq,
                    sent_ms,
                    mid,
                    body,
                    mb,
                    {} if attrs_text is None else decode(attrs_text),
                    ma,
                    gid,
                    did,
                    sn,
                    dls,
                    dlsa,
                )
                append((rec, dl, inh))
    dedup = conn.execute(
        "SELECT key, value, expiry FROM dedup WHERE q=? AND expiry>? ORDER BY expiry", (qid, now)
    ).fetchall()
    turns = dict(conn.execute("SELECT gid, turn FROM groups WHERE q=?", (qid,)).fetchall())
    hides = {
        rid & (hi - lo): turn
        for rid, turn in conn.execute(
            "SELECT id, turn FROM hides WHERE id BETWEEN ? AND ?", (lo, hi)
        )
    }
    state.load(
        records,
        dedup,
        turns=turns,
        hides=hides,
        seq=seq,
        sequence=int(sequence),
        last_purge=last_purge,
        totals=(sent, received, deleted),
    )
    return count
