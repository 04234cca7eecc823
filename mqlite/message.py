"""Frozen value types that go in and out of queues and topics.

Everything here is immutable and cheap to create: results and messages are snapshots,
never live views of a queue's state.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
from collections.abc import Callable, Mapping
from typing import Generic, NamedTuple, Protocol, TypeVar

import attrs

from ._attribute import Attribute

__all__ = [
    "Attribute",
    "BatchFailure",
    "BatchResult",
    "DeleteEntry",
    "DeleteResult",
    "Message",
    "Notification",
    "PublishEntry",
    "PublishResult",
    "QueueStats",
    "SendEntry",
    "SendResult",
    "VisibilityEntry",
    "VisibilityResult",
]

AttributesIn = Mapping[str, "Attribute | str | bytes | int | float | object"]


class Message(NamedTuple):
    """A message as ``receive`` (or ``peek``) returns it.

    Timestamps are integer epoch milliseconds, as in SQS. ``receipt_handle`` is ``None``
    only for messages returned by ``peek``. ``first_receive_timestamp`` is 0 until the
    message has been received once.

    Immutable. A named tuple rather than a frozen class because one is made for every
    message received: it costs a fifth as much to create.
    """

    body: str
    message_id: str
    receipt_handle: str | None
    md5_of_body: str
    md5_of_attributes: str | None
    attributes: dict[str, Attribute]
    receive_count: int
    sent_timestamp: int
    first_receive_timestamp: int
    group_id: str | None = None
    deduplication_id: str | None = None
    sequence_number: str | None = None
    #: The ARN of the queue this message was moved from as a dead letter, else ``None``.
    dead_letter_source_arn: str | None = None


class SendResult(NamedTuple):
    """What ``send`` returns, and one successful entry of ``send_batch``.

    Immutable; a named tuple, like :class:`Message`, because one is made per send.
    """

    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None
    sequence_number: str | None = None
    id: str | None = None


@attrs.frozen(slots=True)
class DeleteResult:
    """One successful entry of ``delete_batch``."""

    id: str


@attrs.frozen(slots=True)
class VisibilityResult:
    """One successful entry of ``change_visibility_batch``."""

    id: str


@attrs.frozen(slots=True)
class SendEntry:
    """One entry of ``send_batch``; the fields mean what ``send``'s arguments mean."""

    id: str
    body: str
    attributes: AttributesIn | None = None
    delay: float | None = None
    group_id: str | None = None
    deduplication_id: str | None = None


@attrs.frozen(slots=True)
class DeleteEntry:
    """One entry of ``delete_batch``."""

    id: str
    receipt_handle: str


@attrs.frozen(slots=True)
class VisibilityEntry:
    """One entry of ``change_visibility_batch``."""

    id: str
    receipt_handle: str
    timeout: float


@attrs.frozen(slots=True)
class BatchFailure:
    """One failed entry of a batch call, as SQS puts it in ``Failed``.

    ``code`` is the per-entry code AWS reports (the legacy code, e.g.
    ``"InvalidMessageContents"``); ``sender_fault`` is True when the caller is at fault.
    """

    id: str
    code: str
    message: str
    sender_fault: bool = True


_R = TypeVar("_R")


@attrs.frozen(slots=True)
class BatchResult(Generic[_R]):
    """The outcome of a batch call: what succeeded and what failed, in request order."""

    successful: list[_R]
    failed: list[BatchFailure]


@attrs.frozen(slots=True)
class QueueStats:
    """A snapshot of a queue's counts (SQS's Approximate* attributes, exact here).

    ``visible``: available to receive now (for FIFO, including messages waiting behind an
    in-flight message of their group); ``in_flight``: received and not yet deleted or
    visible again; ``delayed``: still inside their delay.
    """

    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        """Every message the queue holds, in any state."""
        return self.visible + self.in_flight + self.delayed


