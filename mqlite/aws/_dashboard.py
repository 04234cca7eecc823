"""The server's dashboard: a JSON API over every region's queues and topics, and its page.

Served by :class:`~mqlite.aws.Server` beside the AWS protocols (``GET /``, ``/static/...``,
``/api/...``, ``/metrics``); sans-IO like the rest of the package: a :class:`Request` in,
a :class:`Response` out. The API is documented in docs/dashboard.md.

Counts come from each queue's own state, read under the queue's lock in one go per queue
(the same work ``Queue.stats`` does), plus the running totals the core keeps for this
purpose. Rates and the charts' history are worked out here, from samples of those totals
taken on the server's clock when the API is read (at most one sample per
:data:`SAMPLE_INTERVAL`): nothing runs while nobody is watching.

The server holds one account. Every answer names it, and a request naming another one
(``?account=``, or an ARN of another account) is refused with 403 rather than answered
from this account's state.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable
from importlib import resources
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from mqlite._attribute import Attribute
from mqlite.errors import MqliteError, StorageError
from mqlite.queue import Queue

from ._dashboard_metrics import metrics_text
from ._wire import Request, Response

if TYPE_CHECKING:
    from mqlite._redrive import RedriveTask
    from mqlite.broker import Broker
    from mqlite.topic import Subscription, Topic

    from ._regions import EndpointSubscription, Regions

__all__ = ["HISTORY_SIZE", "RATE_WINDOW", "SAMPLE_INTERVAL", "Dashboard", "is_dashboard_path"]

#: Seconds (on the server's clock) between two samples kept for rates and charts.
SAMPLE_INTERVAL = 2.0
#: Samples kept per queue: 150 at 2 s is the last five minutes.
HISTORY_SIZE = 150
#: Rates are averaged over about this many seconds.
RATE_WINDOW = 10.0
#: Most messages one peek returns.
MAX_PEEK = 1000
#: Largest JSON body the API reads (a test message is at most 1 MiB).
_MAX_API_BODY = 2 * 1024 * 1024
#: The header every mutating call must carry: a cross-site form cannot set it, so a page
#: from elsewhere cannot purge or send through a browser that can reach this server.
ACTION_HEADER = "X-Mqlite-Dashboard"

_STATIC = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
}
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def is_dashboard_path(method: str, path: str) -> bool:
    """Whether *path* belongs to the dashboard rather than to the AWS protocols.

    ``GET /`` is the page only without a query string: ``GET /?Action=...`` is the SQS
    query protocol.
    """
    route, _, query = path.partition("?")
    if route.startswith("/api/"):
        return True
    if method != "GET":
        return False
    return (route in ("/", "/index.html") and not query) or route in (
        "/metrics",
        *(f"/static/{name}" for name in _STATIC),
    )


class ApiError(Exception):
    """An API call refused: HTTP *status*, a short *code* and a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class _Snap(NamedTuple):
    """One queue's numbers at one moment."""

    time: float
    visible: int
    in_flight: int
    delayed: int
    sent: int
    received: int
    deleted: int
    oldest: float | None  # enqueue time of the oldest message, None when empty
    groups: int | None  # FIFO groups holding messages; None for a standard queue


def snapshot(queue: Queue) -> _Snap | None:
    """*queue*'s counts and totals now, under its lock once; None once it is deleted (or
    its file failed). A durable queue's changes that fell due are committed first.

    Cost: O(1) typical; the oldest message is found past records already gone at the
    front of the expiry order (dropped on the way: amortised O(1)).
    """
    store = queue._store
    with queue._lock:
        if queue._deleted or not _usable(queue):
            return None
        now = queue._clock.time()
        state = queue._state
        counts = state.stats(now)
        snap = _Snap(
            now,
            counts.visible,
            counts.in_flight,
            counts.delayed,
            state.sent,
            state.received,
            state.deleted,
            state.oldest_enqueued(),
            state.group_count() if queue._fifo else None,
        )
    # What it shows (delays ended, retention run out) is stored before it is shown, as by
    # ``Queue.stats``: a kill and a clock set back cannot undo it.
    return snap if store is None or _synced(queue) else None


