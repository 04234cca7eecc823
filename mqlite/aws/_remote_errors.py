"""Errors of the remote client, and boto3's errors turned into mqlite's.

A service answers with an AWS error code; :func:`translate` gives back the
:class:`~mqlite.errors.MqliteError` subclass a local queue or topic raises for the same
problem, so ``except QueueDoesNotExist`` (or a check of ``.code``) works on either side.
Codes arrive in several spellings — the shape name (``QueueDoesNotExist``), the legacy
query code (``AWS.SimpleQueueService.NonExistentQueue``) or a JSON shape name ending in
``Exception`` — and every spelling maps to the same class.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
)

from mqlite import errors
from mqlite.errors import InvalidParameterValue, MqliteError

__all__ = ["ChecksumMismatch", "ServiceUnavailable", "translate"]


class ServiceUnavailable(MqliteError):
    """The endpoint could not be reached, or answered that it cannot serve now.

    Raised for network failures (connection refused or reset, timeouts) and for 5xx
    answers once boto3's retries are spent. Nothing is known to have happened: a send
    that raises this may or may not have been stored.
    """

    code = "ServiceUnavailable"
    legacy_code = "ServiceUnavailable"
    http_status = 503


class ChecksumMismatch(MqliteError):
    """A digest the service returned does not match the body or attributes.

    The message was damaged on the way (or the endpoint computes MD5s wrongly). On
    receive, the messages of that call stay in flight and come back after their
    visibility timeout.
    """

    code = "ChecksumMismatch"
    legacy_code = "ChecksumMismatch"
    http_status = 500


def _table() -> dict[str, type[MqliteError]]:
    table: dict[str, type[MqliteError]] = {}
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, MqliteError) and cls is not MqliteError:
            for key in (cls.code, cls.legacy_code, cls.code + "Exception"):
                table.setdefault(key, cls)
    for cls in (ServiceUnavailable, ChecksumMismatch):
        table[cls.code] = cls
    for key in ("InternalError", "InternalFailure", "ServiceUnavailableException"):
        table[key] = ServiceUnavailable
    return table


_BY_CODE = _table()


def translate(exc: Exception, endpoint: str) -> MqliteError:
    """The mqlite error for a botocore error (``ClientError``, ``BotoCoreError``, or an
    answer botocore could not parse — an endpoint that does not serve that service)."""
    if isinstance(exc, ClientError):
        error: Any = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        shape = str(error.get("QueryErrorCode") or "")
        message = str(error.get("Message") or exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        cls = _BY_CODE.get(shape) or _BY_CODE.get(code)
        if cls is None and status >= 500:
            cls = ServiceUnavailable
        if cls is not None:
            return cls(message)
        # A code mqlite has no class for (throttling once retries are spent, access
        # denied, ...): still an MqliteError, carrying the service's own code.
        other = MqliteError(message)
        other.code = shape or code or "InternalError"
        other.legacy_code = code or other.code
        other.http_status = status or 500
        other.sender_fault = str(error.get("Type", "")) == "Sender"
        return other
    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return ServiceUnavailable(f"The endpoint {endpoint} could not be reached: {exc}")
    if isinstance(exc, ParamValidationError):
        return InvalidParameterValue(str(exc))
    if isinstance(exc, NoCredentialsError):
        missing = MqliteError(
            "No AWS credentials found: pass a boto3 Session that has them, or set"
            " AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values for a local endpoint)."
        )
        missing.code = "MissingAuthenticationToken"
        missing.sender_fault = True
        missing.http_status = 403
        return missing
    text = str(exc)
    if not isinstance(exc, BotoCoreError):  # a ResponseParserError
        text = (
            f"The endpoint {endpoint} answered in a form boto3 cannot read (does it serve"
            f" this service?): {text}"
        )
    other = MqliteError(text)
    other.code = type(exc).__name__
    return other
