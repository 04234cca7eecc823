"""``mqlite.aws.connect``: the Queue API over SQS, against two endpoints.

Every test runs against mqlite's own ``Server`` and against moto's server — an SQS
implementation this project did not write — so the client cannot lean on mqlite's quirks.
Neither backend is told anything but requests: the tests see only what a remote
application would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _backends import SESSION, Backend, free_port
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.exceptions import ClientError

from mqlite import (
    AsyncWorker,
    Broker,
    DeleteEntry,
    Interrupt,
    ManualClock,
    Message,
    MqliteError,
    Queue,
    SendEntry,
    Subscription,
    Topic,
    VisibilityEntry,
    Worker,
)
from mqlite.aws import (
    ChecksumMismatch,
    RemoteBroker,
    RemoteQueue,
    RemoteSubscription,
    RemoteTopic,
    ServiceUnavailable,
    connect,
)
from mqlite.aws._remote_errors import translate
from mqlite.errors import (
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidAttributeValue,
    InvalidParameter,
    InvalidParameterValue,
    MissingParameter,
    NotFound,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
    UnsupportedOperation,
)

_SESSION = SESSION


@pytest.fixture(params=["mqlite", "moto"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    # One moto server per test process (conftest's), reset for each test: stopping one
    # takes half a second. A Server of mqlite's own per test: it stops in milliseconds.
    if request.param == "moto":
        moto: Backend = request.getfixturevalue("moto_session_backend")
        moto.reset()
        yield moto
        return
    server = Backend("mqlite")
    yield server
    server.stop()


def _connect(backend: Backend, **config: Any) -> RemoteBroker:
    return connect(
        backend.endpoint_url,
        region="us-east-1",
        session=_SESSION,
        config=Config(**config) if config else None,
    )


@pytest.fixture
def broker(backend: Backend) -> RemoteBroker:
    return _connect(backend)


def _until(condition: Callable[[], bool], timeout: float = 4.0) -> None:
    """Wait (as a guard only) for *condition*; fail instead of hanging."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        threading.Event().wait(0.01)


def _drain(queue: RemoteQueue) -> list[Message]:
    got: list[Message] = []
    while True:
        batch = queue.receive(10, wait=0)
        if not batch:
            return got
        got.extend(batch)


# --- messages ------------------------------------------------------------------------------


def test_send_receive_delete_with_attributes(broker: RemoteBroker) -> None:
    q = broker.create_queue("jobs")
    sent = q.send(
        "héllo",
        attributes={"text": "a", "count": 3, "blob": b"\x00\x01", "price": 1.5},
    )
    [m] = q.receive(wait=1)
    assert m.body == "héllo"
    assert m.message_id == sent.message_id
    assert m.md5_of_body == sent.md5_of_body
    assert m.md5_of_attributes == sent.md5_of_attributes is not None
    assert m.attributes["text"].value == "a"
    assert m.attributes["count"].data_type == "Number"
    assert m.attributes["count"].value == "3"
    assert m.attributes["blob"].value == b"\x00\x01"
    assert m.receive_count == 1
    assert m.sent_timestamp > 0
    assert m.first_receive_timestamp >= m.sent_timestamp
    q.delete(m)
    assert q.receive(wait=0) == []
    assert q.stats().total == 0


def test_batches(broker: RemoteBroker) -> None:
    q = broker.create_queue("batches")
    result = q.send_batch(
        [SendEntry("a", "one"), SendEntry("b", "\x00bad"), SendEntry("c", "three", delay=0)]
    )
    assert [r.id for r in result.successful] == ["a", "c"]
    assert [(f.id, f.code) for f in result.failed] == [("b", "InvalidMessageContents")]
    got = _drain(q)
    assert sorted(m.body for m in got) == ["one", "three"]
    changed = q.change_visibility_batch(
        [VisibilityEntry("x", got[0].receipt_handle or "", 0), VisibilityEntry("y", "bogus", 0)]
    )
    assert [r.id for r in changed.successful] == ["x"]
    assert [f.id for f in changed.failed] == ["y"]
    [again] = q.receive(wait=1)
    deleted = q.delete_batch(
        [
            DeleteEntry("p", again.receipt_handle or ""),
            DeleteEntry("q", got[1].receipt_handle or ""),
        ]
    )
    assert sorted(r.id for r in deleted.successful) == ["p", "q"]
    assert q.receive(wait=0) == []
    with pytest.raises(EmptyBatchRequest) as info:
        q.send_batch([])
    assert info.value.code == "EmptyBatchRequest"


