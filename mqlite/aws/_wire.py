"""HTTP requests and responses as plain values: the sans-IO boundary of ``mqlite.aws``.

A transport (botocore's hook in :mod:`mqlite.aws._mock`, the HTTP server) turns what it
received into a :class:`Request`, passes it to :func:`mqlite.aws._dispatch.handle`, and
writes the :class:`Response` back. No sockets and no threads on this side.
"""

from __future__ import annotations

import re
import uuid

import attrs

__all__ = ["Request", "Response", "region_of", "request_id"]

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_HOST = re.compile(r"^(sqs|sns)\.([a-z0-9-]+)\.amazonaws\.com")


@attrs.frozen
class Request:
    """One HTTP request: method, path (with any query string), headers, body bytes."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    #: The host the request went to (from the URL or the Host header).
    host: str = ""

    def header(self, name: str) -> str | None:
        """A header's value, looked up case-insensitively."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@attrs.frozen
class Response:
    """One HTTP response: status, headers, body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes


def region_of(request: Request, default: str = "us-east-1") -> str:
    """The region a request is for: its signature's scope, else its AWS host name."""
    match = _SCOPE.search(request.header("Authorization") or "")
    if match:
        return match[1]
    host = _HOST.match(request.host or request.header("Host") or "")
    if host:
        return host[2]
    return default


def service_of(request: Request) -> str | None:
    """``"sqs"`` or ``"sns"`` from the request's signature scope, target or host; else None."""
    target = request.header("X-Amz-Target") or ""
    if target.startswith("AmazonSQS."):
        return "sqs"
    match = _SCOPE.search(request.header("Authorization") or "")
    if match and match[2] in ("sqs", "sns"):
        return match[2]
    host = _HOST.match(request.host or request.header("Host") or "")
    if host:
        return host[1]
    return None


def request_id() -> str:
    """A fresh request id, shaped as AWS's."""
    return str(uuid.uuid4())
