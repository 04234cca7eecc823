"""SNS over the query protocol (form in, XML out): what every SDK speaks to SNS."""

from __future__ import annotations

import functools

from mqlite.errors import MqliteError

from ._query import QueryService, parse_form
from ._regions import Regions
from ._shapes import service_model
from ._sns import SNS_OPERATIONS, SnsContext
from ._wire import Request, Response, region_of

__all__ = ["handle_sns_query", "sns_only"]

NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"

SERVICE = QueryService("sns", NAMESPACE, SNS_OPERATIONS)


@functools.cache
def sns_only() -> frozenset[str]:
    """Actions only SNS has: an unsigned form naming one of these is for SNS.

    Read from botocore's models on first use, not at import: loading the two models takes
    a tenth of a second, which a process that only imports ``mqlite.aws`` should not pay.
    """
    sqs = frozenset(service_model("sqs").operation_names)
    return frozenset(service_model("sns").operation_names) - sqs


def handle_sns_query(regions: Regions, request: Request, url_base: str | None = None) -> Response:
    """Answer one SNS query request from *regions*' state."""
    try:
        form = parse_form(request)
        # A durable region is opened on first use, which can fail (a bad file).
        context = SnsContext(regions, region_of(request), url_base)
    except MqliteError as error:
        return SERVICE.error(error)
    return SERVICE.answer(form, context)