#: A kept sample packed into bytes: time, visible, in flight, delayed, sent, received,
#: deleted. Smaller than a tuple of Python numbers: with 1,000 queues the five minutes of
#: history take about 15 MB rather than 25 MB.
_PACKED = struct.Struct("=d6q")


def group_counts(queue: Queue) -> dict[str, int]:
    """Messages per FIFO group, from the groups the queue keeps (no copies of messages).

    Cost: O(messages); the queue page asks for it on each refresh, a peek would copy each one.
    """
    with queue._lock:
        if queue._deleted or not _usable(queue):
            return {}
        sizes = queue._state.group_sizes(queue._clock.time())
    return sizes if _synced(queue) else {}


def _usable(queue: Queue) -> bool:
    """Whether *queue*'s file (if any) has not failed: after a failed write memory may
    hold what the file does not, so nothing of it is shown."""
    store = queue._store
    try:
        if store is not None:
            store.check_usable()
    except StorageError:
        return False
    return True


def _synced(queue: Queue) -> bool:
    """Commit what applying due changes to a durable *queue* appended; False if that
    failed (or the queue was closed meanwhile, its file with it)."""
    store = queue._store
    if store is None:
        return True
    try:
        store.sync()
    except StorageError:
        return False
    return True


class _Series:
    """One queue's kept samples (or the totals over every queue), oldest first."""

    __slots__ = ("queue", "samples")

    def __init__(self, queue: Queue | None) -> None:
        self.queue = queue
        self.samples: deque[bytes] = deque(maxlen=HISTORY_SIZE)

    def append(self, snap: _Snap) -> None:
        self.samples.append(_PACKED.pack(*snap[:7]))


def _unpack(packed: bytes) -> _Snap:
    time, visible, in_flight, delayed, sent, received, deleted = _PACKED.unpack(packed)
    return _Snap(time, visible, in_flight, delayed, sent, received, deleted, None, None)


def _window_base(now: _Snap, series: _Series | None) -> _Snap | None:
    """The oldest kept sample within RATE_WINDOW of *now*: what rates are measured from.

    Walks back from the newest sample, so the cost is the few samples in the window, not
    the whole history (this runs for every queue on every poll).
    """
    if series is None:
        return None
    base = None
    for packed in reversed(series.samples):
        sample = _unpack(packed)
        if now.time - sample.time > RATE_WINDOW:
            break
        base = sample
    return base


def _rate(now: _Snap, base: _Snap | None, field: Callable[[_Snap], int]) -> float | None:
    """Per-second change of *field* from *base* to *now*; None without a base to compare."""
    if base is None or now.time - base.time <= 0:
        return None
    return max(0.0, (field(now) - field(base)) / (now.time - base.time))


_SENT = attrgetter("sent")
_RECEIVED = attrgetter("received")
_DELETED = attrgetter("deleted")