def test_send_batch_over_256_kib_goes_in_several_requests(broker: RemoteBroker) -> None:
    q = broker.create_queue("big")
    sizes: list[int] = []

    def record(request: Any, **_: Any) -> None:
        sizes.append(len(request.body))

    broker.sqs.meta.events.register("before-send.sqs.SendMessageBatch", record)
    body = "x" * 100_000
    result = q.send_batch([SendEntry(str(i), body + str(i)) for i in range(5)])
    assert [r.id for r in result.successful] == ["0", "1", "2", "3", "4"]
    assert result.failed == []
    # 2 + 2 + 1 entries: no request carries more than 256 KiB of messages.
    assert len(sizes) == 3
    assert all(size < 262_144 + 4_096 for size in sizes)
    assert sorted(m.body[-1] for m in _drain(q)) == ["0", "1", "2", "3", "4"]


def test_visibility(broker: RemoteBroker) -> None:
    q = broker.create_queue("vis", visibility_timeout=30)
    assert q.visibility_timeout == 30
    q.send("m")
    [m] = q.receive(wait=1)
    assert q.receive(wait=0) == []
    q.change_visibility(m, 0)
    [again] = q.receive(wait=1, visibility_timeout=0)
    assert again.message_id == m.message_id
    assert again.receive_count == 2
    [third] = q.receive(wait=1)
    assert third.receive_count == 3
    q.configure(visibility_timeout=45)
    assert q.visibility_timeout == 45


def test_create_with_every_setting_then_configure(broker: RemoteBroker) -> None:
    dlq = broker.create_queue("settings-dead.fifo")
    q = broker.create_queue(
        "settings.fifo",
        visibility_timeout=40,
        delay=2,
        retention=3600,
        max_message_size=2048,
        receive_wait=1,
        content_based_deduplication=True,
        dead_letter_queue=dlq,
        max_receive_count=4,
    )
    assert q.settings() == {
        "visibility_timeout": 40,
        "delay": 2,
        "retention": 3600,
        "max_message_size": 2048,
        "receive_wait": 1,
        "content_based_deduplication": True,
        "deduplication_scope": "queue",
        "fifo_throughput_limit": "perQueue",
        "dead_letter_queue": dlq,
        "max_receive_count": 4,
        "max_in_flight": 120_000,
    }
    # Same settings: the existing queue (CreateQueue is idempotent).
    assert broker.create_queue("settings.fifo", visibility_timeout=40) == q
    q.configure(max_receive_count=7, delay=0)
    assert (q.max_receive_count, q.delay, q.dead_letter_queue) == (7, 0, dlq)
    q.configure(dead_letter_queue=None)
    assert q.dead_letter_queue is None
    with pytest.raises(InvalidAttributeValue):
        q.configure(fifo=False)


def test_purge_and_stats(broker: RemoteBroker) -> None:
    q = broker.create_queue("counted")
    q.send_batch([SendEntry(str(i), f"m{i}") for i in range(3)])
    q.send("later", delay=60)
    q.receive(wait=1)
    stats = q.stats()
    assert (stats.visible, stats.in_flight, stats.delayed) == (2, 1, 1)
    q.purge()
    assert q.stats().total == 0


