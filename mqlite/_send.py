"""A prepared send: a message checked once against SQS's rules, with its MD5s.

Every way into a queue goes through one: ``Queue.send`` and ``send_batch`` prepare
their input, a ``Topic`` prepares each publish once for all its queues, and a redrive
prepares a stored message. What :func:`prepare` checks holds for any queue (the body,
the attributes, their size and MD5s); what depends on the queue (its size limit, FIFO
or standard ids, the delay) ``Queue`` checks when the prepared send arrives, and the
core stores it. A prepared send is an immutable tuple, so one can go to many queues.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeAlias

from . import _validation as v
from ._attribute import Attribute
from .message import md5_hex, md5_of_attributes, md5_of_body

__all__ = ["PreparedSend", "prepare", "stored", "without_deduplication_id"]

# Shared by every send without attributes: read-only, and nothing allocated per send.
_NO_ATTRIBUTES: Mapping[str, Attribute] = MappingProxyType({})


#: A send whose queue-independent checks passed, as a plain tuple (a named tuple costs
#: several times more to make, and one is made per send):
#:
#: ``(body, md5_of_body, attributes, md5_of_attributes, size, delay, group_id,
#: deduplication_id, entry_id)``
#:
#: *attributes* are checked and shared by every queue the send goes to (the core copies
#: them); *size* is SQS's size of the message (body plus attributes, in bytes), 0 for a
#: stored message, which goes in whatever the target's size limit (a redrive); *delay*
#: is as given (``Queue`` checks it: what is allowed depends on the queue's kind).
PreparedSend: TypeAlias = tuple[
    str, str, Mapping[str, Attribute], str | None, int, Any, str | None, str | None, str | None
]


def prepare(
    body: object,
    attributes: Mapping[str, Any] | None = None,
    delay: object = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    entry_id: str | None = None,
) -> PreparedSend:
    """Check *body* and *attributes* and compute their MD5s. Cost: O(size).

    Raises:
        MissingParameter: empty body.
        InvalidMessageContents: characters SQS does not allow.
        InvalidParameterValue: not a ``str``; bad attributes.
    """
    if attributes is None and type(body) is str and body.isascii() and body.isprintable() and body:
        # The common case needs no further check: printable ASCII is a valid body and
        # its size is its length.
        return (
            body,
            md5_hex(body.encode()),
            _NO_ATTRIBUTES,
            None,
            len(body),
            delay,
            group_id,
            deduplication_id,
            entry_id,
        )
    text = v.check_body(body)
    attrs = v.normalize_attributes(attributes)
    size = v.utf8_len(text) + (v.attributes_size(attrs) if attrs else 0)
    return (
        text,
        md5_of_body(text),
        attrs,
        md5_of_attributes(attrs) if attrs else None,
        size,
        delay,
        group_id,
        deduplication_id,
        entry_id,
    )


def stored(
    body: str,
    md5_of_body: str,
    attributes: Mapping[str, Attribute],
    md5_of_attributes: str | None,
    group_id: str | None,
    deduplication_id: str | None,
) -> PreparedSend:
    """A message a queue already accepted, sent on as it is (a redrive). Cost: O(1)."""
    return (
        body,
        md5_of_body,
        attributes,
        md5_of_attributes,
        0,
        None,
        group_id,
        deduplication_id,
        None,
    )


def without_deduplication_id(p: PreparedSend) -> PreparedSend:
    """*p* for a standard queue: a FIFO topic's publish carries a dedup id. Cost: O(1)."""
    return (p[0], p[1], p[2], p[3], p[4], p[5], p[6], None, p[8])
