"""The whole exception tree, each class carrying its AWS error code.

Every error mqlite raises on purpose is a :class:`MqliteError`. Its ``code`` is the short
name AWS uses (the modelled shape name where there is one, else the plain error code), its
``legacy_code`` the code that goes on the wire (``x-amzn-query-error``), and ``http_status``
and ``sender_fault`` say what a server would answer. Errors about a bad argument also
subclass :class:`ValueError`; "not found" errors also subclass :class:`LookupError`, so
plain ``except ValueError`` code keeps working.
"""

from __future__ import annotations

__all__ = [
    "BatchEntryIdsNotDistinct",
    "BatchRequestTooLong",
    "Closed",
    "EmptyBatchRequest",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "InvalidBatchEntryId",
    "InvalidMessageContents",
    "InvalidParameter",
    "InvalidParameterValue",
    "MissingParameter",
    "MqliteError",
    "NotFound",
    "OverLimit",
    "ParameterValueInvalid",
    "PurgeQueueInProgress",
    "QueueDeletedRecently",
    "QueueDoesNotExist",
    "QueueNameExists",
    "ReceiptHandleIsInvalid",
    "ResourceNotFound",
    "StorageError",
    "TooManyEntriesInBatchRequest",
    "UnsupportedOperation",
]


class MqliteError(Exception):
    """Base of every error mqlite raises on purpose.

    Attributes:
        code: the AWS error's short name, e.g. ``"QueueDoesNotExist"``.
        legacy_code: the wire-level code, e.g. ``"AWS.SimpleQueueService.NonExistentQueue"``.
        http_status: the HTTP status AWS answers with.
        sender_fault: whether the caller (not the service) is at fault.
        message: the human-readable explanation (also ``str(error)``).
    """

    code: str = "InternalError"
    legacy_code: str = "InternalError"
    http_status: int = 500
    sender_fault: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class _BadRequest(MqliteError, ValueError):
    """A request AWS rejects with HTTP 400 because of what the caller sent."""

    http_status = 400
    sender_fault = True


class _NotFoundBase(MqliteError, LookupError):
    """Something the caller named does not exist."""

    sender_fault = True


# --- SQS -----------------------------------------------------------------------------------


class QueueDoesNotExist(_NotFoundBase):
    """The queue does not exist (or was deleted)."""

    code = "QueueDoesNotExist"
    legacy_code = "AWS.SimpleQueueService.NonExistentQueue"
    http_status = 400


class QueueNameExists(_BadRequest):
    """A queue with this name exists with a different value for a setting."""

    code = "QueueNameExists"
    legacy_code = "QueueAlreadyExists"


class QueueDeletedRecently(_BadRequest):
    """A queue of this name was deleted less than 60 seconds ago."""

    code = "QueueDeletedRecently"
    legacy_code = "AWS.SimpleQueueService.QueueDeletedRecently"


class InvalidAttributeName(_BadRequest):
    """An unknown queue attribute, or one that does not apply to this kind of queue."""

    code = "InvalidAttributeName"
    legacy_code = "InvalidAttributeName"


class InvalidAttributeValue(_BadRequest):
    """A queue attribute's value is out of range or malformed."""

    code = "InvalidAttributeValue"
    legacy_code = "InvalidAttributeValue"


class InvalidParameterValue(_BadRequest):
    """A request parameter is invalid (most SQS validation failures)."""

    code = "InvalidParameterValue"
    legacy_code = "InvalidParameterValue"


class MissingParameter(_BadRequest):
    """A required parameter is missing or empty."""

    code = "MissingParameter"
    legacy_code = "MissingParameter"


class InvalidMessageContents(_BadRequest):
    """The message body holds characters SQS does not allow."""

    code = "InvalidMessageContents"
    legacy_code = "InvalidMessageContents"


class ReceiptHandleIsInvalid(_BadRequest):
    """The receipt handle was never issued by this queue."""

    code = "ReceiptHandleIsInvalid"
    legacy_code = "ReceiptHandleIsInvalid"


class EmptyBatchRequest(_BadRequest):
    """A batch call with no entries."""

    code = "EmptyBatchRequest"
    legacy_code = "AWS.SimpleQueueService.EmptyBatchRequest"


class TooManyEntriesInBatchRequest(_BadRequest):
    """A batch call with more than 10 entries."""

    code = "TooManyEntriesInBatchRequest"
    legacy_code = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


class InvalidBatchEntryId(_BadRequest):
    """A batch entry id that is empty, too long, or has characters outside [A-Za-z0-9_-]."""

    code = "InvalidBatchEntryId"
    legacy_code = "AWS.SimpleQueueService.InvalidBatchEntryId"


class BatchEntryIdsNotDistinct(_BadRequest):
    """Two entries of one batch share an id."""

    code = "BatchEntryIdsNotDistinct"
    legacy_code = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


class BatchRequestTooLong(_BadRequest):
    """The entries of one batch add up to more than 1 MiB."""

    code = "BatchRequestTooLong"
    legacy_code = "AWS.SimpleQueueService.BatchRequestTooLong"


class PurgeQueueInProgress(MqliteError):
    """The queue was purged less than 60 seconds ago."""

    code = "PurgeQueueInProgress"
    legacy_code = "AWS.SimpleQueueService.PurgeQueueInProgress"
    http_status = 403
    sender_fault = True


class OverLimit(MqliteError):
    """The queue's in-flight limit is reached (short-poll receive on a standard queue)."""

    code = "OverLimit"
    legacy_code = "OverLimit"
    http_status = 403
    sender_fault = True


class ResourceNotFound(_NotFoundBase):
    """A message-move task, or its source or destination, does not exist."""

    code = "ResourceNotFoundException"
    legacy_code = "ResourceNotFoundException"
    http_status = 404


class UnsupportedOperation(_BadRequest):
    """The operation is not supported for this resource."""

    code = "UnsupportedOperation"
    legacy_code = "AWS.SimpleQueueService.UnsupportedOperation"


# --- SNS -----------------------------------------------------------------------------------


class InvalidParameter(_BadRequest):
    """SNS's general validation error (bad topic name, bad filter policy, ...)."""

    code = "InvalidParameter"
    legacy_code = "InvalidParameter"


class ParameterValueInvalid(_BadRequest):
    """SNS's error for a malformed message attribute."""

    code = "ParameterValueInvalid"
    legacy_code = "ParameterValueInvalid"


class NotFound(_NotFoundBase):
    """The topic or subscription does not exist."""

    code = "NotFound"
    legacy_code = "NotFound"
    http_status = 404


# --- durable storage -----------------------------------------------------------------------


class StorageError(MqliteError):
    """A durable file cannot be used: it is not mqlite's, is damaged, was written by a newer
    version, is of the other kind (broker/queue) or another queue's, is open elsewhere, or a
    write to it failed (after which the object must be closed and the file reopened)."""

    code = "InvalidStorage"
    legacy_code = "InvalidStorage"
    http_status = 500
    sender_fault = False


class Closed(MqliteError):
    """A call on a queue or broker after its ``close()``."""

    code = "ResourceClosed"
    legacy_code = "ResourceClosed"