def test_fifo_ordering_and_deduplication(broker: RemoteBroker) -> None:
    q = broker.create_queue("orders.fifo")
    assert q.fifo
    first = q.send("a1", group_id="a", deduplication_id="1")
    q.send("a1 again", group_id="a", deduplication_id="1")  # accepted, not stored
    assert first.sequence_number is not None
    for body, group in [("b1", "b"), ("a2", "a"), ("b2", "b"), ("a3", "a")]:
        q.send(body, group_id=group, deduplication_id=body)
    got = _drain(q)
    by_group: dict[str, list[str]] = {}
    for m in got:
        assert m.group_id is not None
        assert m.sequence_number is not None
        by_group.setdefault(m.group_id, []).append(m.body)
    assert by_group == {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"]}
    assert got[0].deduplication_id == "1"


def test_dead_letter_queue_by_max_receive_count(broker: RemoteBroker) -> None:
    dlq = broker.create_queue("dead")
    q = broker.create_queue("work", dead_letter_queue=dlq, max_receive_count=2)
    assert q.dead_letter_queue is not None
    assert q.dead_letter_queue.url == dlq.url
    assert q.max_receive_count == 2
    q.send("poison")
    for count in (1, 2):
        [m] = q.receive(wait=1, visibility_timeout=0)
        assert m.receive_count == count
    assert q.receive(wait=0) == []
    [dead] = dlq.receive(wait=1)
    assert dead.body == "poison"


def test_long_poll_returns_when_another_thread_sends(broker: RemoteBroker) -> None:
    q = broker.create_queue("poll")
    sender = threading.Timer(0.3, lambda: q.send("late"))
    started = time.monotonic()
    sender.start()
    got = q.receive(wait=4)
    elapsed = time.monotonic() - started
    sender.join(timeout=5)
    assert not sender.is_alive()
    assert [m.body for m in got] == ["late"]
    assert elapsed < 3.5  # returned on the send, not at the end of the wait


def test_receive_async_does_not_block_the_event_loop(broker: RemoteBroker) -> None:
    q = broker.create_queue("aio")

    async def main() -> tuple[list[Message], int]:
        ticks = 0
        done = asyncio.Event()

        async def tick() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        threading.Timer(0.3, lambda: q.send("async")).start()
        got = await q.receive_async(wait=4)
        done.set()
        await ticker
        return got, ticks

    got, ticks = asyncio.run(main())
    assert [m.body for m in got] == ["async"]
    assert ticks >= 5  # the loop kept running during the long poll


def test_a_cancelled_receive_async_gives_its_messages_back(broker: RemoteBroker) -> None:
    q = broker.create_queue("cancelled", visibility_timeout=60)
    # botocore's own events say when the long poll is on the wire and when the abandoned
    # response has been handed back, so nothing here depends on how fast threads start.
    polling, released = threading.Event(), threading.Event()
    events = broker.sqs.meta.events
    events.register("before-send.sqs.ReceiveMessage", lambda **_: polling.set())
    events.register("after-call.sqs.ChangeMessageVisibilityBatch", lambda **_: released.set())
    sent = threading.Event()

    async def main() -> None:
        poll = asyncio.create_task(q.receive_async(wait=20))
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, polling.wait, 10)  # the request is out
        poll.cancel()
        with pytest.raises(asyncio.CancelledError):
            await poll
        q.send("not lost")  # the abandoned long poll takes it
        sent.set()

    # A loop closed at once: nothing on it is left to finish the abandoned request.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert sent.is_set()
    assert released.wait(10), "the abandoned receive never gave its message back"
    # Visible again at once, not after the 60-second visibility timeout.
    [m] = q.receive(wait=3)
    assert m.body == "not lost"
    assert m.receive_count == 2


def test_async_twins(broker: RemoteBroker) -> None:
    q = broker.create_queue("twins")

    async def main() -> list[str]:
        await q.send_async("one")
        await q.send_batch_async([SendEntry("a", "two")])
        got = await q.receive_async(10, wait=1)
        while len(got) < 2:
            got += await q.receive_async(10, wait=1)
        await q.change_visibility_async(got[0], 0)
        await q.change_visibility_batch_async(
            [VisibilityEntry("v", got[1].receipt_handle or "", 0)]
        )
        again = await q.receive_async(10, wait=1)
        while len(again) < 2:
            again += await q.receive_async(10, wait=1)
        await q.delete_async(again[0])
        await q.delete_batch_async([DeleteEntry("d", again[1].receipt_handle or "")])
        assert (await q.stats_async()).total == 0
        return sorted(m.body for m in again)

    assert asyncio.run(main()) == ["one", "two"]


