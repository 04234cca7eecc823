"""The thread-safe :class:`Queue`: SQS semantics around the pure core in ``_state``.

The shell holds no queue rule: it checks input, takes the lock, reads the clock once and
calls one core operation, which applies what is due at that instant and answers with a
result or a :class:`~mqlite._state.Refusal` the shell raises as SQS's error. ``receive``
— for a long poll — then waits on the queue's condition through the clock, so sends,
deletes, visibility changes and clock movement all wake it. Dead letters the core gives
up are handed to the dead-letter queue's core after the lock is released, so two queues'
locks are never held at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn, TypeVar

import attrs

from . import _validation as v
from ._dead_letters import DeadLetters
from ._journal import FifoJournaledState, JournaledState
from ._loader import load_state
from ._redrive import RedriveTask
from ._send import PreparedSend, prepare, stored
from ._settings import QueueSettings, check_name, checked
from ._state import (
    FIRST_SEQUENCE_NUMBER,
    MAX_VISIBILITY,
    PURGE_INTERVAL,
    QueueState,
    Record,
    Refusal,
)
from ._store import Store, check_durability, check_path, dumps
from .clock import Clock, Interrupt, SystemClock, TimerHandle, same_time
from .errors import (
    BatchRequestTooLong,
    Closed,
    InvalidAttributeValue,
    InvalidParameterValue,
    MissingParameter,
    MqliteError,
    OverLimit,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    ReceiptHandleIsInvalid,
)
from .message import (
    BatchFailure,
    BatchResult,
    DeleteEntry,
    DeleteResult,
    Message,
    QueueStats,
    SendEntry,
    SendResult,
    VisibilityEntry,
    VisibilityResult,
    new_message_id,
)

__all__ = ["Queue"]

_sha256 = hashlib.sha256


def _plain_id(value: object) -> bool:
    """Whether *value* is a valid group or deduplication id: 1-128 printable ASCII, no space."""
    return (
        type(value) is str
        and 0 < len(value) <= 128
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


class Queue:
    """An SQS queue (standard or FIFO) living in this process.

    All methods are thread-safe. Durations are seconds; timestamps on messages are epoch
    milliseconds. See the constructor arguments for each setting's range; invalid
    settings raise ``InvalidAttributeValue`` (values), ``InvalidAttributeName``
    (FIFO-only settings on a standard queue) or ``InvalidParameterValue`` (names and
    dead-letter settings) and create nothing.

    With ``path=`` the queue lives in that file as well (see docs/durability.md).
    Reopening a file restores the queue as it was, its settings included; settings
    passed when reopening are applied as :meth:`configure` would, and the others keep
    their stored values.

    Example::

        q = Queue("jobs")
        q.send("hello")
        [m] = q.receive(wait=1)
        q.delete(m)
    """

    #: Whether cutting a waiting receive short with an Interrupt costs nothing (see Worker).
    _interrupts_are_free = True
    # A durable queue made by Queue(...): the keyword arguments its caller passed.
    _passed: frozenset[str]

    def __init__(
        self,
        name: str,
        *,
        visibility_timeout: float = 30,
        delay: float = 0,
        retention: float = 345_600,
        max_message_size: int = 1_048_576,
        receive_wait: float = 0,
        fifo: bool | None = None,
        content_based_deduplication: bool = False,
        deduplication_scope: str = "queue",
        fifo_throughput_limit: str = "perQueue",
        dead_letter_queue: Queue | None = None,
        max_receive_count: int = 10,
        max_in_flight: int | None = None,
        clock: Clock | None = None,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        path: str | os.PathLike[str] | None = None,
        durability: str = "crash",
    ) -> None:
        check_durability(durability)
        if path is not None:
            path = check_path(path)
        self._name, self._fifo = check_name(name, fifo)
        if path is not None and dead_letter_queue is not None:
            raise InvalidParameterValue(
                "A standalone durable queue takes no dead-letter queue: durable dead-letter"
                " setups use a Broker(path=...)."
            )
        changes: dict[str, Any] = {
            "visibility_timeout": visibility_timeout,
            "delay": delay,
            "retention": retention,
            "max_message_size": max_message_size,
            "receive_wait": receive_wait,
            "content_based_deduplication": content_based_deduplication,
            "deduplication_scope": deduplication_scope,
            "fifo_throughput_limit": fifo_throughput_limit,
            "dead_letter_queue": dead_letter_queue,
            "max_receive_count": max_receive_count,
        }
        if max_in_flight is not None:
            changes["max_in_flight"] = max_in_flight
        self._deleted = False
        self._closed = False
        #: The file this queue is stored in (``None``: in memory) and whether it is ours.
        self._store: Store | None = None
        self._owns_store = False
        self._clock: Clock = clock if clock is not None else SystemClock()
        # A durable queue reopened: only the settings its caller passed count (see _attach).
        passed = getattr(self, "_passed", None)
        try:
            self._settings = checked(
                QueueSettings(),
                changes,
                fifo=self._fifo,
                dead_letter_target=self._dead_letter_target,
            )
            refused: InvalidAttributeValue | None = None
        except InvalidAttributeValue as e:
            # Settings that do not fit together with the defaults (perMessageGroupId without
            # messageGroup) may fit the stored ones: a reopen judges them against those.
            if passed is None or path is None or not os.path.exists(path):
                raise
            self._settings, refused = QueueSettings(), e
        # Its dead-letter links and move tasks; a Broker replaces it with the one it shares.
        self._dead_letters = DeadLetters()
        self._relink(None, self._settings.dead_letter_queue)
        self._region = region
        self._account_id = account_id
        self._arn = f"arn:aws:sqs:{region}:{account_id}:{name}"
        self._url = f"https://sqs.{region}.amazonaws.com/{account_id}/{name}"
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiters = 0
        self._async_wakers: set[Callable[[], None]] = set()
        # A token unique to this queue object: receipt handles start with it, so a handle
        # from another queue (even one with the same name) is told apart from a stale one,
        # and dead letters name their source queue by it.
        self._token = os.urandom(9).hex()
        settings = self._settings
        self._state = QueueState(
            fifo=self._fifo,
            retention=settings.retention,
            handle_prefix=f"AQEB{self._token}-",
            delay=settings.delay,
            max_in_flight=settings.max_in_flight,
            dedup_per_group=settings.deduplication_scope == "messageGroup",
        )
        # The queues whose dead letters this queue holds, by token (for redrive).
        self._origins: weakref.WeakValueDictionary[str, Queue] = weakref.WeakValueDictionary()
        if path is not None:
            # Reopening keeps the stored settings the caller did not pass.
            if passed is None:
                passed = frozenset(changes)
            wanted = {k: v for k, v in changes.items() if k in passed}
            store = Store(
                path,
                kind="queue",
                name=name,
                durability=durability,
                # A file left by a kill is judged before it is opened for writing.
                check=lambda conn: self._judge(conn, 1, wanted, refused),
            )
            try:
                self._attach(store, 1, wanted, refused)
            except BaseException:
                store.close(commit=False)  # a refused file stays as it was
                raise
            self._owns_store = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Queue:
        # A queue with a file is a _DurableQueue: its calls wait for their commit, and an
        # in-memory queue's calls carry no test for it.
        if cls is Queue and kwargs.get("path") is not None:
            queue = object.__new__(_DurableQueue)
            # The settings the caller named: only those change when the file is reopened.
            queue._passed = frozenset(kwargs)
            return queue
        return object.__new__(cls)

    def _attach(
        self,
        store: Store,
        qid: int,
        changes: dict[str, Any] | None = None,
        refused: InvalidAttributeValue | None = None,
    ) -> None:
        """Store this queue as queue *qid* of *store*: restore it if the file holds it
        (its token, messages, dedup window, counters), then apply this object's settings
        as :meth:`configure` would. With *changes* (a standalone queue reopened) the
        stored settings are restored and only *changes* applied; *refused*: the error
        *changes* met against the defaults, raised if the file holds no queue yet."""
        with store.reading() as conn:
            row, self._settings, wanted = self._judge(conn, qid, changes, refused)
        settings = self._settings
        if row is None:
            store.append(
                "INSERT INTO queues VALUES (?,?,?,?,?,0,?,NULL,0,0,0)",
                (
                    qid,
                    self._name,
                    int(self._fifo),
                    self._token,
                    dumps(self._stored_settings()),
                    str(FIRST_SEQUENCE_NUMBER),
                ),
            )
        else:
            self._token = row[0]
        state = (FifoJournaledState if self._fifo else JournaledState)(
            store,
            qid,
            fifo=self._fifo,
            retention=settings.retention,
            handle_prefix=f"AQEB{self._token}-",
            delay=settings.delay,
            max_in_flight=settings.max_in_flight,
            dedup_per_group=settings.deduplication_scope == "messageGroup",
        )
        now = self._clock.time()
        if row is not None:
            with store.reading():
                load_state(state, store, qid, now)
            if wanted is not settings:  # as configure() applies them
                self._settings = wanted
                state.configure(
                    now,
                    retention=wanted.retention,
                    delay=wanted.delay,
                    max_in_flight=wanted.max_in_flight,
                    dedup_per_group=wanted.deduplication_scope == "messageGroup",
                )
        self._state = state
        self._store = store
        self._qid = qid
        self._save_settings()
        if row is not None and self._fifo:
            # Dedup ids whose window ended while the file was closed were not loaded:
            # their rows go now that the file is accepted.
            store.append("DELETE FROM dedup WHERE q=? AND expiry<=?", (qid, now))
        state.advance(now)
        store.sync()

    def _judge(
        self,
        conn: sqlite3.Connection,
        qid: int,
        changes: dict[str, Any] | None,
        refused: InvalidAttributeValue | None,
    ) -> tuple[Any, QueueSettings, QueueSettings]:
        """Read queue *qid*'s row on *conn* and judge the settings to apply (see
        :meth:`_attach`): ``(row or None, settings it has, settings it will have)``.
        Changes nothing; raises what a reopen refuses, before anything is loaded."""
        row = conn.execute("SELECT token, settings FROM queues WHERE id=?", (qid,)).fetchone()
        if row is None and refused is not None:
            raise refused
        if row is None or changes is None:
            return row, self._settings, self._settings
        stored = json.loads(row[1])
        stored.pop("dead_letter_queue", None)  # a standalone queue has none
        stored.pop("dead_letter_token", None)
        current = checked(
            QueueSettings(),
            stored,
            fifo=self._fifo,
            dead_letter_target=self._dead_letter_target,
        )
        wanted = checked(
            current,
            changes,
            fifo=self._fifo,
            dead_letter_target=self._dead_letter_target,
        )
        return row, current, wanted

    def _stored_settings(self) -> dict[str, Any]:
        out = self.settings()
        dlq = out.pop("dead_letter_queue")
        out["dead_letter_queue"] = None if dlq is None else dlq.name
        if dlq is not None:
            # Which queue of that name: a link outlives its queue's deletion (and a new
            # queue of the same name is not it).
            out["dead_letter_token"] = dlq._token
        return out

    def _save_settings(self) -> None:
        if self._store is not None:
            self._store.append(
                "UPDATE queues SET settings=? WHERE id=?",
                (dumps(self._stored_settings()), self._qid),
            )

    # --- properties --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The queue's name."""
        return self._name

    @property
    def fifo(self) -> bool:
        """Whether this is a FIFO queue."""
        return self._fifo

    @property
    def arn(self) -> str:
        """``arn:aws:sqs:{region}:{account}:{name}``."""
        return self._arn

    @property
    def url(self) -> str:
        """``https://sqs.{region}.amazonaws.com/{account}/{name}``."""
        return self._url

    @property
    def clock(self) -> Clock:
        """The clock every timing rule of this queue follows."""
        return self._clock

    @property
    def deleted(self) -> bool:
        """True once the queue was deleted (every call then raises ``QueueDoesNotExist``)."""
        return self._deleted

    @property
    def visibility_timeout(self) -> float:
        """Seconds a received message stays hidden (0..43,200)."""
        return self._settings.visibility_timeout

    @property
    def delay(self) -> float:
        """Seconds a new message waits before it can be received (0..900)."""
        return self._settings.delay

    @property
    def retention(self) -> float:
        """Seconds a message is kept, in any state (60..1,209,600)."""
        return self._settings.retention

    @property
    def max_message_size(self) -> int:
        """Largest message in bytes, body plus attributes (1,024..1,048,576)."""
        return self._settings.max_message_size

    @property
    def receive_wait(self) -> float:
        """Default long-poll time of ``receive`` in seconds (0..20)."""
        return self._settings.receive_wait

    @property
    def content_based_deduplication(self) -> bool:
        """FIFO: deduplicate by the SHA-256 of the body when no id is given."""
        return self._settings.content_based_deduplication

    @property
    def deduplication_scope(self) -> str:
        """FIFO: ``"queue"`` or ``"messageGroup"``."""
        return self._settings.deduplication_scope

    @property
    def fifo_throughput_limit(self) -> str:
        """FIFO: ``"perQueue"`` or ``"perMessageGroupId"`` (no effect beyond validation)."""
        return self._settings.fifo_throughput_limit

    @property
    def dead_letter_queue(self) -> Queue | None:
        """Where messages go after ``max_receive_count`` receives, if anywhere."""
        return self._settings.dead_letter_queue

    @property
    def max_receive_count(self) -> int:
        """Receives after which a message moves to the dead-letter queue (1..1,000)."""
        return self._settings.max_receive_count

    @property
    def max_in_flight(self) -> int:
        """In-flight limit; short polls of a standard queue at the limit raise ``OverLimit``."""
        return self._settings.max_in_flight

    def settings(self) -> dict[str, Any]:
        """Every setting by its constructor name (what ``configure`` accepts). Cost: O(1)."""
        return attrs.asdict(self._settings, recurse=False)

    def __repr__(self) -> str:
        kind = "FIFO" if self._fifo else "standard"
        if self._closed:
            return f"<Queue {self._name!r} ({kind}) closed>"
        if self._deleted:
            return f"<Queue {self._name!r} ({kind}) deleted>"
        state = self._state
        # Never block (repr runs in debuggers and log lines, maybe under this very lock):
        # without the lock the counts are those of the last operation. A durable queue's
        # are always: applying what fell due would change memory without storing it, and
        # a commit could block or raise.
        if self._store is None and self._lock.acquire(blocking=False):
            try:
                state.stats(self._clock.time())
            finally:
                self._lock.release()
        return (
            f"<Queue {self._name!r} ({kind}) visible={state.visible}"
            f" in_flight={state.in_flight} delayed={state.delayed}>"
        )

    # --- configuration -----------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change settings (SQS SetQueueAttributes), with the constructor's keyword names.

        Changes apply at once. Lowering ``retention`` expires older messages; a FIFO
        queue's ``delay`` change also applies to messages still inside their delay.

        Cost: O(1), plus O(log n) per message a lower retention expires; O(n) when a FIFO
        queue's ``delay`` changes.

        Raises:
            InvalidAttributeName, InvalidAttributeValue, InvalidParameterValue: as the
                constructor; nothing changes.
            QueueDoesNotExist: the queue was deleted.
        """
        if "fifo" in changes and bool(changes.pop("fifo")) != self._fifo:
            raise InvalidAttributeValue(
                "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is"
                " not supported."
            )
        with self._lock:
            self._check_alive()
            new = checked(
                self._settings,
                changes,
                fifo=self._fifo,
                dead_letter_target=self._dead_letter_target,
            )
            old = self._settings
            self._settings = new
            self._relink(old.dead_letter_queue, new.dead_letter_queue)
            self._save_settings()
            self._state.configure(
                self._clock.time(),
                retention=new.retention,
                delay=new.delay,
                max_in_flight=new.max_in_flight,
                dedup_per_group=new.deduplication_scope == "messageGroup",
            )
            self._wake()

    # --- sending -----------------------------------------------------------------------------

    def send(
        self,
        body: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        delay: float | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> SendResult:
        """Send one message.

        ``delay`` (0..900 s) overrides the queue's delay (standard queues only).
        FIFO queues need ``group_id``, and ``deduplication_id`` unless content-based
        deduplication is on; a duplicate within 5 minutes is accepted but not stored,
        and its result carries the original message id.

        Cost: O(log n).

        Raises:
            MissingParameter: empty body; FIFO without ``group_id``.
            InvalidMessageContents: characters SQS does not allow.
            InvalidParameterValue: too large, bad attributes, bad delay or ids.
            QueueDoesNotExist: the queue was deleted.
        """
        return self._send(prepare(body, attributes, delay, group_id, deduplication_id))

    def send_batch(self, entries: Iterable[SendEntry]) -> BatchResult[SendResult]:
        """Send up to 10 messages; each entry succeeds or fails on its own.

        Cost: O(k log n).

        Raises:
            EmptyBatchRequest, TooManyEntriesInBatchRequest, InvalidBatchEntryId,
            BatchEntryIdsNotDistinct, BatchRequestTooLong: the whole batch is refused.
            InvalidParameterValue: FIFO entries without group id (or dedup id).
        """
        items = _entries(entries, SendEntry)
        v.check_batch_ids(e.id for e in items)
        if self._fifo:
            if any(e.group_id is None for e in items):
                raise InvalidParameterValue(
                    "The request must contain the parameter MessageGroupId."
                )
            if not self._settings.content_based_deduplication and any(
                e.deduplication_id is None for e in items
            ):
                raise InvalidParameterValue(_NEEDS_DEDUP)
        # Each entry is checked once: its prepared size counts toward the batch's total,
        # and an entry that fails counts what can be sized of it (reported below).
        total = 0
        prepared: list[PreparedSend | MqliteError] = []
        for e in items:
            try:
                p = prepare(e.body, e.attributes, e.delay, e.group_id, e.deduplication_id, e.id)
            except MqliteError as error:
                prepared.append(error)
                if isinstance(e.body, str):
                    total += v.utf8_len(e.body)
                try:
                    total += v.attributes_size(v.normalize_attributes(e.attributes))
                except MqliteError:
                    pass
            else:
                prepared.append(p)
                total += p[4]
        if total > v.MAX_BATCH_BYTES:
            raise BatchRequestTooLong(
                f"Batch requests cannot be longer than {v.MAX_BATCH_BYTES} bytes. You have sent"
                f" {total} bytes."
            )
        ready: list[PreparedSend] = []
        failed: list[BatchFailure] = []
        for e, item in zip(items, prepared, strict=True):
            if not isinstance(item, MqliteError):
                try:
                    ready.append(self._admit(item, True))
                    continue
                except MqliteError as error:
                    item = error
            failed.append(BatchFailure(e.id, item.legacy_code, item.message, True))
        successful: list[SendResult] = []
        if ready:
            with self._lock:
                self._check_alive()
                now = self._clock.time()
                send = self._state.send
                successful = [send(now, new_message_id(), p) for p in ready]
                self._wake()
        return BatchResult(successful, failed)

    def _send(self, p: PreparedSend) -> SendResult:
        """Store one prepared send, under the lock, and wake receivers: every send but a
        batch's ends here (a batch makes the same two steps for each entry).

        Cost: O(log n).

        Raises:
            the errors of :meth:`_admit`; QueueDoesNotExist: the queue was deleted.
        """
        _, _, _, _, size, delay, group_id, deduplication_id, _ = p
        if (
            self._fifo
            or size > self._settings.max_message_size
            or delay is not None
            or group_id is not None
            or deduplication_id is not None
        ):
            p = self._admit(p, False)
        message_id = new_message_id()
        with self._lock:
            if self._deleted:
                self._check_alive()
            result = self._state.send(self._clock.time(), message_id, p)
            if self._waiters or self._async_wakers:
                self._wake()
        return result

    def _admit(self, p: PreparedSend, in_batch: bool) -> PreparedSend:
        """*p* as this queue stores it, after the checks that depend on the queue: its size
        limit, the delay, FIFO or standard ids (content-based dedup ids are made here)."""
        settings = self._settings
        body, md5_of_body, attributes, md5_of_attributes, size, delay, group_id, dedup_id, entry = p
        if size > settings.max_message_size:
            verb = "cannot be validated" if in_batch else "are invalid"
            raise InvalidParameterValue(
                f"One or more parameters {verb}. Reason: Message must be shorter than"
                f" {settings.max_message_size} bytes."
            )
        if delay is not None:
            delay = v.check_delay(delay)
        deduplication_id = dedup_id
        if self._fifo:
            if delay:
                raise InvalidParameterValue(
                    f"Value {delay:g} for parameter DelaySeconds is invalid. Reason: The request"
                    " include parameter that is not valid for this queue type."
                )
            delay = None
            if group_id is None:
                if in_batch:
                    raise InvalidParameterValue(
                        "The request must contain the parameter MessageGroupId."
                    )
                raise MissingParameter("The request must contain the parameter MessageGroupId.")
            if not _plain_id(group_id):
                v.check_group_or_dedup_id("MessageGroupId", group_id)
            if deduplication_id is None:
                if not settings.content_based_deduplication:
                    raise InvalidParameterValue(_NEEDS_DEDUP)
                deduplication_id = _sha256(body.encode("utf-8")).hexdigest()
            elif not _plain_id(deduplication_id):
                v.check_group_or_dedup_id("MessageDeduplicationId", deduplication_id)
        else:
            if group_id is not None and not _plain_id(group_id):
                v.check_group_or_dedup_id("MessageGroupId", group_id)
            if deduplication_id is not None:
                raise InvalidParameterValue(
                    f"Value {v.shown(deduplication_id)} for parameter MessageDeduplicationId is"
                    " invalid."
                    " Reason: The request includes a parameter that is not valid for this queue"
                    " type."
                )
        if delay is p[5] and deduplication_id is dedup_id:
            return p
        return (
            body,
            md5_of_body,
            attributes,
            md5_of_attributes,
            size,
            delay,
            group_id,
            deduplication_id,
            entry,
        )

    # --- receiving ---------------------------------------------------------------------------

    def receive(
        self,
        max_messages: int = 1,
        *,
        visibility_timeout: float | None = None,
        wait: float | None = None,
        interrupt: Interrupt | None = None,
    ) -> list[Message]:
        """Receive up to *max_messages* (1..10) messages, waiting up to *wait* seconds.

        ``wait`` None means the queue's ``receive_wait``; with a wait the call returns as
        soon as at least one message is available, or as soon as *interrupt* is set (then
        it returns what it has, usually an empty list, as when the wait runs out; an
        interrupt set beforehand makes it a short poll). Each message returned is hidden for
        ``visibility_timeout`` seconds (the queue's by default) and gets a new receipt
        handle. Messages past ``max_receive_count`` move to the dead-letter queue instead.

        Cost: O(k log n) for k messages, plus O(log n) per message moved or expired.

        Raises:
            InvalidParameterValue: an argument out of range.
            OverLimit: a short poll of a standard queue at its in-flight limit.
            QueueDoesNotExist: the queue was deleted.
        """
        vt, wait_s = self._check_receive_args(max_messages, visibility_timeout, wait)
        clock = self._clock
        deadline = clock.time() + wait_s
        wake: Callable[[], None] | None = None  # ours alone: one interrupt may serve many
        try:
            while True:
                with self._lock:
                    while True:
                        if self._deleted:
                            self._check_alive()
                        now = clock.time()
                        messages, dead = self._take(max_messages, vt, now, wait_s)
                        if messages or dead or now >= deadline:
                            break
                        if interrupt is not None and wake is None:
                            wake = self._interrupt_waker()
                            if interrupt._add(wake):
                                deadline = now  # set already: give up as if the wait ran out
                                break
                        self._waiters += 1
                        try:
                            clock.wait(self._cond, self._wake_at(deadline))
                        finally:
                            self._waiters -= 1
                        if interrupt is not None and interrupt.is_set():
                            deadline = now
                if dead:
                    self._hand_over_dead_letters(dead)
                if messages or now >= deadline:
                    return messages
        finally:
            if wake is not None:
                assert interrupt is not None
                interrupt._discard(wake)

    async def receive_async(
        self,
        max_messages: int = 1,
        *,
        visibility_timeout: float | None = None,
        wait: float | None = None,
        interrupt: Interrupt | None = None,
    ) -> list[Message]:
        """The awaitable twin of :meth:`receive`; it never blocks the event loop.

        A long poll waits on a future that sends (from any thread or task), deletes, the
        clock and *interrupt* complete. Cancelling it leaves the queue unchanged: messages
        are taken only in a step that returns them at once. Cost: as :meth:`receive`.
        """
        vt, wait_s = self._check_receive_args(max_messages, visibility_timeout, wait)
        clock = self._clock
        loop = asyncio.get_running_loop()
        deadline = clock.time() + wait_s
        while True:
            future: asyncio.Future[None] = loop.create_future()
            timer: TimerHandle | None = None

            def wake(future: asyncio.Future[None] = future) -> None:
                if not future.done():
                    future.set_result(None)

            def wake_threadsafe(wake: Callable[[], None] = wake) -> None:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(wake)

            with self._lock:
                self._check_alive()
                now = clock.time()
                messages, dead = self._take(max_messages, vt, now, wait_s)
                idle = not messages and not dead and now < deadline
                if idle and interrupt is not None and interrupt._add(wake_threadsafe):
                    idle = False
                    deadline = now  # set: give up as if the wait ran out
                if idle:
                    self._async_wakers.add(wake_threadsafe)
                    timer = clock.call_at(loop, self._wake_at(deadline), wake)
            if dead:
                self._hand_over_dead_letters(dead)
            if messages or now >= deadline:
                return messages
            if idle:
                try:
                    await future
                finally:
                    assert timer is not None
                    timer.cancel()
                    with self._lock:
                        self._async_wakers.discard(wake_threadsafe)
                    if interrupt is not None:
                        interrupt._discard(wake_threadsafe)
                if interrupt is not None and interrupt.is_set():
                    deadline = now

    def _check_receive_args(
        self, max_messages: int, visibility_timeout: float | None, wait: float | None
    ) -> tuple[float, float]:
        if (
            isinstance(max_messages, bool)
            or not isinstance(max_messages, int)
            or not (1 <= max_messages <= 10)
        ):
            raise InvalidParameterValue(
                f"Value {v.shown(max_messages)}"
                f" for parameter MaxNumberOfMessages is invalid. Reason: Must"
                " be between 1 and 10, if provided."
            )
        if wait is None:
            wait = self._settings.receive_wait
        elif not _in_range(wait, 0, 20):
            raise InvalidParameterValue(
                f"Value {v.shown(wait)}"
                f" for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and"
                " <= 20, if provided."
            )
        if visibility_timeout is None:
            visibility_timeout = self._settings.visibility_timeout
        elif not _in_range(visibility_timeout, 0, MAX_VISIBILITY):
            raise InvalidParameterValue(
                f"Value {v.shown(visibility_timeout)}"
                f" for parameter VisibilityTimeout is invalid. Reason:"
                f" Must be >= 0 and <= {MAX_VISIBILITY}, if provided."
            )
        return float(visibility_timeout), float(wait)

    def _take(
        self, max_messages: int, vt: float, now: float, wait: float
    ) -> tuple[list[Message], list[Record]]:
        """One receive attempt (lock held)."""
        dlq = self._settings.dead_letter_queue
        max_count = (
            self._settings.max_receive_count if dlq is not None and not dlq.deleted else None
        )
        taken = self._state.receive(now, max_messages, vt, max_count)
        if isinstance(taken, Refusal):  # at the in-flight limit
            if wait <= 0 and not self._fifo:
                raise OverLimit(
                    f"The queue {self._name} has {self._state.in_flight} messages in flight,"
                    f" its limit ({self._settings.max_in_flight}); delete messages or let them"
                    " become visible before receiving more."
                )
            return [], []
        if vt <= 0 and taken[0]:
            self._wake()  # ready again for the next caller
        return taken

    def _wake_at(self, deadline: float) -> float:
        nxt = self._state.next_deadline()
        return deadline if nxt is None else min(deadline, nxt)

    def _interrupt_waker(self) -> Callable[[], None]:
        """A new callback (so each receive can unregister its own) that wakes receive's waiters."""

        def wake() -> None:
            with self._lock:
                self._cond.notify_all()

        return wake

    def _wake(self) -> None:
        """Wake every waiting receiver (lock held); they re-check and wait again."""
        if self._waiters:
            self._cond.notify_all()
        if self._async_wakers:
            wakers = list(self._async_wakers)
            self._async_wakers.clear()
            for waker in wakers:
                waker()

    # --- dead letters ------------------------------------------------------------------------

    def _dead_letter_target(self, value: object) -> Queue | None:
        """*value* as this queue's dead-letter queue, or an error (for ``checked``)."""
        if value is None:
            return None
        if not isinstance(value, Queue):
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does"
                f" not exist (dead_letter_queue must be a Queue, got {type(value).__name__})."
            )
        if value is self:
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: a queue cannot be its"
                " own dead-letter queue."
            )
        if value.deleted:
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does"
                " not exist."
            )
        if value.fifo != self._fifo:
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must"
                " be same type of queue as the source."
            )
        # A dead letter keeps its enqueue time (retention), which only means something on
        # the clock it was read from.
        if not same_time(value.clock, self._clock):
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: the dead-letter queue"
                " must run on the source queue's clock (give both the same clock, or create"
                " both through one Broker)."
            )
        return value

    def _relink(self, old: Queue | None, new: Queue | None) -> None:
        """Record that this queue names *new* as its dead-letter queue instead of *old*.

        The link is kept by the dead-letter queue's own component, so it holds wherever
        this queue came from.
        """
        if old is new:
            return
        if old is not None:
            old._dead_letters.remove_source(old, self)
        if new is not None:
            new._dead_letters.add_source(new, self)

    def _hand_over_dead_letters(self, records: list[Record]) -> None:
        """Give records removed by a receive to the dead-letter queue (no lock held)."""
        dlq = self._settings.dead_letter_queue
        if dlq is None or not dlq._accept_dead_letters(records, self):
            # The dead-letter queue went away meanwhile: keep the messages here.
            with self._lock:
                self._state.restore(self._clock.time(), records)
                self._wake()
        with self._lock:
            self._state.forget(records)  # only now: they are stored elsewhere

    def _accept_dead_letters(self, records: list[Record], source: Queue) -> bool:
        with self._lock:
            if self._deleted:
                return False
            self._origins[source._token] = source
            self._state.accept_dead_letters(self._clock.time(), records, source.arn, source._token)
            self._wake()
        return True

    def redrive(self, destination: Queue | None = None, *, max_messages: int | None = None) -> int:
        """Move messages from this dead-letter queue back to where they came from.

        Messages move oldest first, each to the queue it was dead-lettered from (or all
        to *destination*), as new messages: new message id, receive count 0, retention
        counted afresh. Messages in flight when the call starts stay. Messages with no
        known source (sent here directly) stay unless a *destination* is given.

        Cost: O(n) once to list the ready messages, then O(log n) per message moved.

        Returns:
            How many messages moved.

        Raises:
            InvalidParameterValue: no live queue names this one as its dead-letter queue;
                *destination* is of the other kind (FIFO/standard) or deleted;
                *max_messages* is not a positive int.
            QueueDoesNotExist: this queue was deleted.
        """
        self._dead_letters.check_redrive(self, destination)
        if max_messages is not None and (
            isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1
        ):
            raise InvalidParameterValue(
                f"max_messages must be a positive int or None, got {max_messages!r}."
            )
        return self._redrive_from(self._redrive_candidates(), destination, max_messages)

    def _redrive_candidates(self) -> deque[Record]:
        """The messages a redrive starting now may move, oldest first."""
        with self._lock:
            self._check_alive()
            return self._state.redrive_candidates(self._clock.time())

    def _redrive_from(
        self, candidates: deque[Record], destination: Queue | None, max_messages: int | None
    ) -> int:
        """Move up to *max_messages* of *candidates* (taken from the front) in batches of 10.

        The lock is taken per batch, so sends and receives go on during a long redrive.
        """
        moved = 0
        while max_messages is None or moved < max_messages:
            limit = 10 if max_messages is None else min(10, max_messages - moved)
            batch = self._take_for_redrive(candidates, destination, limit)
            if not batch:
                break
            moved += self._redrive_batch(batch)
        return moved

    def start_redrive(self, destination: Queue | None = None, *, rate: float) -> RedriveTask:
        """Start a rate-limited redrive (StartMessageMoveTask) from this queue.

        Message ``i`` (0-based, oldest first) moves at ``start + (i + 1) / rate`` on this
        queue's clock, exactly as :meth:`redrive` would move it. See
        :class:`mqlite._redrive.RedriveTask` for status, progress and ``cancel()``.
        Cost: O(n) once to list the ready messages, then O(log n) per message moved, on
        the task's own thread.

        Raises:
            InvalidParameterValue: *rate* outside 1..500, no live queue names this one as
                its dead-letter queue, *destination* of the other kind or deleted, or
                another task on this queue is still running.
            QueueDoesNotExist: this queue was deleted.
        """
        return self._dead_letters.start_redrive(self, destination, rate)

    def redrive_tasks(self, max_results: int = 1) -> list[RedriveTask]:
        """This queue's most recent message move tasks, newest first (ListMessageMoveTasks).

        Each dead-letter queue remembers its last 10 tasks from :meth:`start_redrive`,
        running or ended; at most one is RUNNING, and it is the newest. See
        :class:`mqlite.RedriveTask` for what each task shows. Cost: O(1) (at most 10).

        Raises:
            InvalidParameterValue: *max_results* is not an int from 1 to 10.
            QueueDoesNotExist: this queue was deleted.
        """
        return self._dead_letters.list_tasks(self, max_results)

    def _take_for_redrive(
        self, candidates: deque[Record], destination: Queue | None, limit: int
    ) -> list[tuple[Record, Queue]]:
        """Remove up to *limit* candidates that are still ready and have somewhere to go,
        each with where it goes."""
        with self._lock:
            self._check_alive()
            targets: dict[str, Queue] = {}
            if destination is None:
                targets = {t: q for t, q in self._origins.items() if not q.deleted}
            elif destination.deleted:
                return []
            taken = self._state.take_for_redrive(
                self._clock.time(), candidates, limit, None if destination else targets
            )
            return [
                (rec, destination or targets[rec.dead_letter_source])  # type: ignore[index]
                for rec in taken
            ]

    def _redrive_batch(self, moves: list[tuple[Record, Queue]]) -> int:
        moved = 0
        for rec, target in moves:
            try:
                # Checked when it was first sent: it goes in as it is, with the target's
                # own delay.
                target._send(
                    stored(
                        rec.body,
                        rec.md5_of_body,
                        rec.attributes,
                        rec.md5_of_attributes,
                        rec.group_id,
                        rec.deduplication_id if target.fifo else None,
                    )
                )
                moved += 1
            except QueueDoesNotExist:
                with self._lock:
                    self._state.restore(self._clock.time(), [rec])
                    self._wake()
        with self._lock:
            # Only now, each being stored where it went (or back here).
            self._state.forget([rec for rec, _ in moves])
        if self._store is not None:
            self._store.sync()
        return moved

    # --- deleting and visibility -------------------------------------------------------------

    def delete(self, handle: str | Message) -> None:
        """Delete a received message by its receipt handle (or the ``Message`` itself).

        Deleting twice, or a message already gone, is a no-op, as in SQS. On a standard
        queue an older handle of the message still works; on a FIFO queue only the
        handle of the current, unexpired receive does.

        Cost: O(log n).

        Raises:
            ReceiptHandleIsInvalid: the handle was never issued by this queue.
            InvalidParameterValue: FIFO, and the handle has expired.
            QueueDoesNotExist: the queue was deleted.
        """
        if type(handle) is str:
            text = handle
        elif type(handle) is Message and handle.receipt_handle is not None:
            text = handle.receipt_handle  # a received message: the common case, inlined
        else:
            text = _handle_text(handle)
        with self._lock:
            if self._deleted:
                self._check_alive()
            done = self._state.delete(self._clock.time(), text)
            if done is True:
                self._wake()
            elif done is not False:
                self._refuse(done, text)

    def _refuse(self, refusal: Refusal, handle: object, timeout: float = 0) -> NoReturn:
        """Raise the error for what the core refused about *handle*."""
        if refusal is Refusal.INVALID_HANDLE:
            raise ReceiptHandleIsInvalid(
                f'The input receipt handle "{v.shown(handle)}" is not a valid receipt handle.'
            )
        if refusal is Refusal.EXPIRED_HANDLE:
            raise InvalidParameterValue(
                f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt"
                " handle has expired."
            )
        if refusal is Refusal.MESSAGE_GONE:
            raise InvalidParameterValue(
                f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does"
                " not exist or is not available for visibility timeout change."
            )
        if refusal is Refusal.VISIBILITY_CAP:
            raise InvalidParameterValue(
                f"Value {timeout:g} for parameter VisibilityTimeout is invalid. Reason: Total"
                " VisibilityTimeout for the message is beyond the limit"
                f" [{MAX_VISIBILITY} seconds]"
            )
        raise AssertionError(f"no error for {refusal}")

    def delete_batch(self, entries: Iterable[DeleteEntry]) -> BatchResult[DeleteResult]:
        """Delete up to 10 messages; each entry succeeds or fails on its own.

        Cost: O(k log n) for k entries.

        Raises:
            EmptyBatchRequest, TooManyEntriesInBatchRequest, InvalidBatchEntryId,
            BatchEntryIdsNotDistinct: the whole batch is refused.
        """
        items = _entries(entries, DeleteEntry)
        v.check_batch_ids(e.id for e in items)
        successful: list[DeleteResult] = []
        failed: list[BatchFailure] = []
        with self._lock:
            self._check_alive()
            now = self._clock.time()
            for e in items:
                try:
                    done = self._state.delete(now, e.receipt_handle)
                    if done is True:
                        self._wake()
                    elif done is not False:
                        self._refuse(done, e.receipt_handle)
                except ReceiptHandleIsInvalid as error:
                    failed.append(BatchFailure(e.id, error.legacy_code, error.message))
                except InvalidParameterValue:
                    # SQS reports an expired FIFO handle in a batch under this code.
                    failed.append(
                        BatchFailure(
                            e.id, "ReceiptHandleIsInvalid", "The receipt handle has expired"
                        )
                    )
                else:
                    successful.append(DeleteResult(e.id))
        return BatchResult(successful, failed)

    def change_visibility(self, handle: str | Message, timeout: float) -> None:
        """Hide an in-flight message for *timeout* more seconds, counted from now.

        ``0`` makes it visible at once (and, on a FIFO queue, releases its group). The
        total stays within 12 hours of the receive that issued the current handle.

        Cost: O(log n).

        Raises:
            ReceiptHandleIsInvalid: the handle was never issued by this queue.
            InvalidParameterValue: *timeout* out of range, the message is gone, the
                12-hour cap would be passed, or (FIFO) the handle has expired.
            QueueDoesNotExist: the queue was deleted.
        """
        text = _handle_text(handle)
        timeout = self._check_timeout(timeout)
        self._check_handle(text)
        with self._lock:
            self._check_alive()
            self._change_visibility(text, timeout, self._clock.time())

    def _check_timeout(self, timeout: object) -> float:
        if not _in_range(timeout, 0, MAX_VISIBILITY):
            raise InvalidParameterValue(
                f"Value {v.shown(timeout)}"
                f" for parameter VisibilityTimeout is invalid. Reason: Must be"
                f" >= 0 and <= {MAX_VISIBILITY}."
            )
        return float(timeout)

    def _change_visibility(self, text: str, timeout: float, now: float) -> None:
        changed = self._state.change_visibility(now, text, timeout)
        if changed is True:
            self._wake()
        elif changed is not False:
            self._refuse(changed, text, timeout)

    def change_visibility_batch(
        self, entries: Iterable[VisibilityEntry]
    ) -> BatchResult[VisibilityResult]:
        """Change the visibility of up to 10 messages; each entry succeeds or fails alone.

        Cost: O(k log n) for k entries.

        Raises:
            EmptyBatchRequest, TooManyEntriesInBatchRequest, InvalidBatchEntryId,
            BatchEntryIdsNotDistinct: the whole batch is refused.
        """
        items = _entries(entries, VisibilityEntry)
        v.check_batch_ids(e.id for e in items)
        successful: list[VisibilityResult] = []
        failed: list[BatchFailure] = []
        with self._lock:
            self._check_alive()
            now = self._clock.time()
            for e in items:
                try:
                    timeout = self._check_timeout(e.timeout)
                    self._check_handle(e.receipt_handle)
                    self._change_visibility(e.receipt_handle, timeout, now)
                except MqliteError as error:  # this entry fails alone
                    failed.append(BatchFailure(e.id, error.legacy_code, error.message))
                else:
                    successful.append(VisibilityResult(e.id))
        return BatchResult(successful, failed)

    def _check_handle(self, handle: object) -> None:
        """Refuse a handle this queue cannot have issued (before the queue is looked at)."""
        if self._state.decode_handle(handle) is None:
            self._refuse(Refusal.INVALID_HANDLE, handle)

    # --- whole-queue operations --------------------------------------------------------------

    def purge(self) -> None:
        """Delete every message: visible, in flight and delayed (and FIFO dedup records).

        Messages sent after the call are kept. At most one purge per 60 seconds.

        Cost: O(1) (memory is released as the records are dropped).

        Raises:
            PurgeQueueInProgress: the last purge was less than 60 seconds ago.
            QueueDoesNotExist: the queue was deleted.
        """
        with self._lock:
            self._check_alive()
            if self._state.purge(self._clock.time()) is Refusal.PURGE_IN_PROGRESS:
                raise PurgeQueueInProgress(
                    f"Only one PurgeQueue operation on {self._name} is allowed every"
                    f" {PURGE_INTERVAL} seconds."
                )
            self._wake()

    def stats(self) -> QueueStats:
        """The queue's counts now: visible, in flight, delayed. Cost: O(1) amortised."""
        with self._lock:
            self._check_alive()
            return self._state.stats(self._clock.time())

    def peek(
        self, *, include_in_flight: bool = False, include_delayed: bool = False
    ) -> list[Message]:
        """Look at the messages without changing anything, in send order.

        No receive count changes and nothing is hidden; ``receipt_handle`` is ``None``.
        Visible messages are always included; in-flight and delayed ones on request.

        Cost: O(n) — meant for tests and debugging, not hot paths.
        """
        with self._lock:
            self._check_alive()
            return self._state.peek(
                self._clock.time(), in_flight=include_in_flight, delayed=include_delayed
            )

    def check_invariants(self) -> None:
        """Verify the core's internal invariants (for tests). Cost: O(n)."""
        with self._lock:
            self._state.check_invariants()

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def path(self) -> str | None:
        """The file this queue is stored in, or ``None`` for an in-memory queue."""
        return None if self._store is None else self._store.path

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or its broker was closed)."""
        return self._closed

    def close(self) -> None:
        """Close the queue: every later call raises :class:`~mqlite.errors.Closed`.

        Receives waiting in a long poll (threads and ``receive_async``) wake at once and
        raise it too. A durable queue commits what is pending, checkpoints its file and
        releases it, so another opener may use it. The messages held in memory are freed
        (a durable queue's stay in its file). Closing twice does nothing.

        Cost: O(w) for w waiting receives; a durable queue adds one commit and a checkpoint.
        """
        self._shut()
        if self._owns_store and self._store is not None:
            self._store.close()
        self._free_messages()

    def _shut(self) -> None:
        """Refuse every later call and wake every waiter (``close``; a broker's close)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._deleted = True  # every call's existing test for deletion now refuses
            self._cond.notify_all()
            wakers = list(self._async_wakers)
            self._async_wakers.clear()
        for waker in wakers:
            waker()

    def _free_messages(self) -> None:
        """Free the messages held in memory, once closed and stored (``close``; a
        broker's close): no call can reach them any more."""
        with self._lock:
            self._state.release()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _mark_deleted(self) -> None:
        """Drop every message and refuse further calls (``Broker.delete_queue``)."""
        with self._lock:
            self._deleted = True
            self._relink(self._settings.dead_letter_queue, None)
            self._state.clear()
            self._cond.notify_all()
            wakers = list(self._async_wakers)
            self._async_wakers.clear()
        for waker in wakers:
            waker()

    def _check_alive(self) -> None:
        if self._closed:
            raise Closed(f"The queue {self._name} is closed.")
        if self._deleted:
            raise QueueDoesNotExist("The specified queue does not exist.")

    # --- asyncio twins -----------------------------------------------------------------------

    async def send_async(
        self,
        body: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        delay: float | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> SendResult:
        """The awaitable twin of :meth:`send` (sending never waits). Cost: as :meth:`send`."""
        return self.send(
            body,
            attributes=attributes,
            delay=delay,
            group_id=group_id,
            deduplication_id=deduplication_id,
        )

    async def send_batch_async(self, entries: Iterable[SendEntry]) -> BatchResult[SendResult]:
        """The awaitable twin of :meth:`send_batch`. Cost: as :meth:`send_batch`."""
        return self.send_batch(entries)

    async def delete_async(self, handle: str | Message) -> None:
        """The awaitable twin of :meth:`delete`. Cost: as :meth:`delete`."""
        self.delete(handle)

    async def delete_batch_async(self, entries: Iterable[DeleteEntry]) -> BatchResult[DeleteResult]:
        """The awaitable twin of :meth:`delete_batch`. Cost: as :meth:`delete_batch`."""
        return self.delete_batch(entries)

    async def change_visibility_async(self, handle: str | Message, timeout: float) -> None:
        """The awaitable twin of :meth:`change_visibility`. Cost: as :meth:`change_visibility`."""
        self.change_visibility(handle, timeout)

    async def change_visibility_batch_async(
        self, entries: Iterable[VisibilityEntry]
    ) -> BatchResult[VisibilityResult]:
        """The awaitable twin of :meth:`change_visibility_batch`.

        Cost: as :meth:`change_visibility_batch`.
        """
        return self.change_visibility_batch(entries)

    async def purge_async(self) -> None:
        """The awaitable twin of :meth:`purge`. Cost: as :meth:`purge`."""
        self.purge()

    async def stats_async(self) -> QueueStats:
        """The awaitable twin of :meth:`stats`. Cost: as :meth:`stats`."""
        return self.stats()


_NEEDS_DEDUP = (
    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId"
    " provided explicitly"
)


def _handle_text(handle: str | Message) -> str:
    if isinstance(handle, Message):
        if handle.receipt_handle is None:
            raise ReceiptHandleIsInvalid(
                "This message came from peek() and has no receipt handle; receive it first."
            )
        return handle.receipt_handle
    return handle


_in_range = v.in_range

_E = TypeVar("_E")


def _entries(entries: object, kind: type[_E]) -> list[_E]:
    """The entries of a batch call as a list, each of the call's entry type."""
    if isinstance(entries, str | bytes) or not isinstance(entries, Iterable):
        raise InvalidParameterValue(
            f"Batch entries must be an iterable of {kind.__name__}, not {type(entries).__name__}."
        )
    items = list(entries)
    for e in items:
        if not isinstance(e, kind):
            raise InvalidParameterValue(
                f"Each batch entry must be a {kind.__name__}, not {type(e).__name__}."
            )
    return items


class _DurableQueue(Queue):
    """A queue stored in a file: each call that changes it returns once that change is
    committed (group commit shares commits between threads)."""

    def _sync(self) -> None:
        store = self._store
        assert store is not None
        store.sync()

    def configure(self, **changes: Any) -> None:
        super().configure(**changes)
        self._sync()

    def stats(self) -> QueueStats:
        # After a failed write memory may hold what the file does not: refuse to show it.
        store = self._store
        assert store is not None
        store.check_usable()
        result = super().stats()
        # What it showed (messages ready or expired by now) must survive a kill, even if
        # the clock is set back before the reopen.
        store.sync()
        return result

    def peek(
        self, *, include_in_flight: bool = False, include_delayed: bool = False
    ) -> list[Message]:
        store = self._store
        assert store is not None
        store.check_usable()
        result = super().peek(include_in_flight=include_in_flight, include_delayed=include_delayed)
        store.sync()  # as in stats
        return result

    def _send(self, p: PreparedSend) -> SendResult:
        result = Queue._send(self, p)
        self._store.sync()  # type: ignore[union-attr]  # a durable queue has one
        return result

    def send_batch(self, entries: Iterable[SendEntry]) -> BatchResult[SendResult]:
        result = super().send_batch(entries)
        self._sync()
        return result

    def receive(
        self,
        max_messages: int = 1,
        *,
        visibility_timeout: float | None = None,
        wait: float | None = None,
        interrupt: Interrupt | None = None,
    ) -> list[Message]:
        messages = super().receive(
            max_messages, visibility_timeout=visibility_timeout, wait=wait, interrupt=interrupt
        )
        self._sync()  # the new receive counts and deadlines are stored before we return
        return messages

    async def receive_async(
        self,
        max_messages: int = 1,
        *,
        visibility_timeout: float | None = None,
        wait: float | None = None,
        interrupt: Interrupt | None = None,
    ) -> list[Message]:
        messages = await super().receive_async(
            max_messages, visibility_timeout=visibility_timeout, wait=wait, interrupt=interrupt
        )
        store = self._store
        assert store is not None
        if store.durability != "power":
            # A "crash" commit (no fsync, ~15-30 us) costs less than handing it to a thread
            # and back (measured ~110 us more per receive): wait for it here.
            store.sync()
            return messages
        # A "power" commit waits for the disk's flush (0.2 ms to many ms): wait in a
        # thread, so the loop's other tasks run meanwhile.
        try:
            await asyncio.get_running_loop().run_in_executor(None, store.sync)
        except asyncio.CancelledError:
            # The caller is gone and will never see these messages: make them visible
            # again at once rather than hidden for their whole visibility timeout.
            for message in messages:
                try:
                    self.change_visibility(message, 0)
                except MqliteError:
                    pass
            raise
        return messages

    def delete(self, handle: str | Message) -> None:
        super().delete(handle)
        self._sync()

    def delete_batch(self, entries: Iterable[DeleteEntry]) -> BatchResult[DeleteResult]:
        result = super().delete_batch(entries)
        self._sync()
        return result

    def change_visibility(self, handle: str | Message, timeout: float) -> None:
        super().change_visibility(handle, timeout)
        self._sync()

    def change_visibility_batch(
        self, entries: Iterable[VisibilityEntry]
    ) -> BatchResult[VisibilityResult]:
        result = super().change_visibility_batch(entries)
        self._sync()
        return result

    def purge(self) -> None:
        super().purge()
        self._sync()

    def redrive(self, destination: Queue | None = None, *, max_messages: int | None = None) -> int:
        moved = super().redrive(destination, max_messages=max_messages)
        self._sync()
        return moved
