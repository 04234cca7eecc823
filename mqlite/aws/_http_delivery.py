"""SNS's ``http`` and ``https`` subscriptions: a confirmation request, then a POST per message.

As on SNS, subscribing an HTTP(S) endpoint POSTs a ``SubscriptionConfirmation`` to it; the
subscription stays pending until ConfirmSubscription is called with the token it carried
(or its ``SubscribeURL`` is visited). Once confirmed, each published message that passes
the subscription's filter policy is POSTed as a ``Notification`` (the JSON envelope, or the
bare message with raw delivery), with SNS's ``x-amz-sns-*`` headers.

POSTs are made by one background thread per endpoint state, in publish order, so a
publish never waits for a subscriber's web server. A POST that fails (no connection, or a
status outside 2xx) is tried three times in all, then logged at WARNING and dropped.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import quote

from mqlite._envelope import (
    EnvelopeWriter,
    attributes_json,
    fake_signature,
    iso_timestamp,
    signing_cert_url,
    unsubscribe_url,
)
from mqlite.message import Notification, new_message_id

__all__ = ["HttpSender", "HttpTarget", "confirmation_request"]

_log = logging.getLogger("mqlite.aws.sns")

#: How many times a POST is tried before it is given up.
ATTEMPTS = 3
#: Seconds to wait for an endpoint to answer one POST.
TIMEOUT = 5.0
_AGENT = "Amazon Simple Notification Service Agent"

_Job = tuple[str, dict[str, str], bytes]


class HttpSender:
    """POSTs to subscribers' endpoints from one background thread, in the order given."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def post(self, url: str, headers: dict[str, str], body: bytes) -> None:
        """Queue one POST; returns at once."""
        with self._lock:
            if self._closed:
                return
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="mqlite-sns-http", daemon=True
                )
                self._thread.start()
        self._jobs.put((url, headers, body))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued POST has been made (or given up); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Stop the thread once what is queued has been sent; later POSTs are dropped."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._jobs.put(None)
            thread.join(TIMEOUT * ATTEMPTS + 1)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                _deliver(*job)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._lock.notify_all()


def _deliver(url: str, headers: dict[str, str], body: bytes) -> None:
    problem = ""
    for _ in range(ATTEMPTS):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                response.read()
                if 200 <= response.status < 300:
                    return
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code}"
        except (OSError, ValueError) as error:
            problem = str(error) or type(error).__name__
    _log.warning(
        "SNS delivery to %s gave up after %d attempts (%s): %s message %s",
        url,
        ATTEMPTS,
        problem,
        headers.get("x-amz-sns-message-type"),
        headers.get("x-amz-sns-message-id"),
    )


def _headers(kind: str, message_id: str, topic_arn: str) -> dict[str, str]:
    return {
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": _AGENT,
        "x-amz-sns-message-type": kind,
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": topic_arn,
    }


def confirmation_request(
    *, topic_arn: str, token: str, region: str, url_base: str, now_ms: int
) -> tuple[dict[str, str], bytes]:
    """The headers and body of the ``SubscriptionConfirmation`` SNS POSTs to an endpoint."""
    message_id = new_message_id()
    timestamp = iso_timestamp(now_ms)
    text = (
        f"You have chosen to subscribe to the topic {topic_arn}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    )
    document = {
        "Type": "SubscriptionConfirmation",
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": text,
        "SubscribeURL": (
            f"{url_base}/?Action=ConfirmSubscription&TopicArn={quote(topic_arn, safe='')}"
            f"&Token={token}"
        ),
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": fake_signature(text, message_id, None, timestamp, topic_arn),
        "SigningCertURL": signing_cert_url(region),
    }
    headers = _headers("SubscriptionConfirmation", message_id, topic_arn)
    return headers, json.dumps(document).encode("utf-8")


class HttpTarget:
    """The callable a confirmed HTTP(S) subscription is in the core: it queues a POST."""

    def __init__(
        self,
        sender: HttpSender,
        endpoint: str,
        subscription_arn: str,
        region: str,
        raw: Callable[[], bool],
        topic_arn: str,
    ) -> None:
        self.sender = sender
        self.endpoint = endpoint
        self.subscription_arn = subscription_arn
        self.raw = raw
        #: The key of a MessageStructure=json publish this endpoint's text is under.
        self.sns_protocol = "https" if endpoint.lower().startswith("https:") else "http"
        # The envelope an sqs subscriber of the topic gets (http(s) is for standard topics).
        self._writer = EnvelopeWriter(topic_arn, region, fifo=False)
        self._unsubscribe = json.dumps(unsubscribe_url(region, subscription_arn))

    def __call__(self, notification: Notification) -> None:
        headers = _headers("Notification", notification.message_id, notification.topic_arn)
        headers["x-amz-sns-subscription-arn"] = self.subscription_arn
        if self.raw():
            headers["x-amz-sns-rawdelivery"] = "true"
            body = notification.message
        else:
            n = notification
            head, tail = self._writer.parts(
                message=n.message,
                message_id=n.message_id,
                subject=n.subject,
                timestamp=iso_timestamp(n.timestamp),
                sequence_number=n.sequence_number,
                attributes=attributes_json(n.attributes) if n.attributes else None,
            )
            body = head + self._unsubscribe + tail
        self.sender.post(self.endpoint, headers, body.encode("utf-8"))
