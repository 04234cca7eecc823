"""The pure queue core: every message's state and every rule SQS applies to it, with no
locks and no clock.

Theory of operation
===================

The core is a state machine driven by the :class:`~mqlite.Queue` shell, which adds only
the lock, waiting, reading the clock and turning refusals into errors. Each operation
takes ``now``, first applies what is due by then (:meth:`QueueState.advance`), then
applies its rule and returns a value: a result, or a :class:`Refusal` naming why nothing
changed. The core holds no ``Queue``: a dead letter names its source by an opaque token.

Every state change happens in one place, so that a journal can follow them:

=============================  =============================================
change                         where
=============================  =============================================
enqueue (send, dead letter,    ``_add`` (dead letters and give-backs through
give-back)                     ``_copy``, which says what a copy keeps)
FIFO dedup, sequence numbers   ``_send_fifo``
receive: new count, deadline   ``_start_flight``
change visibility              ``_set_visibility``
ready again (delay or          ``advance`` → ``_make_ready``
visibility ended)
delete, expire, move to DLQ,   ``_remove`` (called by ``delete``, ``advance``,
redrive                        ``receive`` and ``take_for_redrive``)
purge (and queue deletion)     ``clear``
=============================  =============================================

A message lives in exactly one of four states, and each state has the structure that
makes its next transition cheap:

* READY — may be received now. Standard queues keep ready messages in send order in two
  places: ``_fresh``, a deque of messages that became ready in send order (new sends, the
  common case: O(1) in and out), and ``_returned``, a heap keyed by send sequence for
  messages that became ready *again* (visibility or delay ended), so a message that comes
  back keeps its original place in the order. Receive takes the smaller head of the two.
  FIFO queues instead keep every live message in its group's deque (send order) and a
  ready list of groups whose head message is READY (see "FIFO" below).
* DELAYED / IN_FLIGHT — hidden until a deadline. Both live in ``_hidden``, a priority
  queue keyed by (deadline, order) that takes in-order deadlines in O(1) without
  allocating (a :class:`~mqlite._runheap.RunHeap`). Advancing time pops what is due and
  makes it READY.
* GONE — deleted, expired, purged or moved to a dead-letter queue.

The standard ready order is the one "in-order run plus late heap" not held in a
:class:`~mqlite._runheap.RunHeap`, on purpose: it is the hottest path (every message
sent and received goes through it), and a RunHeap there costs about 0.3 µs more per
message — three parallel deques to push to and pop from, and a liveness call per entry —
some 4 % of the whole send + receive + delete cycle. ``_fresh`` needs neither a key (a
record's sequence number is its key) nor a tag (its entries are live exactly while the
record's ticket is 0), so it is one deque of bare records, tested by the same model tests.

Nothing is ever searched for. Entries are removed lazily: each record carries a
``ticket`` that changes on every state change, and each heap/deque entry remembers the
ticket it was pushed with; an entry whose ticket is stale is skipped when it surfaces.
(``_fresh`` entries are always pushed at ticket 0, so they are bare records.)
When stale entries outnumber live ones a structure is rebuilt, so memory stays
proportional to the live messages and the cost stays amortised O(1) per operation.

Retention is ordered by enqueue time: since the period applies to all messages alike,
lowering it needs no re-keying. New messages arrive in enqueue order, so ``_expiry`` is
also a :class:`~mqlite._runheap.RunHeap`: they go in its run (O(1)); the rare message
enqueued earlier than the newest one (a dead letter keeps its original time) goes in its
heap.

Records are found by the sequence number encoded in their receipt handle (``_live``), so
delete and change-visibility are dict lookups plus at most one heap push: O(log n).

:meth:`QueueState.advance` is the only place time moves messages between states. The
core reads no clock: the shell reads its clock once per call and passes that ``now`` to
the operation, which advances to it first, so each queue call sees one instant.

FIFO
----
A group's deque holds its live messages in send order, whatever their state. A group is
receivable when its head is READY; it then sits (once) in ``_ready_groups``. Receive walks
that list, visiting each group at most once per call, and takes consecutive READY
messages from the head, stopping at the first message that is not READY. A group with an
in-flight head is therefore blocked, and it re-enters the ready list when its head is
deleted, expires, moves to a dead-letter queue, or becomes visible again. Deleted
messages in the middle of a group are dropped lazily when they reach the head.

A group is freed the moment its last message leaves, whatever removed it (delete,
retention, purge, a move to a dead-letter queue, a redrive): ``_groups`` holds only
non-empty groups. A freed group still in the ready list stays there as a stale entry
(empty, so a receive skips it) until the list is rebuilt, which happens once stale
entries outnumber live ones by the slack.

Counts (visible, in flight, delayed) are kept as integers and updated on every
transition, so ``stats`` is O(1) after ``advance``.
"""

from __future__ import annotations

import enum
import heapq
import operator
import re
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator, Mapping

from ._attribute import Attribute
from ._dedup import DedupWindow
from ._runheap import RunHeap
from ._send import PreparedSend
from .message import Message, QueueStats, SendResult

__all__ = [
    "DEDUP_WINDOW",
    "DELAYED",
    "FIRST_SEQUENCE_NUMBER",
    "GONE",
    "IN_FLIGHT",
    "MAX_VISIBILITY",
    "PURGE_INTERVAL",
    "READY",
    "TURN_SHIFT",
    "QueueState",
    "Record",
    "Refusal",
    "stored_record",
]

#: The longest a message stays hidden after the receive that issued its handle (12 hours).
MAX_VISIBILITY = 43_200
#: Seconds between two purges of one queue.
PURGE_INTERVAL = 60
#: Seconds a FIFO deduplication id is remembered.
DEDUP_WINDOW = 300
#: FIFO sequence numbers start above this (SQS's are 20 digits).
FIRST_SEQUENCE_NUMBER = 18_000_000_000_000_000_000

READY = 0
DELAYED = 1
IN_FLIGHT = 2
GONE = 3

_new_tuple = tuple.__new__
_first = operator.itemgetter(0)
#: A stored FIFO group without a stored turn has its head's seq shifted by this much
#: (see ``mqlite._journal.FifoJournaledState``).
TURN_SHIFT = 19

