"""The SNS JSON envelope a non-raw subscription receives, and its (fake) signature.

The ``Signature`` is **not** a real SNS signature: it is the base64 of a SHA-1 digest of
the canonical string SNS signs (no RSA key, no certificate), so it is cheap enough to
compute for every publish. Consumers must not verify it; ``SigningCertURL`` points nowhere.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping

from ._attribute import Attribute

__all__ = [
    "build_envelope",
    "envelope_parts",
    "fake_signature",
    "iso_timestamp",
    "signing_cert_url",
    "unsubscribe_url",
]

_CERT_HEX = hashlib.md5(b"mqlite-fake-signing-cert").hexdigest()


def iso_timestamp(epoch_ms: int) -> str:
    """``2012-05-02T00:54:06.655Z`` for integer epoch milliseconds."""
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def signing_cert_url(region: str) -> str:
    """A SigningCertURL of the AWS shape (it does not resolve to a real certificate)."""
    return f"https://sns.{region}.amazonaws.com/SimpleNotificationService-{_CERT_HEX}.pem"


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
    digest = hashlib.sha1(canonical.encode("utf-8", "surrogatepass")).digest()
    return base64.b64encode(digest).decode("ascii")


def envelope_attributes(attributes: Mapping[str, Attribute]) -> dict[str, dict[str, str]]:
    """``{name: {"Type": data_type, "Value": text}}``; Binary values as base64 text."""
    out: dict[str, dict[str, str]] = {}
    for name, attr in attributes.items():
        value = attr.value
        text = base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
        out[name] = {"Type": attr.data_type, "Value": text}
    return out


def envelope_parts(
    *,
    message: str,
    message_id: str,
    topic_arn: str,
    subject: str | None,
    timestamp: str,
    region: str,
    fifo: bool,
    sequence_number: str | None,
    signature: str | None,
    attributes: Mapping[str, Attribute],
) -> tuple[str, str]:
    """The JSON body of a non-raw delivery, split around its only per-subscription part.

    ``head + json.dumps(unsubscribe_url) + tail`` is the whole document (see
    :func:`build_envelope`); a publish builds the parts once and each subscription only
    adds its UnsubscribeURL. Keys are in AWS's order: ``Type, MessageId,
    [SequenceNumber], TopicArn, [Subject], Message, Timestamp, [SignatureVersion,
    Signature, SigningCertURL — standard topics only], UnsubscribeURL,
    [MessageAttributes]``.
    """
    doc: dict[str, object] = {"Type": "Notification", "MessageId": message_id}
    if fifo and sequence_number is not None:
        doc["SequenceNumber"] = sequence_number
    doc["TopicArn"] = topic_arn
    if subject is not None:
        doc["Subject"] = subject
    doc["Message"] = message
    doc["Timestamp"] = timestamp
    if not fifo:
        doc["SignatureVersion"] = "1"
        doc["Signature"] = signature
        doc["SigningCertURL"] = signing_cert_url(region)
    head = json.dumps(doc)[:-1] + ', "UnsubscribeURL": '
    tail = "}"
    if attributes:
        tail = ', "MessageAttributes": ' + json.dumps(envelope_attributes(attributes)) + "}"
    return head, tail


def unsubscribe_url(region: str, subscription_arn: str) -> str:
    """The UnsubscribeURL of a subscription."""
    return (
        f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"
    )


def build_envelope(
    *,
    message: str,
    message_id: str,
    topic_arn: str,
    subject: str | None,
    timestamp: str,
    subscription_arn: str,
    region: str,
    fifo: bool,
    sequence_number: str | None,
    signature: str | None,
    attributes: Mapping[str, Attribute],
) -> str:
    """The JSON body a non-raw SQS subscription receives, keys in AWS's order."""
    head, tail = envelope_parts(
        message=message,
        message_id=message_id,
        topic_arn=topic_arn,
        subject=subject,
        timestamp=timestamp,
        region=region,
        fifo=fifo,
        sequence_number=sequence_number,
        signature=signature,
        attributes=attributes,
    )
    return head + json.dumps(unsubscribe_url(region, subscription_arn)) + tail