class Dashboard:
    """Answers the dashboard's paths from *regions*; mutations refused when *read_only*."""

    def __init__(self, regions: Regions, *, read_only: bool = False) -> None:
        self.regions = regions
        self.read_only = read_only
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
        self._totals = _Series(None)
        self._last_sample: float | None = None

    # --- the state, read -------------------------------------------------------------------

    def brokers(self) -> list[Broker]:
        """The regions in use, sorted by name; never makes one (a read must change nothing)."""
        regions = self.regions
        with regions._lock:
            found = list(regions._brokers.items())
        return [broker for _, broker in sorted(found)]

    def _broker(self, region: str) -> Broker:
        for broker in self.brokers():
            if broker.region == region:
                return broker
        raise ApiError(404, "NotFound", f"No queue or topic exists in region {region!r}.")

    def _queue(self, region: str, name: str) -> Queue:
        try:
            return self._broker(region).get_queue(name)
        except MqliteError:
            raise ApiError(404, "NotFound", f"No queue {name!r} in {region}.") from None

    def _queue_by_arn(self, arn: str) -> Queue:
        parts = arn.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"]:
            raise ApiError(400, "InvalidParameter", f"Not a queue ARN: {arn!r}.")
        self._check_account(parts[4])
        return self._queue(parts[3], parts[5])

    def _check_account(self, account: str | None) -> None:
        if account is not None and account != self.regions.account_id:
            raise ApiError(
                403,
                "AccessDenied",
                f"This server holds account {self.regions.account_id} only;"
                f" it shows nothing of account {account!r}.",
            )

    def _own(self, arn: str) -> bool:
        """Whether an ARN is of this server's account (anything else is never listed)."""
        return arn.split(":")[4:5] == [self.regions.account_id]

    def sample(self) -> dict[tuple[str, str], tuple[Queue, _Snap]]:
        """Every live queue of this account with its numbers now; keeps a sample for the
        history when the last one is older than SAMPLE_INTERVAL."""
        current: dict[tuple[str, str], tuple[Queue, _Snap]] = {}
        for broker in self.brokers():
            for queue in broker.list_queues():
                if not self._own(queue.arn):
                    continue
                snap = snapshot(queue)
                if snap is not None:
                    current[(broker.region, queue.name)] = (queue, snap)
        now = self.regions.clock.time()
        with self._lock:
            due = self._last_sample is None or now - self._last_sample >= SAMPLE_INTERVAL
            if due or (self._last_sample is not None and now < self._last_sample):
                self._last_sample = now
                kept: dict[tuple[str, str], _Series] = {}
                for key, (queue, snap) in current.items():
                    series = self._series.get(key)
                    if series is None or series.queue is not queue:
                        series = _Series(queue)  # new, or deleted and made again
                    series.append(snap)
                    kept[key] = series
                self._series = kept
                self._totals.append(_total(now, (s for _, s in current.values())))
        return current

    def _sample_due(self) -> bool:
        now = self.regions.clock.time()
        with self._lock:
            last = self._last_sample
        return last is None or not 0 <= now - last < SAMPLE_INTERVAL

    def _series_of(self, key: tuple[str, str], queue: Queue) -> _Series | None:
        with self._lock:
            series = self._series.get(key)
        return series if series is not None and series.queue is queue else None

    def _bases(
        self, current: dict[tuple[str, str], tuple[Queue, _Snap]]
    ) -> dict[tuple[str, str], _Snap | None]:
        """Each queue's sample to measure rates from, read under the lock that guards the
        samples (a sample taken meanwhile appends to them)."""
        with self._lock:
            kept = self._series
            bases: dict[tuple[str, str], _Snap | None] = {}
            for key, (queue, snap) in current.items():
                series = kept.get(key)
                bases[key] = (
                    _window_base(snap, series) if series and series.queue is queue else None
                )
        return bases

    def queue_summary(
        self, region: str, queue: Queue, snap: _Snap, base: _Snap | None
    ) -> dict[str, Any]:
        """One row of the queue list: counts, age, rates (from *base*), DLQ, FIFO groups."""
        dlq = queue.dead_letter_queue
        dlq_info: dict[str, Any] | None = None
        if dlq is not None and not dlq.deleted:
            dlq_snap = snapshot(dlq)
            dlq_info = {
                "name": dlq.name,
                "arn": dlq.arn,
                "messages": None if dlq_snap is None else _depth(dlq_snap),
                "max_receive_count": queue.max_receive_count,
            }
        return {
            "region": region,
            "name": queue.name,
            "arn": queue.arn,
            "fifo": queue.fifo,
            "visible": snap.visible,
            "in_flight": snap.in_flight,
            "delayed": snap.delayed,
            "messages": _depth(snap),
            "oldest_age": None if snap.oldest is None else max(0.0, snap.time - snap.oldest),
            "sent": snap.sent,
            "received": snap.received,
            "deleted": snap.deleted,
            "send_rate": _rate(snap, base, _SENT),
            "receive_rate": _rate(snap, base, _RECEIVED),
            "delete_rate": _rate(snap, base, _DELETED),
            "groups": snap.groups,
            "dead_letter_queue": dlq_info,
            "is_dead_letter_queue": queue._dead_letters.is_dead_letter_queue(queue),
        }

    # --- the API ---------------------------------------------------------------------------

    def api_queues(self) -> dict[str, Any]:
        """``GET /api/queues``."""
        current = self.sample()
        bases = self._bases(current)
        rows = [
            self.queue_summary(key[0], queue, snap, bases[key])
            for key, (queue, snap) in current.items()
        ]
        return {**self._header(), "queues": rows}

    def api_queue(self, region: str, name: str) -> dict[str, Any]:
        """``GET /api/queues/{region}/{name}``: a row plus settings, sources, tasks, groups."""
        queue = self._queue(region, name)
        self.sample()
        snap = snapshot(queue)
        if snap is None:
            raise ApiError(404, "NotFound", f"No queue {name!r} in {region}.")
        key = (region, name)
        detail = self.queue_summary(region, queue, snap, self._bases({key: (queue, snap)})[key])
        detail["settings"] = {k: _plain(v) for k, v in queue.settings().items()}
        with self.regions._lock:
            extras = self.regions._extras.get(queue)
        detail["tags"] = dict(extras.tags) if extras is not None else {}
        detail["dead_letter_sources"] = sorted(s.name for s in queue._dead_letters.sources(queue))
        tasks: list[RedriveTask] = []
        if detail["is_dead_letter_queue"]:
            try:
                tasks = queue.redrive_tasks(10)
            except MqliteError:
                tasks = []
        detail["redrive_tasks"] = [_task(t) for t in tasks]
        if queue.fifo:
            detail["group_counts"] = [
                {"group_id": g, "messages": n} for g, n in sorted(group_counts(queue).items())
            ]
        return {**self._header(), "queue": detail}

    def api_messages(self, region: str, name: str, query: dict[str, str]) -> dict[str, Any]:
        """``GET /api/queues/{region}/{name}/messages?limit=N``: a peek (changes nothing)."""
        queue = self._queue(region, name)
        limit = _int_param(query, "limit", 100, 1, MAX_PEEK)
        try:
            every = queue.peek(include_in_flight=True, include_delayed=True)
            visible = {m.message_id for m in queue.peek()}
            shown = {m.message_id for m in queue.peek(include_in_flight=True)}
        except MqliteError as error:
            raise ApiError(404, "NotFound", error.message) from None
        messages = []
        for m in every[:limit]:
            if m.message_id in visible:
                where = "visible"
            elif m.message_id in shown:
                where = "in_flight"
            else:
                where = "delayed"
            messages.append(
                {
                    "message_id": m.message_id,
                    "body": m.body,
                    "state": where,
                    "receive_count": m.receive_count,
                    "sent_timestamp": m.sent_timestamp,
                    "first_receive_timestamp": m.first_receive_timestamp,
                    "group_id": m.group_id,
                    "deduplication_id": m.deduplication_id,
                    "sequence_number": m.sequence_number,
                    "dead_letter_source_arn": m.dead_letter_source_arn,
                    "attributes": {k: _attribute(a) for k, a in m.attributes.items()},
                }
            )
        return {**self._header(), "total": len(every), "messages": messages}

    def api_history(self, region: str | None = None, name: str | None = None) -> dict[str, Any]:
        """``GET /api/history`` (every queue added up) or ``/api/queues/{r}/{n}/history``."""
        series: _Series | None
        if self._sample_due():
            self.sample()
        if region is not None and name is not None:
            series = self._series_of((region, name), self._queue(region, name))
        else:
            series = self._totals
        with self._lock:
            packed = list(series.samples) if series is not None else []
        samples = [_unpack(p) for p in packed]
        points = []
        previous: _Snap | None = None
        for s in samples:
            point: dict[str, Any] = {
                "time": s.time,
                "visible": s.visible,
                "in_flight": s.in_flight,
                "delayed": s.delayed,
                "send_rate": None,
                "receive_rate": None,
                "delete_rate": None,
            }
            if previous is not None and s.time > previous.time:
                span = s.time - previous.time
                point["send_rate"] = max(0.0, (s.sent - previous.sent) / span)
                point["receive_rate"] = max(0.0, (s.received - previous.received) / span)
                point["delete_rate"] = max(0.0, (s.deleted - previous.deleted) / span)
            points.append(point)
            previous = s
        return {**self._header(), "interval": SAMPLE_INTERVAL, "samples": points}

    def api_topics(self) -> dict[str, Any]:
        """``GET /api/topics``: topics, their subscriptions, filter policies and counts."""
        rows = []
        for broker in self.brokers():
            for topic in broker.list_topics():
                if self._own(topic.arn):
                    endpoints = list(self.regions.topic_extras(topic).endpoints.values())
                    rows.append(_topic(broker.region, topic, endpoints))
        return {**self._header(), "topics": rows}

    def purge(self, region: str, name: str) -> dict[str, Any]:
        """``POST /api/queues/{region}/{name}/purge``."""
        queue = self._queue(region, name)
        _call(queue.purge)
        return {"purged": True}

    def send(self, region: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/queues/{region}/{name}/messages``: send one test message."""
        queue = self._queue(region, name)
        body = payload.get("body")
        if not isinstance(body, str):
            raise ApiError(400, "InvalidParameter", '"body" must be a string.')
        kwargs: dict[str, Any] = {}
        for key in ("group_id", "deduplication_id"):
            value = payload.get(key)
            if value not in (None, ""):
                kwargs[key] = value
        if payload.get("delay") not in (None, ""):
            kwargs["delay"] = payload["delay"]
        attributes = payload.get("attributes")
        if attributes:
            if not isinstance(attributes, dict):
                raise ApiError(400, "InvalidParameter", '"attributes" must be an object.')
            kwargs["attributes"] = {k: _attribute_in(v) for k, v in attributes.items()}
        result = _call(lambda: queue.send(body, **kwargs))
        return {"message_id": result.message_id, "sequence_number": result.sequence_number}

    def redrive(self, region: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/queues/{region}/{name}/redrive``: start a move task from a DLQ."""
        queue = self._queue(region, name)
        rate = payload.get("rate", 100)
        destination = payload.get("destination")
        target = None
        if destination not in (None, ""):
            if not isinstance(destination, str):
                raise ApiError(400, "InvalidParameter", '"destination" must be a queue ARN.')
            target = self._queue_by_arn(destination)
        task = _call(lambda: queue.start_redrive(target, rate=rate))
        return {"task": _task(task)}

    def _header(self) -> dict[str, Any]:
        return {
            "account_id": self.regions.account_id,
            "read_only": self.read_only,
            "time": self.regions.clock.time(),
        }

    # --- HTTP ------------------------------------------------------------------------------

    def answer(self, request: Request) -> Response:
        """Answer one request for a dashboard path (see :func:`is_dashboard_path`)."""
        parts = urlsplit(request.path)
        route = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        try:
            self._check_account(query.get("account"))
            if request.method == "GET" and route in ("/", "/index.html"):
                return _static("index.html", "text/html; charset=utf-8", page=True)
            if request.method == "GET" and route.startswith("/static/"):
                name = route[len("/static/") :]
                if name in _STATIC:
                    return _static(name, _STATIC[name])
                raise ApiError(404, "NotFound", "No such file.")
            if route == "/metrics":
                return Response(
                    200,
                    {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
                    metrics_text(self).encode(),
                )
            return _json(200, self._api(request, route, query))
        except ApiError as error:
            return _json(error.status, {"error": {"code": error.code, "message": error.message}})

    def _api(self, request: Request, route: str, query: dict[str, str]) -> dict[str, Any]:
        segments = [unquote(s) for s in route.split("/")[2:]]  # after "", "api"
        method = request.method
        if method == "GET":
            if segments == ["queues"]:
                return self.api_queues()
            if segments == ["topics"]:
                return self.api_topics()
            if segments == ["history"]:
                return self.api_history()
            if len(segments) >= 3 and segments[0] == "queues":
                region, name, rest = segments[1], segments[2], segments[3:]
                if not rest:
                    return self.api_queue(region, name)
                if rest == ["messages"]:
                    return self.api_messages(region, name, query)
                if rest == ["history"]:
                    return self.api_history(region, name)
            raise ApiError(404, "NotFound", "No such API path.")
        if method != "POST":
            raise ApiError(405, "MethodNotAllowed", "The API answers GET and POST only.")
        if len(segments) != 4 or segments[0] != "queues":
            raise ApiError(404, "NotFound", "No such API path.")
        region, name, action = segments[1:]
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "purge": lambda _: self.purge(region, name),
            "messages": lambda p: self.send(region, name, p),
            "redrive": lambda p: self.redrive(region, name, p),
        }
        if action not in handlers:
            raise ApiError(404, "NotFound", "No such API path.")
        if self.read_only:
            raise ApiError(403, "ReadOnly", "The server runs read-only: nothing can be changed.")
        if request.header(ACTION_HEADER) != "1":
            raise ApiError(403, "MissingHeader", f"Changes need the header '{ACTION_HEADER}: 1'.")
        return handlers[action](_payload(request))


# --- helpers ------------------------------------------------------------------------------


def _depth(snap: _Snap) -> int:
    return snap.visible + snap.in_flight + snap.delayed


def _total(now: float, snaps: Iterable[_Snap]) -> _Snap:
    visible = in_flight = delayed = sent = received = deleted = 0
    for s in snaps:
        visible += s.visible
        in_flight += s.in_flight
        delayed += s.delayed
        sent += s.sent
        received += s.received
        deleted += s.deleted
    return _Snap(now, visible, in_flight, delayed, sent, received, deleted, None, None)


def _call(action: Callable[[], Any]) -> Any:
    """Run a core call; its refusals become 400s (409 for one that must wait)."""
    try:
        return action()
    except MqliteError as error:
        status = 404 if error.code == "QueueDoesNotExist" else 400
        if error.code in ("PurgeQueueInProgress",):
            status = 409
        raise ApiError(status, error.code, error.message) from None
    except (TypeError, ValueError) as error:
        raise ApiError(400, "InvalidParameter", str(error)) from None


def _payload(request: Request) -> dict[str, Any]:
    if len(request.body) > _MAX_API_BODY:
        raise ApiError(413, "TooLarge", "The request body is too large.")
    if not request.body:
        return {}
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidJson", "The request body is not JSON.") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "InvalidJson", "The request body must be a JSON object.")
    return payload


def _int_param(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "InvalidParameter", f"{name} must be an integer.") from None
    if not low <= value <= high:
        raise ApiError(400, "InvalidParameter", f"{name} must be from {low} to {high}.")
    return value


def _attribute(a: Attribute) -> dict[str, str]:
    if isinstance(a.value, bytes):
        return {"data_type": a.data_type, "base64": base64.b64encode(a.value).decode()}
    return {"data_type": a.data_type, "value": a.value}


def _attribute_in(value: object) -> object:
    """An attribute from the API: a string, or ``{"data_type", "value"}`` (base64 if Binary)."""
    if isinstance(value, dict):
        data_type, raw = value.get("data_type", "String"), value.get("value", "")
        if not isinstance(data_type, str) or not isinstance(raw, str):
            raise ApiError(400, "InvalidParameter", "An attribute needs a data_type and a value.")
        if data_type.partition(".")[0] == "Binary":
            try:
                return Attribute(data_type, base64.b64decode(raw, validate=True))
            except binascii.Error:
                raise ApiError(400, "InvalidParameter", "A Binary value is base64.") from None
        return Attribute(data_type, raw)
    return value


def _plain(value: object) -> object:
    """A setting as JSON: a queue by its ARN, infinities as None."""
    if isinstance(value, Queue):
        return value.arn
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _task(task: RedriveTask) -> dict[str, Any]:
    return {
        "handle": task.handle,
        "status": task.status,
        "moved": task.moved,
        "to_move": task.to_move,
        "rate": task.rate,
        "source_arn": task.source_arn,
        "destination_arn": task.destination_arn,
        "started_timestamp": task.started_timestamp,
        "failure_reason": task.failure_reason,
    }


def _topic(region: str, topic: Topic, endpoints: list[EndpointSubscription]) -> dict[str, Any]:
    # A confirmed http(s) subscription delivers through a core subscription: shown once,
    # as the endpoint subscription it serves, with the delivery's counts.
    serving = {id(e.delivery): e for e in endpoints if e.delivery is not None}
    subs = [_subscription(topic, s, serving.get(id(s))) for s in topic.subscriptions]
    subs += [_endpoint(e) for e in endpoints if e.delivery is None]
    return {
        "region": region,
        "name": topic.name,
        "arn": topic.arn,
        "fifo": topic.fifo,
        "published": topic._count_published,
        "subscriptions": subs,
    }


def _endpoint(e: EndpointSubscription) -> dict[str, Any]:
    """A subscription mqlite sends nothing to (or not yet): listed with no counts."""
    policy = e.filter_policy
    return {
        "arn": e.arn,
        "protocol": e.protocol,
        "endpoint": e.endpoint,
        "active": not e.pending,
        "pending": e.pending,
        "raw_message_delivery": e.raw_message_delivery,
        "filter_policy_scope": e.filter_policy_scope,
        "filter_policy": None if policy is None else pretty_json(json.loads(policy.policy_json)),
        "delivered": 0,
        "failed": 0,
        "dead_lettered": 0,
        "filtered": 0,
        "dead_letter_queue": None,
        "last_error": None,
    }


def _subscription(
    topic: Topic, sub: Subscription, serves: EndpointSubscription | None = None
) -> dict[str, Any]:
    target = sub.target
    if isinstance(target, Queue):
        endpoint = target.arn
    elif serves is not None:
        endpoint = serves.endpoint
    else:
        endpoint = getattr(target, "__qualname__", type(target).__name__)
    policy = sub.filter_policy
    pretty = None
    if policy is not None:
        pretty = pretty_json(json.loads(policy.policy_json))
    delivered, failed = sub.delivered, sub.failed
    since = topic._count_published - sub._published_before
    error = sub.last_error
    return {
        "arn": sub.arn if serves is None else serves.arn,
        "protocol": sub.protocol if serves is None else serves.protocol,
        "endpoint": endpoint,
        "active": sub.active,
        "pending": False,
        "raw_message_delivery": sub.raw_message_delivery,
        "filter_policy_scope": sub.filter_policy_scope,
        "filter_policy": pretty,
        "delivered": delivered,
        "failed": failed,
        "dead_lettered": sub.dead_lettered,
        # Published since it subscribed and neither delivered nor failed: filtered out
        # (or, on a topic with an executor, still on its way).
        "filtered": max(0, since - delivered - failed),
        "dead_letter_queue": sub.dead_letter_queue.arn if sub.dead_letter_queue else None,
        "last_error": None if error is None else f"{type(error).__name__}: {error}",
    }


def pretty_json(value: object, indent: str = "") -> str:
    """JSON over several lines, objects indented, lists of plain values kept on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{_dump(k)}: {pretty_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [inner + pretty_json(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return _dump(value)


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _json(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", **_SECURITY_HEADERS}
    return Response(status, headers, body)


def _static(name: str, content_type: str, *, page: bool = False) -> Response:
    body = resources.files("mqlite.aws").joinpath("static").joinpath(name).read_bytes()
    headers = {"Content-Type": content_type, **_SECURITY_HEADERS}
    if page:
        headers["Content-Security-Policy"] = _PAGE_CSP
    return Response(200, headers, body)