# A receipt handle is the queue's prefix and one hex number: the record's sequence number
# above the receive count that issued it (48 bits: more receives of one message than a
# process can make), so decoding an older handle is a single int().
_COUNT_BITS = 48
_COUNT_MASK = (1 << _COUNT_BITS) - 1
# The number part of a receipt handle, as issued: lowercase hex, no leading zero.
_HANDLE_NUMBER = re.compile("[1-9a-f][0-9a-f]*")

#: Rebuild a lazily-pruned structure once it holds this many more entries than live ones.
#: Both constants are read when a :class:`QueueState` is made, so a test can shrink them
#: (``COMPACT_SLACK = 0``, ``COMPACT_EVERY = 1``) to make every rebuild run.
COMPACT_SLACK = 1024
#: Look at the sizes every this many removals (a power of two): off the hot path, and the
#: slack makes up for the delay.
COMPACT_EVERY = 256


def _ticket_matches(ticket: int, rec: Record) -> bool:
    # A deadline entry is live while the record keeps the ticket it was pushed with.
    return ticket == rec.ticket


def _not_gone(_: int, rec: Record) -> bool:
    # A record keeps its one expiry entry, whatever its state, until it is gone.
    return rec.state != GONE


class Record:
    """One message inside a queue, with its mutable delivery state."""

    __slots__ = (
        "attributes",
        "body",
        "dead_letter_source",
        "dead_letter_source_arn",
        "deduplication_id",
        "enqueued_at",
        "first_receive_ms",
        "group",
        "group_id",
        "handle",
        "md5_of_attributes",
        "md5_of_body",
        "message_id",
        "receive_count",
        "received_at",
        "sent_ms",
        "seq",
        "sequence_number",
        "state",
        "ticket",
    )

    def __init__(
        self,
        seq: int,
        message_id: str,
        body: str,
        md5_of_body: str,
        attributes: dict[str, Attribute],
        md5_of_attributes: str | None,
        enqueued_at: float,
    ) -> None:
        self.seq = seq
        self.message_id = message_id
        self.body = body
        self.md5_of_body = md5_of_body
        self.attributes = attributes
        self.md5_of_attributes = md5_of_attributes
        #: When it was sent (epoch ms): its enqueue time, unless it is a copy.
        self.sent_ms = int(enqueued_at * 1000)
        self.enqueued_at = enqueued_at
        self.state = READY
        self.ticket = 0
        self.receive_count = 0
        #: When it was first received (epoch ms); ``None`` until then (0 is a real time).
        self.first_receive_ms: int | None = None
        self.received_at = 0.0
        self.group: _Group | None = None
        self.group_id: str | None = None
        #: The receipt handle of the latest receive (``None`` before the first).
        self.handle: str | None = None
        self.deduplication_id: str | None = None
        self.sequence_number: str | None = None
        self.dead_letter_source_arn: str | None = None
        #: The token of the queue this message came from as a dead letter (for redrive).
        self.dead_letter_source: str | None = None

    def to_message(self, receipt_handle: str | None) -> Message:
        """A frozen snapshot of this record, as ``receive`` and ``peek`` return it."""
        # tuple.__new__ skips the named tuple's argument handling: this runs per message.
        return _new_tuple(
            Message,
            (
                self.body,
                self.message_id,
                receipt_handle,
                self.md5_of_body,
                self.md5_of_attributes,
                self.attributes,
                self.receive_count,
                self.sent_ms,
                0 if self.first_receive_ms is None else self.first_receive_ms,
                self.group_id,
                self.deduplication_id,
                self.sequence_number,
                self.dead_letter_source_arn,
            ),
        )

    def __repr__(self) -> str:
        names = ("READY", "DELAYED", "IN_FLIGHT", "GONE")
        return f"<Record seq={self.seq} {names[self.state]} {self.body[:20]!r}>"


def stored_record(
    seq: int,
    state: int,
    receive_count: int,
    first_receive_ms: int | None,
    received_at: float,
    enqueued_at: float,
    sent_ms: int,
    message_id: str,
    body: str,
    md5_of_body: str,
    attributes: dict[str, Attribute],
    md5_of_attributes: str | None,
    group_id: str | None,
    deduplication_id: str | None,
    sequence_number: str | None,
    dead_letter_source: str | None,
    dead_letter_source_arn: str | None,
) -> Record:
    """A record of any shape as it was stored (no group link, ticket 0, no handle yet:
    :meth:`QueueState.load` sets those), built in one call."""
    rec: Record = object.__new__(Record)
    rec.seq = seq
    rec.message_id = message_id
    rec.body = body
    rec.md5_of_body = md5_of_body
    rec.attributes = attributes
    rec.md5_of_attributes = md5_of_attributes
    rec.sent_ms = sent_ms
    rec.enqueued_at = enqueued_at
    rec.state = state
    rec.ticket = 0
    rec.receive_count = receive_count
    rec.first_receive_ms = first_receive_ms
    rec.received_at = received_at
    rec.group = None
    rec.group_id = group_id
    rec.handle = None
    rec.deduplication_id = deduplication_id
    rec.sequence_number = sequence_number
    rec.dead_letter_source_arn = dead_letter_source_arn
    rec.dead_letter_source = dead_letter_source
    return rec


class Refusal(enum.Enum):
    """Why the core refused an operation (nothing changed); the shell raises the error."""

    #: The receipt handle was never issued by this queue.
    INVALID_HANDLE = "invalid handle"
    #: FIFO: the handle is not the current receive's, or its message is not in flight.
    EXPIRED_HANDLE = "expired handle"
    #: The message the handle names is gone (deleted, expired, moved).
    MESSAGE_GONE = "message gone"
    #: The change would hide the message past MAX_VISIBILITY from its receive.
    VISIBILITY_CAP = "visibility cap"
    #: The queue has max_in_flight messages in flight.
    IN_FLIGHT_LIMIT = "in-flight limit"
    #: The last purge was less than PURGE_INTERVAL ago.
    PURGE_IN_PROGRESS = "purge in progress"


