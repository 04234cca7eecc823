"""The SNS JSON envelope a non-raw subscription receives, and its (fake) signature.

The ``Signature`` is **not** a real SNS signature: it is the base64 of a SHA-1 digest of
the canonical string SNS signs (no RSA key, no certificate), so it is cheap enough to
compute for every publish. Consumers must not verify it; ``SigningCertURL`` points nowhere.

The envelope is written as ``json.dumps`` of the document would write it (default
separators, ASCII only, keys in AWS's order), but without building the document: an
:class:`EnvelopeWriter` encodes the topic's constant fields once, and each publish only
encodes its message, subject and attributes. Its output is pinned, byte for byte, to
``json.dumps`` of the document by the tests.
"""

from __future__ import annotations

import binascii
import hashlib
import json.encoder
import time
from collections.abc import Mapping

from ._attribute import Attribute

__all__ = [
    "EnvelopeWriter",
    "attributes_json",
    "fake_signature",
    "iso_timestamp",
    "signing_cert_url",
    "unsubscribe_url",
]

_CERT_HEX = hashlib.md5(b"mqlite-fake-signing-cert").hexdigest()

# The string encoder json.dumps itself uses (ensure_ascii=True): a str as a JSON literal.
_json_str = json.encoder.encode_basestring_ascii
_b64 = binascii.b2a_base64
_sha1 = hashlib.sha1

# (epoch seconds, formatted prefix) of the last timestamp: publishes within one second
# share the strftime work. Replaced whole, so threads never see half an update.
_last_second: tuple[int, str] = (-1, "")


def iso_timestamp(epoch_ms: int) -> str:
    """``2012-05-02T00:54:06.655Z`` for integer epoch milliseconds. Cost: O(1)."""
    global _last_second
    seconds, millis = divmod(epoch_ms, 1000)
    cached_seconds, prefix = _last_second
    if cached_seconds != seconds:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _last_second = (seconds, prefix)
    return f"{prefix}.{millis:03d}Z"


def signing_cert_url(region: str) -> str:
    """A SigningCertURL of the AWS shape (it does not resolve to a real certificate)."""
    return f"https://sns.{region}.amazonaws.com/SimpleNotificationService-{_CERT_HEX}.pem"


def unsubscribe_url(region: str, subscription_arn: str) -> str:
    """The UnsubscribeURL of a subscription."""
    return (
        f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"
    )


def fake_signature(
    message: str, message_id: str, subject: str | None, timestamp: str, topic_arn: str
) -> str:
    """base64(sha1(canonical string)) — the canonical string is the one SNS signs.

    Not a cryptographic signature: there is no key. Cost: O(len(message)).
    """
    canonical = f"Message\n{message}\nMessageId\n{message_id}\n"
    if subject is not None:
        canonical += f"Subject\n{subject}\n"
    canonical += f"Timestamp\n{timestamp}\nTopicArn\n{topic_arn}\nType\nNotification\n"
    digest = _sha1(canonical.encode("utf-8", "surrogatepass")).digest()
    return _b64(digest, newline=False).decode("ascii")


def attributes_json(attributes: Mapping[str, Attribute]) -> str:
    """The envelope's ``MessageAttributes`` value as JSON text:
    ``{name: {"Type": data_type, "Value": text}}``, Binary values as base64 text.

    Byte for byte what ``json.dumps`` writes for that document. Cost: O(size of the
    attributes).
    """
    items = []
    for name, attr in attributes.items():
        value = attr.value
        text = _b64(value, newline=False).decode("ascii") if isinstance(value, bytes) else value
        items.append(
            _json_str(name)
            + ': {"Type": '
            + _json_str(attr.data_type)
            + ', "Value": '
            + _json_str(text)
            + "}"
        )
    return "{" + ", ".join(items) + "}"


class EnvelopeWriter:
    """Writes the envelopes of one topic's notifications.

    Made once per topic: the topic ARN and the SigningCertURL are encoded here, so a
    publish encodes only what is its own. Stateless after construction (thread-safe).
    """

    __slots__ = ("_arn", "_fifo", "_signing", "_topic_arn")

    def __init__(self, topic_arn: str, region: str, fifo: bool) -> None:
        self._topic_arn = topic_arn
        self._fifo = fifo
        self._arn = f', "TopicArn": {_json_str(topic_arn)}'
        self._signing = f', "SigningCertURL": {_json_str(signing_cert_url(region))}'

    def parts(
        self,
        *,
        message: str,
        message_id: str,
        subject: str | None,
        timestamp: str,
        sequence_number: str | None,
        attributes: str | None,
    ) -> tuple[str, str]:
        """The JSON body of a non-raw delivery, split around its only per-subscription
        part: ``head + json.dumps(unsubscribe_url) + tail`` is the whole document.

        *attributes* is :func:`attributes_json` of the message attributes, or None when
        there are none. Keys are in AWS's order: ``Type, MessageId, [SequenceNumber],
        TopicArn, [Subject], Message, Timestamp, [SignatureVersion, Signature,
        SigningCertURL — standard topics only], UnsubscribeURL, [MessageAttributes]``.
        Cost: O(len(message) + len(subject)), plus the signature's SHA-1 on a standard
        topic.
        """
        # Message ids, timestamps, sequence numbers and base64 signatures hold only
        # characters JSON never escapes, so they are quoted as they are.
        head = '{"Type": "Notification", "MessageId": "' + message_id + '"'
        if self._fifo and sequence_number is not None:
            head += ', "SequenceNumber": "' + sequence_number + '"'
        head += self._arn
        if subject is not None:
            head += ', "Subject": ' + _json_str(subject)
        head += ', "Message": ' + _json_str(message) + ', "Timestamp": "' + timestamp + '"'
        if not self._fifo:
            signature = fake_signature(message, message_id, subject, timestamp, self._topic_arn)
            head += ', "SignatureVersion": "1", "Signature": "' + signature + '"' + self._signing
        head += ', "UnsubscribeURL": '
        tail = "}" if attributes is None else ', "MessageAttributes": ' + attributes + "}"
        return head, tail
