"""One entry point for every request: which service and protocol it speaks, then its answer.

SQS speaks JSON (``X-Amz-Target``) to current SDKs and the query protocol to older ones; SNS
speaks the query protocol. The service comes from the transport when it knows it, else the
signature's scope or the host, else the action a form names.
"""

from __future__ import annotations

from ._regions import Regions
from ._sns_query import handle_sns_query, sns_only
from ._sqs_json import handle_sqs_json
from ._sqs_query import handle_sqs_query
from ._wire import Request, Response, service_of

__all__ = ["handle"]


def handle(
    regions: Regions, request: Request, *, service: str | None = None, url_base: str | None = None
) -> Response:
    """Answer *request* from *regions*' state; *service* when the transport already knows it."""
    # Of the two services only SQS speaks JSON.
    if request.header("X-Amz-Target") is not None or "json" in (
        request.header("Content-Type") or ""
    ):
        return handle_sqs_json(regions, request, url_base)
    service = service or service_of(request)
    if service == "sns" or (service is None and _action(request) in sns_only()):
        return handle_sns_query(regions, request, url_base)
    return handle_sqs_query(regions, request, url_base)


def _action(request: Request) -> str | None:
    # Only an unsigned request to an unknown host gets here: find the form's Action cheaply.
    for source in (request.path.partition("?")[2], request.body.decode("utf-8", "replace")):
        for pair in source.split("&"):
            key, _, value = pair.partition("=")
            if key == "Action":
                return value
    return None