# --- errors -------------------------------------------------------------------------------


def test_errors_carry_mqlite_classes_and_codes(broker: RemoteBroker) -> None:
    with pytest.raises(QueueDoesNotExist) as missing:
        broker.get_queue("nope")
    assert missing.value.code == "QueueDoesNotExist"
    assert isinstance(missing.value, LookupError)
    q = broker.create_queue("errs", visibility_timeout=10)
    with pytest.raises(QueueNameExists) as exists:
        broker.create_queue("errs", visibility_timeout=20)
    assert exists.value.code == "QueueNameExists"
    with pytest.raises(InvalidParameterValue) as bad:
        q.receive(11)
    assert bad.value.code == "InvalidParameterValue"
    assert isinstance(bad.value, ValueError)
    with pytest.raises(ReceiptHandleIsInvalid) as handle:
        q.delete("bogus")
    assert handle.value.code == "ReceiptHandleIsInvalid"
    with pytest.raises(MissingParameter):
        q.send("")
    with pytest.raises(UnsupportedOperation) as peek:
        q.peek()
    assert peek.value.code == "UnsupportedOperation"
    with pytest.raises(UnsupportedOperation):
        broker.create_queue("clocked", clock=ManualClock())
    with pytest.raises(TypeError):
        broker.create_queue("typo", visiblity_timeout=3)
    broker.delete_queue("errs")
    with pytest.raises(QueueDoesNotExist):
        q.send("gone")
    assert q.deleted


@pytest.mark.parametrize(
    ("code", "shape", "expected"),
    [
        # The legacy code with the shape name beside it (the JSON protocol today) ...
        ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", QueueDoesNotExist),
        # ... or alone (the query protocol), or the shape name alone.
        ("AWS.SimpleQueueService.NonExistentQueue", None, QueueDoesNotExist),
        ("QueueDoesNotExist", None, QueueDoesNotExist),
        ("InvalidParameterValue", "InvalidParameterValueException", InvalidParameterValue),
        ("QueueAlreadyExists", None, QueueNameExists),
        ("AWS.SimpleQueueService.PurgeQueueInProgress", None, PurgeQueueInProgress),
        ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", None, BatchEntryIdsNotDistinct),
        ("InvalidParameter", None, InvalidParameter),
        ("NotFound", None, NotFound),
        ("InternalError", None, ServiceUnavailable),
    ],
)
def test_service_codes_map_to_mqlite_classes(
    code: str, shape: str | None, expected: type[MqliteError]
) -> None:
    error: dict[str, str] = {"Code": code, "Message": "from the service"}
    if shape is not None:
        error["QueryErrorCode"] = shape
    response: Any = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
    got = translate(ClientError(response, "AnyOperation"), "http://endpoint")
    assert type(got) is expected
    assert got.code == expected.code
    assert got.message == "from the service"


def test_an_unknown_code_keeps_the_services_code() -> None:
    response: Any = {
        "Error": {"Code": "AccessDenied", "Message": "no", "Type": "Sender"},
        "ResponseMetadata": {"HTTPStatusCode": 403},
    }
    got = translate(ClientError(response, "SendMessage"), "http://endpoint")
    assert type(got) is MqliteError
    assert (got.code, got.http_status, got.sender_fault) == ("AccessDenied", 403, True)


def test_remote_queues_are_equal_by_url(broker: RemoteBroker) -> None:
    dlq = broker.create_queue("eq-dead")
    q = broker.create_queue("eq", dead_letter_queue=dlq)
    assert broker.get_queue("eq") == q
    assert hash(broker.get_queue("eq")) == hash(q)
    assert q.dead_letter_queue == dlq
    assert q != dlq
    assert len({q, broker.get_queue("eq"), dlq}) == 2


@pytest.mark.parametrize(
    ("local", "remote"),
    [
        (Queue, RemoteQueue),
        (Broker, RemoteBroker),
        (Topic, RemoteTopic),
        (Subscription, RemoteSubscription),
    ],
)
def test_every_public_member_is_the_remote_ones(local: type, remote: type) -> None:
    # The remote classes subclass the local ones for the type checker only: a member
    # inherited from the local class would reach for local state that is not there.
    public = {name for name in dir(local) if not name.startswith("_")}
    assert issubclass(remote, local)
    assert sorted(name for name in public if name not in vars(remote)) == []