class _Group:
    """One FIFO message group: its live messages in send order."""

    __slots__ = ("group_id", "messages", "queued")

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.messages: deque[Record] = deque()
        self.queued = False  # whether it sits in the ready list


class QueueState:
    """Messages and their states for one queue, and every rule SQS applies to them.

    Each operation takes ``now``, first applies what is due by then (:meth:`advance`),
    and returns a value — a result, or a :class:`Refusal` the shell turns into its
    error. See the module docstring.

    Not thread-safe: the owning :class:`~mqlite.Queue` serialises calls with its lock.
    """

    def __init__(
        self,
        *,
        fifo: bool,
        retention: float,
        handle_prefix: str,
        delay: float = 0,
        max_in_flight: int = 120_000,
        dedup_per_group: bool = False,
    ) -> None:
        self.fifo = fifo
        #: Settings the rules read; :meth:`configure` changes them.
        self.retention = retention
        self.delay = delay
        self.max_in_flight = max_in_flight
        self.dedup_per_group = dedup_per_group
        #: Starts every receipt handle this queue issues (unique to the queue object).
        self.handle_prefix = handle_prefix
        self._seq = 0
        self._removals = 0
        self._slack = COMPACT_SLACK
        if COMPACT_EVERY < 1 or COMPACT_EVERY & (COMPACT_EVERY - 1):
            raise ValueError(f"COMPACT_EVERY must be a power of two, got {COMPACT_EVERY}")
        self._compact_mask = COMPACT_EVERY - 1
        #: The last FIFO sequence number handed out (SQS's are 20 digits and only grow).
        self._sequence = FIRST_SEQUENCE_NUMBER
        self._dedup = DedupWindow(DEDUP_WINDOW)
        self._last_purge: float | None = None
        #: Running totals for monitoring: messages stored, received and deleted.
        self.sent = 0
        self.received = 0
        self.deleted = 0
        self._reset()

    def _reset(self) -> None:
        self.visible = 0
        self.in_flight = 0
        self.delayed = 0
        self._live: dict[int, Record] = {}
        #: Receive counts that live records brought from another queue (dead letters):
        #: handles with those counts were issued there, not here.
        self._inherited: dict[int, int] = {}
        #: The latest receipt handle of every live record received at least once: the
        #: in-flight index. Older handles (still valid on standard queues) are decoded.
        self._by_handle: dict[str, Record] = {}
        self._fresh: deque[Record] = deque()
        self._returned: list[tuple[int, int, Record]] = []
        self._hidden: RunHeap[int, Record] = RunHeap(_ticket_matches, slack=self._slack)
        self._expiry: RunHeap[int, Record] = RunHeap(_not_gone, slack=self._slack)
        self._groups: dict[str, _Group] = {}
        self._ready_groups: deque[_Group] = deque()
        #: Freed groups still in ``_ready_groups`` (dropped when they surface or on rebuild).
        self._stale_ready = 0

    def configure(
        self,
        now: float,
        *,
        retention: float,
        delay: float,
        max_in_flight: int,
        dedup_per_group: bool,
    ) -> None:
        """Apply new settings: a lower retention expires older messages at once, and a FIFO
        queue's new delay applies to messages still inside theirs. Cost: O(1), or O(n) when
        a FIFO queue's delay changes."""
        self.retention = retention
        self.max_in_flight = max_in_flight
        self.dedup_per_group = dedup_per_group
        if self.fifo and delay != self.delay:
            self._reschedule_delayed(now, delay)
        self.delay = delay
        self.advance(now)

    # --- sending -----------------------------------------------------------------------------

    def send(self, now: float, message_id: str, p: PreparedSend) -> SendResult:
        """Store a prepared send that passed this queue's checks, as *message_id*.

        ``p.delay`` None: the queue's delay. FIFO (``p`` carries both ids; its delay is
        ignored): a key already sent within the 5-minute window is accepted but not
        stored, and the result carries the original's message id and sequence number.

        Cost: O(1) typical; O(log n) when a deadline arrives out of order.
        """
        # advance, inlined to its test: most sends find nothing due.
        if self._expiry.first <= now - self.retention or self._hidden.first <= now:
            self.advance(now)
        body, md5_of_body, attributes, md5_of_attributes, _, delay, group_id, dedup_id, entry = p
        # Each message gets a dict of its own: a prepared send may go to many queues.
        attrs = dict(attributes) if attributes else {}
        if self.fifo:
            return self._send_fifo(
                now,
                message_id,
                body,
                md5_of_body,
                attrs,
                md5_of_attributes,
                group_id,  # type: ignore[arg-type]
                dedup_id,  # type: ignore[arg-type]
                entry,
            )
        self._seq += 1
        rec = Record(self._seq, message_id, body, md5_of_body, attrs, md5_of_attributes, now)
        rec.group_id = group_id
        self._add(rec, now, self.delay if delay is None else delay)
        self.sent += 1
        return _new_tuple(SendResult, (message_id, md5_of_body, md5_of_attributes, None, entry))

    def _send_fifo(
        self,
        now: float,
        message_id: str,
        body: str,
        md5_of_body: str,
        attributes: dict[str, Attribute],
        md5_of_attributes: str | None,
        group_id: str,
        deduplication_id: str,
        entry_id: str | None,
    ) -> SendResult:
        # Always 20 digits: the count starts at 1.8e19 and never reaches 1e20.
        sequence_number = str(self._sequence + 1)
        key = f"{group_id}\x00{deduplication_id}" if self.dedup_per_group else deduplication_id
        # The window keeps "id sequence" so a duplicate gets the original's id and sequence
        # number, as SQS returns; only a stored message uses up a sequence number.
        original = self._dedup.admit(key, f"{message_id} {sequence_number}", now)
        if original is not None:
            message_id, sequence_number = original.split(" ")  # accepted, not stored
        else:
            self._sequence += 1
            self._seq += 1
            rec = Record(
                self._seq, message_id, body, md5_of_body, attributes, md5_of_attributes, now
            )
            rec.group_id = group_id
            rec.deduplication_id = deduplication_id
            rec.sequence_number = sequence_number
            self._add(rec, now, self.delay)
            self.sent += 1
        return _new_tuple(
            SendResult, (message_id, md5_of_body, md5_of_attributes, sequence_number, entry_id)
        )

    def _add(self, rec: Record, now: float, delay: float) -> None:
        """Store a new record, ready at once or after *delay* seconds: every message enters
        the queue here. Cost: O(log n)."""
        self._live[rec.seq] = rec
        # Late only when enqueued before the newest: a dead letter, or the clock went back.
        self._expiry.push(rec.enqueued_at, 0, rec)
        group = None
        if self.fifo:
            group_id = rec.group_id or ""
            group = self._groups.get(group_id)
            if group is None:
                group = self._groups[group_id] = _Group(group_id)
            rec.group = group
            group.messages.append(rec)
        if delay > 0:
            rec.state = DELAYED
            self.delayed += 1
            self._hide(rec, now + delay)
        else:
            rec.state = READY
            self.visible += 1
            if group is None:
                self._fresh.append(rec)
            elif not group.queued:
                self._offer_group(group)

    # --- dead letters and redrive -----------------------------------------------------------

    def accept_dead_letters(
        self, now: float, records: list[Record], source_arn: str, source: str
    ) -> None:
        """Store copies of *records*, dead letters of the queue *source_arn*, as ready messages.

        *source* is an opaque token naming that queue (a redrive sends them back to it).
        A copy keeps the message id, body, attributes, receive count and timestamps; a
        standard queue's copy keeps its enqueue time (retention goes on), a FIFO copy's
        retention restarts and its dedup id becomes its message id, so two messages that
        shared a dedup id do not collide here. Cost: O(log n) each.
        """
        self.advance(now)
        for rec in records:
            if self.fifo:
                self._copy(rec, now, now, rec.message_id, (source_arn, source))
            else:
                self._copy(rec, now, rec.enqueued_at, None, (source_arn, source))

    def restore(self, now: float, records: list[Record]) -> None:
        """Put back *records* this queue gave up (their dead-letter queue or redrive target
        went away), each keeping its enqueue time. Cost: O(log n) each."""
        self.advance(now)
        for rec in records:
            self._copy(rec, now, rec.enqueued_at)

    def _copy(
        self,
        rec: Record,
        now: float,
        enqueued_at: float,
        dedup_id: str | None = None,
        source: tuple[str, str] | None = None,
    ) -> Record:
        """Store a ready copy of *rec* (same id, count and timestamps), keeping its
        receive count. FIFO: the copy keeps *rec*'s dedup id unless *dedup_id* is given.
        *source*: ``(arn, token)`` of the queue it is a dead letter of (set before the copy
        is stored, so a journal sees it)."""
        self._seq += 1
        new = Record(
            self._seq,
            rec.message_id,
            rec.body,
            rec.md5_of_body,
            rec.attributes,
            rec.md5_of_attributes,
            enqueued_at,
        )
        new.sent_ms = rec.sent_ms
        new.receive_count = rec.receive_count
        new.first_receive_ms = rec.first_receive_ms
        new.group_id = rec.group_id
        if source is None:
            new.dead_letter_source_arn = rec.dead_letter_source_arn
            new.dead_letter_source = rec.dead_letter_source
        else:
            new.dead_letter_source_arn, new.dead_letter_source = source
        if self.fifo:
            self._sequence += 1
            new.sequence_number = f"{self._sequence:020d}"
            new.deduplication_id = rec.deduplication_id if dedup_id is None else dedup_id
        if new.receive_count:
            self._inherited[new.seq] = new.receive_count
        self._add(new, now, 0)
        return new

    def redrive_candidates(self, now: float) -> deque[Record]:
        """The ready records a redrive starting now may move, oldest first. Cost: O(n), once."""
        self.advance(now)
        return deque(rec for rec in self._live.values() if rec.state == READY)

    def forget(self, records: list[Record]) -> None:
        """*records*, removed by :meth:`receive` (dead letters) or :meth:`take_for_redrive`,
        are now held by another queue: nothing to do in memory (a journal drops their
        rows only now). Cost: O(k)."""

    def take_for_redrive(
        self, now: float, candidates: deque[Record], limit: int, sources: Container[str] | None
    ) -> list[Record]:
        """Remove up to *limit* of *candidates* (from the front) that may leave now.

        A candidate leaves if it is still ready and has somewhere to go: with *sources*
        None (a destination was given) any, else only those whose source token is in
        *sources*; the others stay. Cost: O(log n) per record taken or skipped.
        """
        self.advance(now)
        taken: list[Record] = []
        while candidates and len(taken) < limit:
            rec = candidates.popleft()
            if rec.state != READY:  # received, deleted or expired since the start
                continue
            if sources is not None and rec.dead_letter_source not in sources:
                continue  # it stays here
            self._remove(rec)
            taken.append(rec)
        return taken

    # --- time --------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Apply everything that is due at *now*: the FIFO dedup window, retention, then
        delays and visibility.

        Every operation calls it first; the only place where time moves messages.
        Cost: O(log n) per message that changes state; O(1) when nothing is due.
        """
        if self._dedup.next_expiry <= now:
            self._dedup.expire(now)
        cutoff = now - self.retention
        expiry = self._expiry
        if expiry.first <= cutoff:
            while (rec := expiry.pop_due(cutoff)) is not None:
                self._remove(rec)
        hidden = self._hidden
        if hidden.first <= now:
            while (due := hidden.pop_due(now)) is not None:
                if due.state == IN_FLIGHT:
                    self.in_flight -= 1
                else:
                    self.delayed -= 1
                self._make_ready(due)

    def next_deadline(self) -> float | None:
        """When the next hidden message becomes ready (or ``None``). Cost: amortised O(1)."""
        return self._hidden.earliest()

    # --- receiving ---------------------------------------------------------------------------

    def receive(
        self,
        now: float,
        limit: int,
        visibility_timeout: float,
        max_receive_count: int | None,
    ) -> tuple[list[Message], list[Record]] | Refusal:
        """Take up to *limit* messages (fewer at the in-flight limit) and put them in flight.

        Messages whose receive count already reached *max_receive_count* are removed
        instead of returned (the caller hands them to the dead-letter queue's
        :meth:`accept_dead_letters`, or back to :meth:`restore`) and the receive goes on
        filling from other messages. With a zero *visibility_timeout* the messages taken
        are ready again for the next call.

        Returns:
            ``(messages, dead_letters)``, or :attr:`Refusal.IN_FLIGHT_LIMIT` when the
            queue already has ``max_in_flight`` messages in flight.

        Cost: O(k log n) for k messages returned or moved.
        """
        # advance, inlined to its test: most receives find nothing due.
        if self._expiry.first <= now - self.retention or self._hidden.first <= now:
            self.advance(now)
        room = self.max_in_flight - self.in_flight
        if room <= 0:
            return Refusal.IN_FLIGHT_LIMIT
        if limit > room:
            limit = room
        received: list[Record] = []
        dead: list[Record] = []
        if limit <= 0:
            return [], dead
        now_ms = int(now * 1000)
        if self.fifo:
            self._receive_fifo(
                limit, now, now_ms, visibility_timeout, max_receive_count, received, dead
            )
        else:
            fresh = self._fresh
            while len(received) < limit:
                rec: Record | None
                if fresh and not fresh[0].ticket and not self._returned:
                    rec = fresh.popleft()  # the common case, without a call
                else:
                    rec = self._pop_ready()
                if rec is None:
                    break
                if max_receive_count is not None and rec.receive_count >= max_receive_count:
                    self._remove(rec)
                    dead.append(rec)
                    continue
                self._start_flight(rec, now, now_ms, visibility_timeout)
                received.append(rec)
        self.received += len(received)
        messages = [r.to_message(r.handle) for r in received]
        if visibility_timeout <= 0 and received:
            self.advance(now)  # received with no timeout: ready again at once
        return messages, dead

    def _receive_fifo(
        self,
        limit: int,
        now: float,
        now_ms: int,
        visibility_timeout: float,
        max_receive_count: int | None,
        received: list[Record],
        dead: list[Record],
    ) -> None:
        ready = self._ready_groups
        reoffer: list[_Group] = []
        # Each group is visited at most once per call; groups that become receivable
        # during the call join the end of the list afterwards.
        for _ in range(len(ready)):
            if len(received) >= limit:
                break
            group = ready.popleft()
            if not group.messages:  # freed while in the list (a live group is never empty)
                self._stale_ready -= 1
                continue
            group.queued = False
            before = len(received)
            moved = False
            # Nothing below adds to or takes from the group's deque while it is walked.
            for rec in group.messages:
                if rec.state != READY:
                    if rec.state == GONE:
                        continue
                    break
                if len(received) >= limit:
                    break
                if max_receive_count is not None and rec.receive_count >= max_receive_count:
                    self._remove(rec, prune=False)
                    dead.append(rec)
                    moved = True
                    continue
                self._start_flight(rec, now, now_ms, visibility_timeout)
                received.append(rec)
            if moved:
                self._prune_group(group)
            if len(received) == before:
                # Nothing taken: its head may be ready still, or it may be empty now.
                # Otherwise its head is in flight and the group is blocked.
                reoffer.append(group)
        for group in reoffer:
            self._offer_group(group)

    def _pop_ready(self) -> Record | None:
        fresh, returned = self._fresh, self._returned
        # A record enters _fresh with ticket 0 and every state change bumps the ticket,
        # so an entry is live exactly while its ticket is still 0 (no tuple needed).
        while fresh and fresh[0].ticket:
            fresh.popleft()
        while returned and (
            returned[0][2].state != READY or returned[0][1] != returned[0][2].ticket
        ):
            heapq.heappop(returned)
        if fresh and (not returned or fresh[0].seq < returned[0][0]):
            return fresh.popleft()
        if returned:
            return heapq.heappop(returned)[2]
        return None

    def _start_flight(
        self, rec: Record, now: float, now_ms: int, visibility_timeout: float
    ) -> None:
        self.visible -= 1
        self.in_flight += 1
        rec.state = IN_FLIGHT
        rec.receive_count += 1
        if rec.first_receive_ms is None:
            rec.first_receive_ms = now_ms
        rec.received_at = now
        by_handle = self._by_handle
        if rec.handle is not None:
            del by_handle[rec.handle]
        rec.handle = handle = (
            f"{self.handle_prefix}{(rec.seq << _COUNT_BITS) | rec.receive_count:x}"
        )
        by_handle[handle] = rec
        # _hide, inlined: this runs for every message received.
        rec.ticket += 1
        self._hidden.push(now + visibility_timeout, rec.ticket, rec)

    # --- handles -----------------------------------------------------------------------------

    def decode_handle(self, handle: object) -> tuple[int, int] | None:
        """``(sequence number, receive count)`` named by a receipt handle of this queue,
        or ``None`` when *handle* is not one. Cost: O(1).

        Exactly the form this queue issues: its prefix, then lowercase ASCII hex with no
        leading zero (``int(_, 16)`` alone would take spaces, ``_``, ``+``, ``0x``...).
        """
        prefix = self.handle_prefix
        if (
            type(handle) is str
            and handle.startswith(prefix)
            and _HANDLE_NUMBER.fullmatch(handle, len(prefix)) is not None
        ):
            n = int(handle[len(prefix) :], 16)
            return n >> _COUNT_BITS, n & _COUNT_MASK
        return None

    def _issued(self, seq: int, count: int) -> bool:
        """Whether a receipt handle for (*seq*, *count*) can have been issued. Cost: O(1).

        A handle names a record and the receive that issued it: a record never created,
        a count of zero, a count beyond the record's receives, or one it had already
        reached in another queue (a dead letter's earlier receives) was never handed out.
        """
        if count < 1 or not 0 < seq <= self._seq:
            return False
        rec = self._live.get(seq)
        return rec is None or self._inherited.get(seq, 0) < count <= rec.receive_count

    def _find(self, handle: object) -> Record | Refusal | None:
        """The live record a handle names (``None``: it is gone), or why the handle is
        refused. FIFO: only the handle of the current receive, still in flight, counts."""
        decoded = self.decode_handle(handle)
        if decoded is None or not self._issued(*decoded):
            return Refusal.INVALID_HANDLE
        seq, count = decoded
        rec = self._live.get(seq)
        if rec is not None and self.fifo and (rec.state != IN_FLIGHT or rec.receive_count != count):
            return Refusal.EXPIRED_HANDLE
        return rec

    def delete(self, now: float, handle: object) -> bool | Refusal:
        """Delete the message a receipt handle names; a message already gone is a no-op.

        Returns:
            Whether receivers may find more now (a FIFO group may be free, or in-flight
            room opened at the limit), or :attr:`Refusal.INVALID_HANDLE` /
            :attr:`Refusal.EXPIRED_HANDLE` (FIFO).

        Cost: O(1) for the latest receive's handle (one dict lookup), else O(log n).
        """
        if self._expiry.first <= now - self.retention or self._hidden.first <= now:
            self.advance(now)
        # The common case: the handle of a message's latest receive. The index makes it
        # one dict lookup; anything else (older handles, errors) goes the long way.
        rec = self._by_handle.get(handle) if type(handle) is str else None
        if rec is None or (self.fifo and rec.state != IN_FLIGHT):
            found = self._find(handle)
            if found is None:
                return False  # gone already: a no-op
            if isinstance(found, Refusal):
                return found
            rec = found
        at_limit = self.in_flight >= self.max_in_flight
        self._remove(rec)
        self.deleted += 1
        return self.fifo or at_limit

    def change_visibility(self, now: float, handle: object, timeout: float) -> bool | Refusal:
        """Hide the message a handle names until ``now + timeout`` (0: ready now).

        The hidden time stays within :data:`MAX_VISIBILITY` of the receive that issued
        the current handle.

        Returns:
            Whether receivers should look again (the message is ready, or the next
            deadline moved earlier), or why the change is refused:
            :attr:`Refusal.INVALID_HANDLE`, :attr:`Refusal.EXPIRED_HANDLE` (FIFO),
            :attr:`Refusal.MESSAGE_GONE` or :attr:`Refusal.VISIBILITY_CAP`.

        Cost: O(log n).
        """
        self.advance(now)
        rec = self._find(handle)
        if rec is None:
            return Refusal.MESSAGE_GONE
        if isinstance(rec, Refusal):
            return rec
        if (now - rec.received_at) + timeout > MAX_VISIBILITY:
            return Refusal.VISIBILITY_CAP
        was_first = self._hidden.earliest()
        self._set_visibility(rec, now, timeout)
        return rec.state == READY or (was_first is not None and now + timeout < was_first)

    def _set_visibility(self, rec: Record, now: float, timeout: float) -> None:
        """Hide *rec* until ``now + timeout`` (``0``: make it ready now). Cost: O(log n)."""
        if rec.state == READY:
            self.visible -= 1
        elif rec.state == IN_FLIGHT:
            self.in_flight -= 1
        else:  # delayed messages have no receipt handle to reach this with
            raise AssertionError(f"change_visibility on {rec!r}")
        if timeout <= 0:
            rec.ticket += 1  # drop its old place in the ready structures
            self._make_ready(rec)
        else:
            self.in_flight += 1
            rec.state = IN_FLIGHT
            self._hide(rec, now + timeout)
        self._maybe_compact()

    def _remove(self, rec: Record, *, prune: bool = True) -> None:
        """Take *rec* out for good: every message leaves here (a delete, retention, a
        dead-letter move, a redrive). Cost: O(1) amortised."""
        state = rec.state
        if state == IN_FLIGHT:  # a delete, the common case
            self.in_flight -= 1
        elif state == READY:
            self.visible -= 1
        elif state == DELAYED:
            self.delayed -= 1
        else:
            return
        rec.state = GONE
        rec.ticket += 1
        del self._live[rec.seq]
        if rec.handle is not None:
            del self._by_handle[rec.handle]
        if self._inherited:
            self._inherited.pop(rec.seq, None)
        group = rec.group
        if group is not None and prune:
            self._prune_group(group)
            self._offer_group(group)
        # _maybe_compact, inlined: this runs for every message deleted.
        self._removals += 1
        if not self._removals & self._compact_mask:
            self._compact()

    # --- whole queue -------------------------------------------------------------------------

    def purge(self, now: float) -> Refusal | None:
        """Drop every message and the dedup window; at most once per :data:`PURGE_INTERVAL`.

        Returns:
            ``None``, or :attr:`Refusal.PURGE_IN_PROGRESS` (nothing changes).

        Cost: O(n) (each record is marked gone).
        """
        if self._last_purge is not None and now - self._last_purge < PURGE_INTERVAL:
            return Refusal.PURGE_IN_PROGRESS
        self._last_purge = now
        self.clear()
        return None

    def clear(self) -> None:
        """Drop every message and the dedup window (the queue is deleted). Cost: O(n)."""
        for rec in self._live.values():
            rec.state = GONE
            rec.ticket += 1
        self._dedup.clear()
        self._reset()

    def release(self) -> None:
        """Let go of every record and the dedup window, storing nothing: the queue is
        closed (its file, if it has one, keeps them). FIFO records and their groups refer
        to each other; the links are cut so reference counting frees them, even records
        that ``gc.freeze()`` left out of collections. Cost: O(g) for g groups."""
        for group in self._groups.values():
            group.messages.clear()
        self._dedup.clear()
        self._reset()

    def stats(self, now: float) -> QueueStats:
        """The counts at *now*: visible, in flight, delayed. Cost: O(1) after advancing."""
        self.advance(now)
        return QueueStats(self.visible, self.in_flight, self.delayed)

    def peek(self, now: float, *, in_flight: bool = False, delayed: bool = False) -> list[Message]:
        """The ready messages at *now* (and in-flight or delayed ones on request), in send
        order, with no receipt handle. Changes nothing. Cost: O(n)."""
        self.advance(now)
        wanted = {READY}
        if in_flight:
            wanted.add(IN_FLIGHT)
        if delayed:
            wanted.add(DELAYED)
        return [r.to_message(None) for r in self._live.values() if r.state in wanted]

    def group_sizes(self, now: float) -> dict[str, int]:
        """FIFO: the live messages of each group at *now*. Cost: O(n)."""
        self.advance(now)
        return {
            group_id: sum(1 for rec in group.messages if rec.state != GONE)
            for group_id, group in self._groups.items()
        }

    def group_count(self) -> int:
        """FIFO: how many groups hold messages. Cost: O(1)."""
        return len(self._groups)

    def records(self) -> Iterator[Record]:
        """Every live record in send order. Cost: O(n) — for tests and re-keying only."""
        return iter(list(self._live.values()))

    def _reschedule_delayed(self, now: float, delay: float) -> None:
        """Re-key delayed messages for a new queue delay (FIFO delay changes are retroactive).

        Cost: O(n) over all messages; called only when a FIFO queue's delay changes.
        """
        for rec in self.records():
            if rec.state == DELAYED:
                due = rec.enqueued_at + delay
                if due <= now:
                    rec.ticket += 1
                    self.delayed -= 1
                    self._make_ready(rec)
                else:
                    self._hide(rec, due)

    def check_invariants(self) -> None:
        """Verify every invariant; for tests. Cost: O(n)."""
        counts = [0, 0, 0]
        for seq, rec in self._live.items():
            assert rec.seq == seq, rec
            assert rec.state != GONE, rec
            counts[rec.state] += 1
        assert counts == [self.visible, self.delayed, self.in_flight], (
            counts,
            (self.visible, self.delayed, self.in_flight),
        )
        hidden_live = {id(r) for _, r in self._hidden.live()}
        for rec in self._live.values():
            if rec.state in (DELAYED, IN_FLIGHT):
                assert id(rec) in hidden_live, f"{rec!r} is hidden but not in the heap"
        if not self.fifo:
            ready_live = [r for r in self._fresh if not r.ticket]
            assert all(r.state == READY for r in ready_live), "a live _fresh entry not ready"
            ready_live += [
                e[2] for e in self._returned if e[1] == e[2].ticket and e[2].state == READY
            ]
            assert len(ready_live) == len({id(r) for r in ready_live}) == self.visible
        else:
            in_groups = 0
            for group in self._groups.values():
                assert group.messages, f"empty group {group.group_id} kept"
                assert group.messages[0].state != GONE
                previous = 0
                for rec in group.messages:
                    assert rec.seq > previous
                    previous = rec.seq
                    in_groups += rec.state != GONE
                if group.messages[0].state == READY:
                    assert group.queued
                    assert group in self._ready_groups
            assert in_groups == len(self._live)
            stale = 0
            for group in self._ready_groups:
                if group.messages:
                    assert self._groups.get(group.group_id) is group, group.group_id
                    assert group.queued
                else:
                    stale += 1
            assert stale == self._stale_ready, (stale, self._stale_ready)
            live_ready = len(self._ready_groups) - stale
            assert live_ready == len({id(g) for g in self._ready_groups if g.messages})
        for handle, rec in self._by_handle.items():
            assert rec.handle == handle, rec
            assert self._live.get(rec.seq) is rec, rec
        assert len(self._by_handle) == sum(r.handle is not None for r in self._live.values())
        for seq, count in self._inherited.items():
            assert 0 < count <= self._live[seq].receive_count, (seq, count)
        assert self._hidden.run_in_order(), "deadline run out of order"
        assert self._expiry.run_in_order(), "expiry run out of order"
        expiring = [r for _, r in self._expiry.live()]
        assert len(expiring) == len(self._live), "a record in the expiry order twice"
        assert {id(r) for r in expiring} == {id(r) for r in self._live.values()}

    def oldest_enqueued(self) -> float | None:
        """When the oldest live message was enqueued, or ``None``. Cost: amortised O(1)."""
        return self._expiry.earliest()

    def load_fresh(
        self,
        rows: Iterable[tuple[int, float, int, str, str, str, str | None, str | None]],
        decode: Callable[[str], dict[str, Attribute]],
    ) -> int:
        """Start filling this empty standard-queue state, as a durable queue reopens, with
        stored messages of the commonest shape — ready, never received, no group,
        deduplication id or dead-letter source — from rows of ``(seq, enqueued_at,
        sent_ms, message_id, body, md5_of_body, attributes_text, md5_of_attributes)`` in
        send order; *decode* turns an attributes text into a new dict. :meth:`load`
        finishes.

        Returns how many it read. Cost: O(n), with no call and no heap push per record
        (a million of them are built at every reopen of a large queue).
        """
        if self.fifo:
            raise ValueError("load_fresh is for standard queues: a FIFO message has a group")
        new = object.__new__
        live = self._live
        keys: list[float] = []
        add_key = keys.append
        records: list[Record] = []
        append = records.append
        for seq, enqueued_at, sent_ms, message_id, body, md5_of_body, text, md5 in rows:
            rec = new(Record)
            rec.seq = seq
            rec.message_id = message_id
            rec.body = body
            rec.md5_of_body = md5_of_body
            rec.attributes = {} if text is None else decode(text)
            rec.md5_of_attributes = md5
            rec.sent_ms = sent_ms
            rec.enqueued_at = enqueued_at
            rec.state = READY
            rec.ticket = 0
            rec.receive_count = 0
            rec.first_receive_ms = None
            rec.received_at = 0.0
            rec.group = None
            rec.group_id = None
            rec.handle = None
            rec.deduplication_id = None
            rec.sequence_number = None
            rec.dead_letter_source_arn = None
            rec.dead_letter_source = None
            live[seq] = rec
            append(rec)
            add_key(enqueued_at)
        self._fresh.extend(records)
        self.visible += len(records)
        self._expiry.extend(keys, [0] * len(keys), records)
        return len(records)

    def load(
        self,
        records: list[tuple[Record, float | None, int]],
        dedup: list[tuple[str, str, float]],
        *,
        seq: int,
        sequence: int,
        last_purge: float | None,
        totals: tuple[int, int, int],
        turns: Mapping[str, int] | None = None,
        hides: Mapping[int, int] | None = None,
    ) -> None:
        """Fill this state with stored records, as a durable queue reopens (after
        :meth:`load_fresh`, if it read any).

        *records* are those :meth:`load_fresh` did not take, as ``(record, deadline,
        inherited count)`` in send order (seq), each already holding its state
        (:func:`stored_record`); *dedup* is the window's ``(key, value, expiry)`` in expiry
        order. Receipt handles are rebuilt from the prefix, so handles issued before the
        restart still work. *seq* is the stored counter (the largest seq loaded counts
        too). FIFO: *turns* gives each group's place in the ready list (a group without one:
        its head's seq shifted by :data:`TURN_SHIFT`), and *hides* (by seq) the order
        hidden messages were hidden in, which breaks ties between equal deadlines. Cost: O(n log n).
        """
        self._seq = seq
        self._sequence = sequence
        self._last_purge = last_purge
        self.sent, self.received, self.deleted = totals
        restore = self._dedup.restore  # never admit: that would expire the keys before
        for key, value, expiry in dedup:
            restore(key, value, expiry)
        live = self._live
        if records:
            self._load_others(records, bool(live), turns, hides)
        if live:  # the stored counter may trail a message's seq (its own row is later)
            self._seq = max(seq, next(reversed(live)))

    def _load_others(
        self,
        records: list[tuple[Record, float | None, int]],
        fresh: bool,
        turns: Mapping[str, int] | None,
        hides: Mapping[int, int] | None,
    ) -> None:
        live = self._live
        hidden_keys: list[float] = []
        hidden_tags: list[int] = []
        hidden_items: list[Record] = []
        returned = self._returned
        prefix = self.handle_prefix
        by_handle = self._by_handle
        for rec, deadline, inherited in records:
            live[rec.seq] = rec
            if inherited:
                self._inherited[rec.seq] = inherited
            if rec.receive_count > inherited:
                rec.handle = f"{prefix}{(rec.seq << _COUNT_BITS) | rec.receive_count:x}"
                by_handle[rec.handle] = rec
            group = None
            if self.fifo:
                group_id = rec.group_id or ""
                group = self._groups.get(group_id)
                if group is None:
                    group = self._groups[group_id] = _Group(group_id)
                rec.group = group
                group.messages.append(rec)
            if rec.state == READY:
                self.visible += 1
                if group is None:
                    # Beside the fresh deque, in the heap keyed by seq: receive takes the
                    # smaller head of the two, so send order holds across both.
                    returned.append((rec.seq, rec.ticket, rec))
            else:
                if rec.state == DELAYED:
                    self.delayed += 1
                else:
                    self.in_flight += 1
                rec.ticket += 1
                hidden_keys.append(deadline if deadline is not None else 0.0)
                hidden_tags.append(rec.ticket)
                hidden_items.append(rec)
        heapq.heapify(returned)
        if hides:
            # Equal deadlines come out in the order the messages were hidden, as they would
            # have without the reopen (it decides which FIFO group is offered first).
            order = sorted(
                range(len(hidden_items)),
                key=lambda i: (hidden_keys[i], hides.get(hidden_items[i].seq, 0)),
            )
            hidden_keys = [hidden_keys[i] for i in order]
            hidden_tags = [hidden_tags[i] for i in order]
            hidden_items = [hidden_items[i] for i in order]
        self._hidden.extend(hidden_keys, hidden_tags, hidden_items)
        if fresh:
            # Both parts are in send order, and so must live (and peek) be: merge them.
            ordered = sorted(live.items(), key=_first)
            live.clear()
            live.update(ordered)
            self._expiry.clear()
        in_order = list(live.values())
        self._expiry.extend([rec.enqueued_at for rec in in_order], [0] * len(in_order), in_order)
        groups: Iterable[_Group] = self._groups.values()
        if turns:
            # The ready list in its stored order, not the order of the groups' messages.
            groups = sorted(
                groups,
                key=lambda g: turns.get(g.group_id, g.messages[0].seq << TURN_SHIFT),
            )
        for group in groups:
            self._offer_group(group)

    # --- internals ---------------------------------------------------------------------------

    def _hide(self, rec: Record, until: float) -> None:
        rec.ticket += 1
        self._hidden.push(until, rec.ticket, rec)

    def _make_ready(self, rec: Record) -> None:
        rec.state = READY
        self.visible += 1
        if self.fifo:
            if rec.group is not None:
                self._offer_group(rec.group)
        else:
            heapq.heappush(self._returned, (rec.seq, rec.ticket, rec))

    def _offer_group(self, group: _Group | None) -> None:
        if group is None:
            return
        messages = group.messages
        if not messages:
            # Its last message left, by whatever path: free the group now. If it sits in
            # the ready list it stays there, stale, until a receive or a rebuild drops it.
            if self._groups.get(group.group_id) is group:
                del self._groups[group.group_id]
                if group.queued:
                    self._stale_ready += 1
                    if 2 * self._stale_ready > len(self._ready_groups) + self._slack:
                        self._compact_ready_groups()
            return
        if not group.queued and messages[0].state == READY:
            group.queued = True
            self._ready_groups.append(group)

    def _compact_ready_groups(self) -> None:
        # In place: a receive in progress holds the deque.
        ready = self._ready_groups
        live = [g for g in ready if g.messages]
        ready.clear()
        ready.extend(live)
        self._stale_ready = 0

    @staticmethod
    def _prune_group(group: _Group) -> None:
        messages = group.messages
        while messages and messages[0].state == GONE:
            messages.popleft()

    def _maybe_compact(self) -> None:
        self._removals += 1
        if not self._removals & self._compact_mask:
            self._compact()

    def _compact(self) -> None:
        self._expiry.maybe_compact(len(self._live))
        self._hidden.maybe_compact(self.delayed + self.in_flight)
        if len(self._fresh) + len(self._returned) > 2 * self.visible + self._slack:
            self._fresh = deque(r for r in self._fresh if not r.ticket)
            self._returned = [
                e for e in self._returned if e[1] == e[2].ticket and e[2].state == READY
            ]
            heapq.heapify(self._returned)
