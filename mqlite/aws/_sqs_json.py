"""The SQS JSON 1.0 protocol (what every current AWS SDK sends), sans-IO.

``X-Amz-Target: AmazonSQS.<Operation>`` names the operation; the body is a JSON object of
its members. Success is HTTP 200 with the output members; an error carries the modelled
shape in ``__type`` and the legacy query code in ``x-amzn-query-error``, so boto3 reports
the same ``Error.Code`` as it did over the query protocol.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from mqlite.errors import MqliteError

from ._regions import Regions
from ._shapes import check_input, operation_model
from ._sqs import SQS_OPERATIONS, SqsContext, UnknownOperation
from ._wire import Request, Response, region_of, request_id

__all__ = ["handle_sqs_json"]

_CONTENT_TYPE = "application/x-amz-json-1.0"
#: Errors SQS does not model as shapes travel under these ``__type`` names.
_UNMODELLED = {
    "InvalidParameterValue": "com.amazonaws.sqs#InvalidParameterValueException",
    "MissingParameter": "com.amazon.coral.service#MissingRequiredParameterException",
}


#: Larger bodies are refused before parsing: a full batch of 1 MiB, base64 and JSON included.
MAX_BODY = 4 * 1024 * 1024

_log = logging.getLogger("mqlite.aws")


class _MalformedRequest(MqliteError):
    code = "InvalidParameterValue"
    legacy_code = "InvalidParameterValue"
    http_status = 400
    sender_fault = True


class _InternalFailure(MqliteError):
    code = "InternalFailure"
    legacy_code = "InternalFailure"
    http_status = 500
    sender_fault = False


def handle_sqs_json(regions: Regions, request: Request, url_base: str | None = None) -> Response:
    """Answer one SQS JSON request from *regions*' state."""
    target = request.header("X-Amz-Target") or ""
    operation = target.partition(".")[2]
    try:
        handler = SQS_OPERATIONS.get(operation)
        model = operation_model("sqs", operation)
        if handler is None or model is None:
            raise UnknownOperation(
                f"The action {operation or target!r} is not valid for this endpoint."
            )
        if len(request.body) > MAX_BODY:
            raise _MalformedRequest(f"The request body is larger than {MAX_BODY} bytes.")
        params = _decode(request.body)
        check_input(model, params)
        ctx = SqsContext(regions, region_of(request), url_base)
        result = handler(ctx, params)
    except MqliteError as error:
        return error_response(error)
    except Exception:
        # A bug here must not take the transport down: AWS's 500, and the traceback logged.
        _log.exception("SQS %s failed", operation)
        return error_response(_InternalFailure("We encountered an internal error."))
    return Response(
        200,
        {"Content-Type": _CONTENT_TYPE, "x-amzn-RequestId": request_id()},
        json.dumps(result, default=_encode_blob, separators=(",", ":")).encode("utf-8"),
    )


def _decode(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except ValueError:
        raise _MalformedRequest("The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise _MalformedRequest("The request body must be a JSON object.")
    return params


def _encode_blob(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot encode {type(value).__name__}")  # pragma: no cover - a bug here


def error_response(error: MqliteError) -> Response:
    """AWS's JSON error for *error*: shape in ``__type``, legacy code in a header."""
    shape = _UNMODELLED.get(error.code, f"com.amazonaws.sqs#{error.code}")
    fault = "Sender" if error.sender_fault else "Receiver"
    body = {"__type": shape, "message": error.message}
    return Response(
        error.http_status,
        {
            "Content-Type": _CONTENT_TYPE,
            "x-amzn-RequestId": request_id(),
            "x-amzn-query-error": f"{error.legacy_code};{fault}",
        },
        json.dumps(body).encode("utf-8"),
    )