# mqlite's Server answers SQS and SNS, not STS, which the account id comes from; its
# queues name the account in their ARN all the same.
_ACCOUNT = {"mqlite": "000000000000", "moto": "123456789012"}


def test_account_id(backend: Backend, broker: RemoteBroker) -> None:
    expected = _ACCOUNT[backend.name]
    if backend.name == "mqlite":
        with pytest.raises(MqliteError):
            _ = broker.account_id
    else:
        assert broker.account_id == expected
    assert broker.create_queue("mine").arn.split(":")[4] == expected


def test_list_and_lookup(broker: RemoteBroker) -> None:
    for name in ("b-two", "a-one", "b-one"):
        broker.create_queue(name)
    assert [q.name for q in broker.list_queues("b-")] == ["b-one", "b-two"]
    assert [q.name for q in broker.list_queues()] == ["a-one", "b-one", "b-two"]
    one = broker.get_queue("a-one")
    assert broker.get_queue_by_arn(one.arn).url == one.url


def test_a_checksum_mismatch_is_an_error(broker: RemoteBroker) -> None:
    q = broker.create_queue("md5")

    def corrupt_receive(parsed: dict[str, Any], **_: Any) -> None:
        for m in parsed.get("Messages", []):
            m["Body"] = m["Body"].upper()

    def corrupt_send(parsed: dict[str, Any], **_: Any) -> None:
        parsed["MD5OfMessageBody"] = "0" * 32

    q.send("quiet")
    broker.sqs.meta.events.register("after-call.sqs.ReceiveMessage", corrupt_receive)
    with pytest.raises(ChecksumMismatch) as info:
        q.receive(wait=1)
    assert info.value.code == "ChecksumMismatch"
    broker.sqs.meta.events.register("after-call.sqs.SendMessage", corrupt_send)
    with pytest.raises(ChecksumMismatch):
        q.send("loud")