@attrs.frozen(slots=True)
class PublishResult:
    """What ``Topic.publish`` returns, and one successful entry of ``publish_batch``."""

    message_id: str
    sequence_number: str | None = None
    id: str | None = None


@attrs.frozen(slots=True)
class PublishEntry:
    """One entry of ``Topic.publish_batch``; the fields mean what ``publish``'s arguments mean."""

    id: str
    message: str
    subject: str | None = None
    attributes: AttributesIn | None = None
    group_id: str | None = None
    deduplication_id: str | None = None
    message_structure: str | None = None


@attrs.frozen(slots=True)
class Notification:
    """What a callable subscriber receives for each published message.

    ``timestamp`` is the publish time in integer epoch milliseconds.
    """

    message_id: str
    topic_arn: str
    subject: str | None
    message: str
    timestamp: int
    attributes: dict[str, Attribute]
    group_id: str | None = None
    deduplication_id: str | None = None
    sequence_number: str | None = None


# --- ids and digests -------------------------------------------------------------------------


# Message ids have the shape of a UUID4. A random per-process prefix plus a counter keeps
# them unique without paying for a random number per message. The counter starts in
# [2**44, 2**45), so its hex form is always the 12 digits of a UUID's last group (for
# the next 10**14 ids).
def _seed_ids() -> None:
    global _ID_HEAD, _id_counter
    prefix = os.urandom(10).hex()
    variant = "89ab"[int(prefix[16], 16) & 3]
    _ID_HEAD = f"{prefix[:8]}-{prefix[8:12]}-4{prefix[13:16]}-{variant}{prefix[17:20]}-"
    _id_counter = itertools.count((1 << 44) | int.from_bytes(os.urandom(3), "big") << 20)


_ID_HEAD = ""
_id_counter = itertools.count()
_seed_ids()
# A forked child gets a prefix of its own, or its ids would repeat its parent's (a file
# the two share would then hold two messages with one id).
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_seed_ids)


def new_message_id() -> str:
    """A fresh message id shaped like a UUID4, unique within this process.

    Cost: O(1).
    """
    return _ID_HEAD + hex(next(_id_counter))[2:]


class _Digest(Protocol):
    def hexdigest(self) -> str: ...


def _builtin_md5() -> Callable[[bytes], _Digest]:
    # CPython's own MD5 skips OpenSSL's per-call setup: a third cheaper on short inputs,
    # which most message bodies are; OpenSSL's is faster from about 1 KiB on.
    try:
        import _md5  # type: ignore[import-not-found]
    except ImportError:  # a Python built without it
        return hashlib.md5
    return _md5.md5  # type: ignore[no-any-return]


_small_md5 = _builtin_md5()
_md5 = hashlib.md5
_SMALL = 512


def md5_hex(data: bytes) -> str:
    """Hex MD5 of *data*, by whichever implementation is faster for its size."""
    if len(data) <= _SMALL:
        return _small_md5(data).hexdigest()
    return _md5(data).hexdigest()


def md5_of_body(body: str) -> str:
    """The MD5 SQS reports for a body: hex digest of its UTF-8 bytes."""
    return md5_hex(body.encode("utf-8", "surrogatepass"))


_U32 = struct.Struct(">I")


def md5_of_attributes(attributes: Mapping[str, Attribute]) -> str | None:
    """The MD5 SQS reports for message attributes, or ``None`` when there are none.

    Names in sorted order; for each: length-prefixed name, length-prefixed data type, a
    transport byte (1 for string values, 2 for binary) and the length-prefixed value.
    """
    if not attributes:
        return None
    buf = bytearray()
    for name in sorted(attributes):
        attr = attributes[name]
        for part in (name.encode("utf-8"), attr.data_type.encode("utf-8")):
            buf += _U32.pack(len(part))
            buf += part
        value = attr.value
        if isinstance(value, bytes):
            buf.append(2)
        else:
            buf.append(1)
            value = value.encode("utf-8")
        buf += _U32.pack(len(value))
        buf += value
    return md5_hex(bytes(buf))
