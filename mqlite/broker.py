"""A namespace of queues and topics: one "account in one region".

``Broker`` follows CreateQueue / GetQueueUrl / ListQueues / DeleteQueue
and CreateTopic / GetTopicAttributes / ListTopics / DeleteTopic. Queues and topics it
makes share its clock, region and account id, so their ARNs and URLs agree.

Deliberate choices:

* ``create_queue`` on an existing name compares only the settings passed in the call with
  the queue's *current* settings (after any ``configure``), as AWS does; equal values
  return the same ``Queue`` object. Numbers compare by value (``30 == 30.0``); a
  dead-letter queue compares by identity.
* ``delete_queue`` deletes at once (AWS takes up to 60 s); re-creating the name within
  60 s of the delete raises ``QueueDeletedRecently``. Deleting a queue that other queues
  use as their dead-letter queue leaves their settings alone: while the dead-letter queue
  is deleted their messages are delivered normally instead of being moved (AWS would
  lose them). A *new* queue created later under the same name is not the old object, so
  the sources keep delivering normally; reconfigure them to point at the new queue.
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import threading
from typing import Any

import attrs
from sortedcontainers import SortedDict

from ._dead_letters import DeadLetters
from ._redrive import RUNNING, RedriveTask, decode_handle
from ._settings import SETTING_NAMES
from ._store import Store, check_durability, check_path, dumps
from .clock import Clock, SystemClock
from .errors import (
    Closed,
    InvalidParameter,
    NotFound,
    QueueDeletedRecently,
    QueueDoesNotExist,
    QueueNameExists,
    ResourceNotFound,
)
from .queue import Queue, _DurableQueue
from .topic import OUTBOX, Topic, _Published

__all__ = ["Broker"]

#: Key prefixes of the extras a queue or topic takes with it when it is deleted: what the
#: AWS layer keeps about a queue (``sqs-queue:<name>``) or a topic (``sns-topic:<name>``),
#: and a dead-letter queue's move tasks (``move:<name>``).
QUEUE_EXTRAS = "sqs-queue:"
TOPIC_EXTRAS = "sns-topic:"
MOVE_TASKS = "move:"
#: Key prefix of the AWS layer's FIFO receive attempts, ``sqs-attempt:<name>:<attempt id>``
#: (queue names hold no ``:``); they go with their queue too.
QUEUE_ATTEMPTS = "sqs-attempt:"

#: Seconds after a delete during which the same queue name cannot be created again.
DELETE_COOL_DOWN = 60.0

# Constructor keyword -> the AWS attribute name used in QueueNameExists messages.
_AWS_NAMES: dict[str, str] = {
    "visibility_timeout": "VisibilityTimeout",
    "delay": "DelaySeconds",
    "retention": "MessageRetentionPeriod",
    "max_message_size": "MaximumMessageSize",
    "receive_wait": "ReceiveMessageWaitTimeSeconds",
    "fifo": "FifoQueue",
    "content_based_deduplication": "ContentBasedDeduplication",
    "deduplication_scope": "DeduplicationScope",
    "fifo_throughput_limit": "FifoThroughputLimit",
    "dead_letter_queue": "RedrivePolicy",
    "max_receive_count": "RedrivePolicy",
    "max_in_flight": "MaxInFlight",
}


class Broker:
    """Queues and topics sharing one clock, region and account.

    All methods are thread-safe.

    Example::

        broker = Broker(clock=ManualClock())
        jobs = broker.create_queue("jobs", visibility_timeout=60)
        assert broker.get_queue("jobs") is jobs
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        path: str | os.PathLike[str] | None = None,
        durability: str = "crash",
    ) -> None:
        check_durability(durability)
        if path is not None:
            path = check_path(path)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._region = region
        self._account_id = account_id
        self._lock = threading.RLock()
        # Sorted by name: listing is O(log n + k), not a sort of every name per call.
        self._queues: SortedDict[str, Queue] = SortedDict()
        # Deleted names, for the 60 s cool-down only: each delete also goes in a heap by
        # time, and names whose cool-down ended are dropped from its front as calls come
        # (each entry once: amortised O(log n), never a scan).
        self._deleted_at: dict[str, float] = {}
        self._deletes: list[tuple[float, str]] = []
        self._topics: SortedDict[str, Topic] = SortedDict()
        # Dead-letter links and move tasks of this broker's queues (no other broker's).
        self._dead_letters = DeadLetters()
        self._closed = False
        # The last queue id given in the file (a new queue takes the next).
        self._last_qid = 0
        # Stored extras by key (durable only): data the AWS layer keeps beside the core's,
        # and move tasks. Read at opening, kept in step with every save.
        self._extra_values: dict[str, Any] = {}
        #: The file everything is stored in (``None``: in memory).
        self._store: Store | None = None
        if path is not None:
            store = Store(path, kind="broker", name="", durability=durability)
            try:
                self._load(store)
                opened_at = self._clock.time()
                with store.reading():  # a damaged page is a StorageError here too
                    ended = self._load_extras(store, opened_at)
                if ended:
                    # The file is accepted: only now drop the dedup entries not taken
                    # back (their window ended by the opening time).
                    store.append(
                        "DELETE FROM topic_dedup WHERE key<>'' AND expiry<=?", (opened_at,)
                    )
                    store.sync()
                self._deliver_outbox()
            except BaseException:
                for queue in self._queues.values():
                    queue._shut()
                store.close(commit=False)  # a refused file stays as it was
                raise

    def _load(self, store: Store) -> None:
        """Restore every stored queue (then their dead-letter links) from *store*; a
        damaged file raises :class:`StorageError`."""
        with store.reading():
            self._restore(store)

    def _restore(self, store: Store) -> None:
        rows = store.conn.execute("SELECT id, name, settings FROM queues ORDER BY id").fetchall()
        links: list[tuple[Queue, str, str | None, int]] = []
        for qid, name, settings_text in rows:
            self._last_qid = qid
            settings = json.loads(settings_text)
            dlq = settings.pop("dead_letter_queue")
            token = settings.pop("dead_letter_token", None)
            queue = self._new_queue(name, settings, store, qid)
            if dlq is not None:
                links.append((queue, dlq, token, settings["max_receive_count"]))
        self._store = store
        for name, fifo, cbd, subs in store.conn.execute(
            "SELECT name, fifo, cbd, subscriptions FROM topics ORDER BY rowid"
        ).fetchall():
            topic = self._new_topic(
                name, {"fifo": bool(fifo), "content_based_deduplication": bool(cbd)}
            )
            topic._on_change = None  # nothing to store while restoring
            for sub in json.loads(subs):
                target = self._queues.get(sub["queue"])
                if target is None:
                    continue
                dlq = sub["dead_letter_queue"]
                restored = topic.subscribe(
                    target,
                    filter_policy=sub["filter_policy"] or "",
                    filter_policy_scope=sub["scope"],
                    raw_message_delivery=sub["raw"],
                    dead_letter_queue=None if dlq is None else self._queues.get(dlq),
                )
                restored._keep_arn(sub["arn"])
            topic._on_change = self._save_topics
        for queue, dlq_name, token, max_count in links:
            target = self._queues.get(dlq_name)
            if target is not None and token in (None, target._token):
                queue.configure(dead_letter_queue=target, max_receive_count=max_count)
                target._origins[queue._token] = queue
            else:
                # Its dead-letter queue was deleted: in memory the queue keeps naming it
                # (a deleted Queue; receives past the count deliver normally), so restore
                # the same: a deleted stand-in of that name and ARN.
                ghost = Queue(
                    dlq_name, clock=self._clock, region=self._region, account_id=self._account_id
                )
                ghost._mark_deleted()
                with queue._lock:
                    queue._settings = attrs.evolve(queue._settings, dead_letter_queue=ghost)
                    queue._save_settings()  # opening the queue stored it without its link
                store.sync()
        self._store = store

    def _load_extras(self, store: Store, now: float) -> bool:
        """After :meth:`_load`: the extras kept for other layers, FIFO topics' dedup
        windows, and move tasks (a RUNNING one goes on from where it was). Returns
        whether stored dedup entries were left out (their window ended by *now*)."""
        for key, text in store.conn.execute("SELECT key, value FROM extras").fetchall():
            self._extra_values[key] = json.loads(text)
        ended = False
        for topic in self._topics.values():
            if topic.fifo:
                ended = self._restore_topic_dedup(store, topic, now) or ended
        self._dead_letters.on_task_change = self._save_tasks
        self._restore_tasks()
        return ended

    def _restore_tasks(self) -> None:
        """Put back every stored move task; a RUNNING one goes on from where it was."""
        for key, stored in self._extras(MOVE_TASKS).items():
            source = self._queues.get(key[len(MOVE_TASKS) :])
            if source is None:
                continue
            tasks = []
            for data in stored:
                name = data["destination"]
                destination = None if name is None else self._queues.get(name)
                tasks.append(RedriveTask._restore(source, destination, data))
            self._dead_letters.restore_history(source, tasks)
            for task, data in zip(tasks, stored, strict=True):
                if task.status != data["status"]:  # its destination is gone
                    self._save_tasks(task)
                elif task.status == RUNNING:
                    task._start()

    def _save_tasks(self, task: RedriveTask) -> None:
        """Store the move tasks of *task*'s source queue (called after each change)."""
        store = self._store
        if store is None:
            return
        try:
            source = task.source
        except QueueDoesNotExist:
            return
        key = f"{MOVE_TASKS}{source.name}"
        with self._lock:
            # A closed broker stores nothing more; a deleted queue's tasks went with it.
            if self._closed or self._queues.get(source.name) is not source:
                return
            stored = [each._snapshot() for each in self._dead_letters.history(source)]
            self._extra_values[key] = stored
            store.append("INSERT OR REPLACE INTO extras VALUES (?,?)", (key, dumps(stored)))
        store.sync()

    def _restore_topic_dedup(self, store: Store, topic: Topic, now: float) -> bool:
        """Take back a FIFO topic's dedup window (the entries not expired by *now*) and
        its sequence number; returns whether some had expired (the caller deletes them
        once the file is accepted)."""
        sequence = 0
        ended = False
        entries: list[tuple[str, str, str, float]] = []
        for key, value, expiry in store.conn.execute(
            "SELECT key, value, expiry FROM topic_dedup WHERE topic=? ORDER BY expiry",
            (topic.name,),
        ).fetchall():
            if key == "":
                sequence = int(value)
            elif expiry > now:
                message_id, seq = json.loads(value)
                entries.append((key, message_id, seq, expiry))
            else:
                ended = True
        topic._restore_dedup(entries, sequence)
        self._watch_topic_dedup(topic)
        return ended

    def _watch_topic_dedup(self, topic: Topic) -> None:
        """Let a durable broker's topic store its outbox (deliveries publish leaves to
        another thread or the executor), and a FIFO topic its dedup window, as it
        publishes."""
        store = self._store
        if store is None:
            return
        topic._outbox_store = self._store_outbox
        topic._dedup_sync = store.sync
        if topic.fifo:
            topic._dedup_store = self._store_topic_dedup

    def _store_outbox(self, key: str, data: dict[str, Any] | None) -> None:
        """Append (the topic commits it) a delivery to make, or (*data* None) that it was
        made. Called under the topic's lock, so rows go in publish order."""
        store = self._store
        assert store is not None
        if data is None:
            store.append("DELETE FROM extras WHERE key=?", (key,))
        else:
            store.append("INSERT OR REPLACE INTO extras VALUES (?,?)", (key, dumps(data)))

    def _deliver_outbox(self) -> None:
        """Make the deliveries a kill left in the outbox, in publish order, then forget
        them: to the subscriptions still there (callables are code: not restored). A
        FIFO queue's dedup window absorbs one made twice (a kill after it was made)."""
        store = self._store
        assert store is not None
        left = sorted(k for k in self._extra_values if k.startswith(OUTBOX))
        for key in left:
            data = self._extra_values.pop(key)
            name = key[len(OUTBOX) :].split(":", 1)[0]
            topic = self._topics.get(name)
            if topic is not None:
                subscriptions = {sub.arn: sub for sub in topic.subscriptions}
                targets = [subscriptions[a] for a in data["targets"] if a in subscriptions]
                published = _Published.from_data(data)
                published.outbox_key = key  # deleted once made, as in a running broker
                topic._deliver_all(published, targets)
            else:
                store.append("DELETE FROM extras WHERE key=?", (key,))
                store.sync()

    def _store_topic_dedup(
        self, name: str, expired: list[str], entries: list[tuple[str, str, str, float]]
    ) -> None:
        """Append (the topic commits them) the dedup ids the FIFO topic *name* forgot, its
        new dedup entries and its last sequence number (the row with the empty key: an
        empty dedup id is never accepted). Called under the topic's lock, so rows go in
        publish order; the forgotten ids go in one statement of primary-key deletes, in
        step with memory even when the clock was set back."""
        store = self._store
        assert store is not None
        if len(expired) == 1:  # the usual sweep under steady traffic: the cheapest form
            store.append("DELETE FROM topic_dedup WHERE topic=? AND key=?", (name, expired[0]))
        elif expired:
            store.append(
                "DELETE FROM topic_dedup WHERE topic=? AND key IN (SELECT value FROM json_each(?))",
                (name, dumps(expired)),
            )
        for key, message_id, seq, expiry in entries:
            store.append(
                "INSERT OR REPLACE INTO topic_dedup VALUES (?,?,?,?)",
                (name, key, dumps([message_id, seq]), expiry),
            )
        if entries:
            store.append(
                "INSERT OR REPLACE INTO topic_dedup VALUES (?,'',?,0)", (name, entries[-1][2])
            )

    # --- extras: data kept for other layers, stored in the broker's file ----------------------

    def _save_extra(self, key: str, value: Any) -> None:
        """Store *value* (JSON-able; ``None`` deletes) under *key*, committed before this
        returns. An in-memory broker does nothing. Keys ``sqs-queue:<name>`` and
        ``sns-topic:<name>`` go with their queue or topic when it is deleted."""
        store = self._store
        if store is None:
            return
        with self._lock:
            if value is None:
                self._extra_values.pop(key, None)
                store.append("DELETE FROM extras WHERE key=?", (key,))
            else:
                self._extra_values[key] = value
                store.append("INSERT OR REPLACE INTO extras VALUES (?,?)", (key, dumps(value)))
        store.sync()

    def _drop_extras(self, keys: list[str]) -> None:
        """Delete the extras under *keys*, in one commit before this returns (an
        in-memory broker does nothing)."""
        store = self._store
        if store is None or not keys:
            return
        with self._lock:
            for key in keys:
                if self._extra_values.pop(key, None) is not None:
                    store.append("DELETE FROM extras WHERE key=?", (key,))
        store.sync()

    def _extras(self, prefix: str) -> dict[str, Any]:
        """The stored extras whose key starts with *prefix* (empty in memory)."""
        with self._lock:
            return {k: v for k, v in self._extra_values.items() if k.startswith(prefix)}

    def _new_queue(
        self, name: str, settings: dict[str, Any], store: Store | None, qid: int
    ) -> Queue:
        """Make a queue of this broker (stored as *qid* of *store* when there is one)."""
        kind = Queue if store is None else _DurableQueue
        queue = kind(
            name,
            clock=self._clock,
            region=self._region,
            account_id=self._account_id,
            **settings,
        )
        # Not yet seen by anyone, so nothing names it as a dead-letter queue and it has
        # no tasks: its own component is empty and can be swapped for the shared one.
        queue._dead_letters = self._dead_letters
        if store is not None:
            try:
                queue._attach(store, qid)
            except BaseException:
                queue._shut()
                raise
        self._queues[queue.name] = queue
        return queue

    @property
    def path(self) -> str | None:
        """The file this broker is stored in, or ``None`` for an in-memory broker."""
        return None if self._store is None else self._store.path

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Close the broker and every queue of it (see :meth:`Queue.close`): later calls
        on the broker, its queues, topics and subscriptions raise
        :class:`~mqlite.errors.Closed`, and waiting receives wake and raise it. A durable
        broker commits what is pending and releases its file. Idempotent.

        Cost: O(q) for q queues.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            queues = list(self._queues.values())
            topics = list(self._topics.values())
        if self._store is not None:
            # Running move tasks stop as they are stored: reopening the file resumes them.
            for queue in queues:
                for task in self._dead_letters.history(queue):
                    task._halt()
        for topic in topics:
            topic._shut()
        for queue in queues:
            queue._shut()
        if self._store is not None:
            self._store.close()
        for queue in queues:
            queue._free_messages()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise Closed("The broker is closed.")

    @property
    def clock(self) -> Clock:
        """The clock every queue and topic of this broker uses."""
        return self._clock

    @property
    def region(self) -> str:
        """The region used in ARNs and URLs."""
        return self._region

    @property
    def account_id(self) -> str:
        """The account id used in ARNs and URLs."""
        return self._account_id

    def __repr__(self) -> str:
        return f"<Broker {self._region}/{self._account_id}: {len(self._queues)} queues>"

    # --- queues --------------------------------------------------------------------------------

    def create_queue(self, name: str, **settings: Any) -> Queue:
        """Create a queue, or return the existing one (CreateQueue idempotency).

        Cost: O(log q) for q queues in the broker, plus ``Queue(...)``'s O(1).

        Raises:
            QueueNameExists: the queue exists and a setting passed here differs from its
                current value.
            QueueDeletedRecently: a queue of this name was deleted less than 60 s ago.
            InvalidParameterValue / InvalidAttributeValue / ...: as ``Queue(...)``.
            TypeError: an unknown setting name.
        """
        unknown = sorted(set(settings) - SETTING_NAMES - {"fifo"})
        if unknown:
            raise TypeError(f"create_queue() got unexpected setting(s): {', '.join(unknown)}")
        for forbidden in ("clock", "region", "account_id"):
            if forbidden in settings:  # pragma: no cover - excluded by the check above
                raise TypeError(f"{forbidden} is set by the broker")
        with self._lock:
            self._check_open()
            existing = self._queues.get(name)
            if existing is not None:
                self._check_same(existing, settings)
                return existing
            self._forget_old_deletes()
            deleted_at = self._deleted_at.get(name)
            if deleted_at is not None:
                if self._clock.time() - deleted_at < DELETE_COOL_DOWN:
                    raise QueueDeletedRecently(
                        "You must wait 60 seconds after deleting a queue before you can"
                        " create another with the same name."
                    )
                del self._deleted_at[name]
            store = self._store
            # Ids are counted here, not read back: the connection may be in another
            # thread's commit.
            self._last_qid += 1
            return self._new_queue(name, settings, store, self._last_qid)

    @staticmethod
    def _check_same(queue: Queue, settings: dict[str, Any]) -> None:
        got: Any = queue.settings  # a property or a method, depending on the Queue version
        current: dict[str, Any] = dict(got() if callable(got) else got)
        current["fifo"] = queue.fifo
        for key, wanted in settings.items():
            have = current[key]
            if key == "fifo" and wanted is None:
                continue
            if key == "dead_letter_queue":
                same = wanted is have
            elif isinstance(have, bool) or isinstance(wanted, bool):
                same = type(wanted) is type(have) and wanted == have
            else:
                try:
                    same = bool(wanted == have)
                except Exception:  # pragma: no cover - exotic values
                    same = False
            if not same:
                raise QueueNameExists(
                    "A queue already exists with the same name and a different value for"
                    f" attribute {_AWS_NAMES.get(key, key)}"
                )

    def get_queue(self, name: str) -> Queue:
        """The queue called *name* (GetQueueUrl). Raises ``QueueDoesNotExist``.

        Cost: O(1), one dict lookup.
        """
        with self._lock:
            self._check_open()
            queue = self._queues.get(name)
        if queue is None:
            raise QueueDoesNotExist("The specified queue does not exist.")
        return queue

    def get_queue_by_arn(self, arn: str) -> Queue:
        """The queue whose ARN is *arn*. Raises ``QueueDoesNotExist``.

        Cost: O(1): the name is the ARN's last part, so one dict lookup and a comparison.
        """
        name = arn.rpartition(":")[2] if isinstance(arn, str) else ""
        with self._lock:
            self._check_open()
            queue = self._queues.get(name)
        if queue is None or queue.arn != arn:
            raise QueueDoesNotExist("The specified queue does not exist.")
        return queue

    def list_queues(self, prefix: str = "") -> list[Queue]:
        """Queues whose name starts with *prefix* (literal, case-sensitive), by name.

        Cost: O(log q + k) for the k queues listed, of q in the broker.
        """
        with self._lock:
            self._check_open()
            names = self._queues.irange(minimum=prefix)
            return [
                self._queues[n] for n in itertools.takewhile(lambda n: n.startswith(prefix), names)
            ]

    def delete_queue(self, name: str) -> None:
        """Delete the queue and all its messages at once (DeleteQueue).

        Later calls on the ``Queue`` object raise ``QueueDoesNotExist``. Queues that used it
        as their dead-letter queue deliver normally from then on.

        Cost: O(log q) for q queues; its messages are released as a whole, not one by one.

        Raises:
            QueueDoesNotExist: no such queue.
        """
        with self._lock:
            self._check_open()
            queue = self._queues.pop(name, None)
            if queue is None:
                raise QueueDoesNotExist("The specified queue does not exist.")
            self._forget_old_deletes()
            now = self._clock.time()
            self._deleted_at[name] = now
            heapq.heappush(self._deletes, (now, name))
        queue._mark_deleted()
        store = self._store
        if store is not None:
            store.append("DELETE FROM queues WHERE id=?", (queue._qid,))
            with self._lock:
                for key in (f"{QUEUE_EXTRAS}{name}", f"{MOVE_TASKS}{name}"):
                    if self._extra_values.pop(key, None) is not None:
                        store.append("DELETE FROM extras WHERE key=?", (key,))
                # O(extras): a queue delete is rare, and attempts live 5 minutes at most.
                prefix = f"{QUEUE_ATTEMPTS}{name}:"
                attempts = [k for k in self._extra_values if k.startswith(prefix)]
                for key in attempts:
                    del self._extra_values[key]
                    store.append("DELETE FROM extras WHERE key=?", (key,))
            store.sync()

    def _forget_old_deletes(self) -> None:
        """Drop deleted names whose cool-down has ended (lock held)."""
        deletes = self._deletes
        if not deletes:
            return
        now = self._clock.time()
        # The same test as create_queue's, so no rounding can drop a name still cooling.
        while deletes and now - deletes[0][0] >= DELETE_COOL_DOWN:
            at, name = heapq.heappop(deletes)
            # The name may have been deleted again since: only its latest delete counts.
            if self._deleted_at.get(name) == at:
                del self._deleted_at[name]

    # --- message move tasks ---------------------------------------------------------------------

    def cancel_redrive(self, handle: str) -> int:
        """Cancel a running redrive task by its handle (CancelMessageMoveTask).

        *handle* is ``RedriveTask.handle`` (base64 of a JSON object with the task id and
        the source queue's ARN). The source queue is looked up among this broker's queues,
        so a task started on a queue made outside the broker is cancelled with
        ``RedriveTask.cancel()`` instead. The status becomes ``CANCELLED`` at once;
        messages already moved stay moved. Cost: O(1), plus the wait for a move under way.

        Returns:
            How many messages the task moved (ApproximateNumberOfMessagesMoved).

        Raises:
            Closed: the broker is closed (nothing changes).
            InvalidParameterValue: the handle does not decode (``Value for parameter
                TaskHandle is invalid.``), or the task is no longer RUNNING (only a
                running task can be cancelled).
            ResourceNotFound: the handle's source queue is not (or no longer) in this
                broker (``The resource that you specified for the SourceArn parameter
                doesn't exist.``), or that queue has no such task among its last 10
                (``Task does not exist.``).
        """
        self._check_open()
        task_id, source_arn = decode_handle(handle)
        try:
            source = self.get_queue_by_arn(source_arn)
        except QueueDoesNotExist:
            raise ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist."
            ) from None
        task = self._dead_letters.find_task(source, task_id)
        if task is None:
            raise ResourceNotFound("Task does not exist.")
        return task.cancel()

    # --- topics --------------------------------------------------------------------------------

    def create_topic(self, name: str, **settings: Any) -> Topic:
        """Create a topic, or return the existing one of that name (CreateTopic).

        Cost: O(log t) for t topics in the broker.

        Raises:
            InvalidParameter: the topic exists with a different ``fifo`` or
                ``content_based_deduplication``, or the name is invalid.
        """
        with self._lock:
            self._check_open()
            existing = self._topics.get(name)
            if existing is not None:
                for key, wanted in settings.items():
                    if key == "fifo" and wanted is None:
                        continue
                    if getattr(existing, key, wanted) != wanted:
                        raise InvalidParameter(
                            "Invalid parameter: Attributes Reason: Topic already exists with"
                            " different attributes"
                        )
                return existing
            topic = self._new_topic(name, settings)
            self._save_topics()
            return topic

    def _new_topic(self, name: str, settings: dict[str, Any]) -> Topic:
        topic = Topic(
            name,
            clock=self._clock,
            region=self._region,
            account_id=self._account_id,
            **settings,
        )
        if self._store is not None:
            topic._on_change = self._save_topics
            self._watch_topic_dedup(topic)
        self._topics[name] = topic
        return topic

    def _save_topics(self) -> None:
        """Store every topic and its queue subscriptions (callables are code: not stored)."""
        store = self._store
        if store is None:
            return
        with self._lock:
            rows = []
            for topic in self._topics.values():
                subs = [
                    {
                        "arn": sub.arn,
                        "queue": sub.target.name,
                        "filter_policy": None
                        if sub.filter_policy is None
                        else sub.filter_policy._json,
                        "scope": sub.filter_policy_scope,
                        "raw": sub.raw_message_delivery,
                        "dead_letter_queue": None
                        if sub.dead_letter_queue is None
                        else sub.dead_letter_queue.name,
                    }
                    for sub in topic.subscriptions
                    if isinstance(sub.target, Queue)
                ]
                rows.append(
                    (
                        topic.name,
                        int(topic.fifo),
                        int(topic.content_based_deduplication),
                        dumps(subs),
                    )
                )
            store.append("DELETE FROM topics", ())
            for row in rows:
                store.append("INSERT INTO topics VALUES (?,?,?,?)", row)
        store.sync()

    def get_topic(self, name: str) -> Topic:
        """The topic called *name*. Raises ``NotFound``. Cost: O(1)."""
        with self._lock:
            self._check_open()
            topic = self._topics.get(name)
        if topic is None:
            raise NotFound("Topic does not exist")
        return topic

    def list_topics(self) -> list[Topic]:
        """Every topic, by name. Cost: O(t) for t topics."""
        with self._lock:
            self._check_open()
            return list(self._topics.values())

    def delete_topic(self, name: str) -> None:
        """Delete the topic (DeleteTopic). Deleting an unknown topic is a no-op, as in SNS.

        Cost: O(log t) for t topics; its subscriptions are released as a whole.
        """
        with self._lock:
            self._check_open()
            topic = self._topics.pop(name, None)
        if topic is not None:
            close = getattr(topic, "_mark_deleted", None)
            if callable(close):
                close()
            store = self._store
            if store is not None:
                with self._lock:
                    key = f"{TOPIC_EXTRAS}{name}"
                    if self._extra_values.pop(key, None) is not None:
                        store.append("DELETE FROM extras WHERE key=?", (key,))
                    store.append("DELETE FROM topic_dedup WHERE topic=?", (name,))
            self._save_topics()
