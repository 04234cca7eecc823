"""One entry point for every request: which service and protocol it speaks, then its answer."""

from __future__ import annotations

from ._regions import Regions
from ._sqs_json import handle_sqs_json
from ._wire import Request, Response, service_of

__all__ = ["handle"]


def handle(
    regions: Regions, request: Request, *, service: str | None = None, url_base: str | None = None
) -> Response:
    """Answer *request* from *regions*' state; *service* when the transport already knows it."""
    service = service or service_of(request)
    if request.header("X-Amz-Target") is not None or service == "sqs":
        return handle_sqs_json(regions, request, url_base)
    from ._sqs import UnknownOperation
    from ._sqs_json import error_response

    return error_response(UnknownOperation("This endpoint does not serve that service yet."))