def test_an_unreachable_endpoint_is_service_unavailable() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    broker = connect(
        closed,
        session=_SESSION,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(ServiceUnavailable) as info:
        broker.get_queue("jobs")
    assert info.value.code == "ServiceUnavailable"
    assert closed in info.value.message


class _Throttled:
    """A raw response body for botocore, standing in for the socket."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _json_headers() -> HTTPHeaders:
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.0"
    return headers


def test_throttling_is_retried(backend: Backend) -> None:
    broker = _connect(backend, retries={"mode": "standard", "max_attempts": 3})
    q = broker.create_queue("throttled")
    throttled = 0

    def throttle_once(request: Any, **_: Any) -> AWSResponse | None:
        nonlocal throttled
        if throttled:
            return None
        throttled += 1
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
        return AWSResponse(
            request.url,
            400,
            _json_headers(),
            _Throttled(body.encode()),
        )

    broker.sqs.meta.events.register("before-send.sqs.SendMessage", throttle_once)
    q.send("after a throttle")
    assert throttled == 1
    [m] = q.receive(wait=1)
    assert m.body == "after a throttle"

    # With no retries left, the throttle reaches the caller with the service's code.
    impatient = _connect(backend, retries={"mode": "standard", "total_max_attempts": 1})
    throttled = 0
    impatient.sqs.meta.events.register("before-send.sqs.SendMessage", throttle_once)
    with pytest.raises(MqliteError) as info:
        impatient.get_queue("throttled").send("refused")
    assert info.value.code == "ThrottlingException"


# Where SQS answers a visibility change on a message already deleted with
# InvalidParameterValue ("Message does not exist or is not available"), moto answers
# ReceiptHandleIsInvalid; the client reports each service's own answer.
_GONE = {"mqlite": InvalidParameterValue, "moto": ReceiptHandleIsInvalid}


def test_a_stale_receipt_handle(backend: Backend, broker: RemoteBroker) -> None:
    q = broker.create_queue("stale")
    q.send("once")
    [first] = q.receive(wait=1, visibility_timeout=0)
    [second] = q.receive(wait=1)
    assert second.receipt_handle != first.receipt_handle
    q.delete(second)
    with pytest.raises(_GONE[backend.name]):
        q.change_visibility(first, 10)
    assert q.receive(wait=0) == []


def test_interrupt_gives_up_a_remote_long_poll_and_loses_nothing(broker: RemoteBroker) -> None:
    q = broker.create_queue("cut-short")
    stop = Interrupt()
    result: list[list[Message]] = []
    poller = threading.Thread(target=lambda: result.append(q.receive(wait=20, interrupt=stop)))
    poller.start()
    stop.set()
    poller.join(4)  # far less than the 20 s long poll still open on the service
    assert not poller.is_alive()
    assert result == [[]]
    # The abandoned request may still take this one: it must make it visible again.
    q.send("after")
    assert [m.body for m in q.receive(wait=10)] == ["after"]
    assert q.receive(wait=0, interrupt=stop) == []  # set beforehand: a short poll


async def _receive_async_interrupted(q: RemoteQueue, stop: Interrupt) -> list[Message]:
    task = asyncio.ensure_future(q.receive_async(wait=20, interrupt=stop))
    await asyncio.sleep(0.05)
    stop.set()
    return await asyncio.wait_for(task, 4)


def test_interrupt_gives_up_a_remote_async_long_poll(broker: RemoteBroker) -> None:
    q = broker.create_queue("cut-short-async")
    assert asyncio.run(_receive_async_interrupted(q, Interrupt())) == []
    q.send("after")
    assert [m.body for m in q.receive(wait=10)] == ["after"]


# --- workers ------------------------------------------------------------------------------


def test_worker_handles_every_message_once_and_deletes_it(broker: RemoteBroker) -> None:
    q = broker.create_queue("pool")
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def handle(m: Message) -> None:
        with lock:
            seen[m.body] += 1

    for start in range(0, 40, 10):
        q.send_batch([SendEntry(str(i), f"m{i}") for i in range(start, start + 10)])
    worker = Worker(q, handle, concurrency=4)
    with worker:
        _until(lambda: worker.processed == 40)
    assert seen == Counter({f"m{i}": 1 for i in range(40)})
    assert q.receive(10, wait=0) == []
    assert q.stats().total == 0


def test_idle_worker_long_polls_the_service_and_still_stops_at_once(
    broker: RemoteBroker,
) -> None:
    q = broker.create_queue("idle-pool")
    waits: list[float | None] = []
    receive = q.receive

    def counting(*args: Any, **kwargs: Any) -> list[Message]:
        waits.append(kwargs.get("wait"))
        return receive(*args, **kwargs)

    q.receive = counting  # type: ignore[method-assign]
    worker = Worker(q, lambda m: None, concurrency=2).start()
    _until(lambda: waits[-1:] == [20])  # the queue was empty: one 20 s long poll
    threading.Event().wait(0.3)  # a 20 ms short poll would have sent ~15 requests by now
    assert len(waits) == 2  # the short poll that found nothing, and the long poll
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    stopper.join(4)  # the long poll on the service is not over: the worker gives it up
    assert not stopper.is_alive()
    q.send("after")  # the abandoned request may take it: it must come back
    assert [m.body for m in receive(wait=10)] == ["after"]


def test_finishing_handlers_leave_the_remote_long_poll_running(broker: RemoteBroker) -> None:
    # An abandoned long poll may still take a message (and release it, one receive
    # counted against max_receive_count): only stop() gives one up.
    q = broker.create_queue("busy-then-idle")
    waits: list[float | None] = []
    receive = q.receive

    def counting(*args: Any, **kwargs: Any) -> list[Message]:
        waits.append(kwargs.get("wait"))
        return receive(*args, **kwargs)

    q.receive = counting  # type: ignore[method-assign]
    release = threading.Event()
    q.send("hold")
    with Worker(q, lambda m: release.wait(4), concurrency=2) as worker:
        _until(lambda: worker.in_flight == 1 and waits[-1:] == [20])
        polls = len(waits)
        release.set()
        _until(lambda: worker.processed == 1)
        threading.Event().wait(0.2)  # a woken fetcher would have polled again by now
        assert len(waits) == polls


def test_worker_keeps_fifo_group_order(broker: RemoteBroker) -> None:
    q = broker.create_queue("groups.fifo", content_based_deduplication=True)
    for group in "abc":
        q.send_batch([SendEntry(str(i), f"{group}{i}", group_id=group) for i in range(5)])
    order: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    lock = threading.Lock()

    def handle(m: Message) -> None:
        assert m.group_id is not None
        with lock:
            order[m.group_id].append(m.body)

    worker = Worker(q, handle, concurrency=3)
    with worker:
        _until(lambda: worker.processed == 15)
    assert order == {g: [f"{g}{i}" for i in range(5)] for g in "abc"}
    assert q.receive(10, wait=0) == []


def test_async_worker_on_a_remote_queue(broker: RemoteBroker) -> None:
    q = broker.create_queue("apool")
    for i in range(12):
        q.send(f"m{i}")
    seen: list[str] = []

    async def handle(m: Message) -> None:
        seen.append(m.body)

    async def main() -> None:
        worker = AsyncWorker(q, handle, concurrency=4, wait=1)
        await worker.start()
        for _ in range(400):
            if worker.stats.processed == 12:
                break
            await asyncio.sleep(0.01)
        await worker.stop()

    asyncio.run(main())
    assert sorted(seen) == sorted(f"m{i}" for i in range(12))
    assert q.receive(10, wait=0) == []


def test_stopping_an_async_worker_leaves_no_long_poll_behind(broker: RemoteBroker) -> None:
    """asyncio.run ends at once after stop(): the remote long poll in progress gives up
    instead of holding the loop's executor (and asyncio.run's exit) for its whole wait."""
    q = broker.create_queue("idle")
    polling = threading.Event()
    broker.sqs.meta.events.register("before-send.sqs.ReceiveMessage", lambda **_: polling.set())

    async def handle(m: Message) -> None:
        raise AssertionError("nothing was sent")

    async def main() -> None:
        worker = AsyncWorker(q, handle, wait=10)
        await worker.start()
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, polling.wait, 10)
        await worker.stop()

    runner = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    runner.start()
    runner.join(timeout=5)
    assert not runner.is_alive(), "asyncio.run waited for the abandoned 10-second long poll"


def test_worker_survives_the_endpoint_going_away(backend: Backend) -> None:
    # boto3's default retries (3 attempts, short backoff for connection errors) absorb
    # the connections the outage broke; connect_timeout keeps a dead endpoint quick.
    broker = _connect(backend, connect_timeout=1)
    q = broker.create_queue("outage", visibility_timeout=30)
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    back = threading.Event()
    holding = threading.Event()

    def handle(m: Message) -> None:
        if m.body == "slow":  # still in hand while the endpoint is away
            holding.set()
            assert back.wait(4)
        with lock:
            seen[m.body] += 1

    logging.getLogger("mqlite.worker").disabled = True
    try:
        worker = Worker(q, handle, concurrency=2, delete_delay=0)
        with worker:
            q.send_batch([SendEntry(str(i), f"before{i}") for i in range(5)])
            q.send("slow")
            _until(lambda: worker.processed == 5 and holding.is_set())
            backend.stop()
            with pytest.raises(ServiceUnavailable):
                q.send("while down")
            threading.Event().wait(0.2)  # the worker polls a dead endpoint meanwhile
            backend.start()
            back.set()
            # A producer elsewhere, on its own connections.
            producer = _connect(backend).get_queue("outage")
            producer.send_batch([SendEntry(str(i), f"after{i}") for i in range(5)])
            _until(lambda: worker.processed == 11)
    finally:
        logging.getLogger("mqlite.worker").disabled = False
    expected = {f"{w}{i}": 1 for w in ("before", "after") for i in range(5)}
    assert seen == Counter({**expected, "slow": 1})
    assert q.receive(10, wait=0) == []
