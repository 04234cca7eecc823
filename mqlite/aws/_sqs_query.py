"""SQS over the query protocol (form in, XML out), for clients older than SQS's JSON protocol.

The operations are :mod:`mqlite.aws._sqs`'s, unchanged. What differs from the JSON protocol
is spelling: the query protocol names lists by their items (``AttributeName.1``,
``SendMessageBatchRequestEntry.1.Id``) and maps by their entries (``Attribute.1.Name``),
names SQS's current model no longer records. :data:`NAMES` restores them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mqlite.errors import MqliteError, QueueDoesNotExist

from ._query import Names, QueryService, parse_form
from ._regions import Regions
from ._sqs import SQS_OPERATIONS, SqsContext
from ._wire import Request, Response, region_of

__all__ = ["NAMES", "handle_sqs_query"]

NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"

_ITEMS = (
    "AWSAccountId",
    "ActionName",
    "AttributeName",
    "BatchResultErrorEntry",
    "ChangeMessageVisibilityBatchRequestEntry",
    "ChangeMessageVisibilityBatchResultEntry",
    "DeleteMessageBatchRequestEntry",
    "DeleteMessageBatchResultEntry",
    "ListMessageMoveTasksResultEntry",
    "Message",
    "MessageAttributeName",
    "QueueUrl",
    "SendMessageBatchRequestEntry",
    "SendMessageBatchResultEntry",
    "TagKey",
)

#: The query protocol's names for SQS members, by the shapes of SQS's current model.
NAMES = Names(
    members={
        ("CreateQueueRequest", "Attributes"): "Attribute",
        ("CreateQueueRequest", "tags"): "Tag",
        ("SetQueueAttributesRequest", "Attributes"): "Attribute",
        ("GetQueueAttributesResult", "Attributes"): "Attribute",
        ("TagQueueRequest", "Tags"): "Tag",
        ("ListQueueTagsResult", "Tags"): "Tag",
        ("Message", "Attributes"): "Attribute",
        ("Message", "MessageAttributes"): "MessageAttribute",
        ("SendMessageRequest", "MessageAttributes"): "MessageAttribute",
        ("SendMessageRequest", "MessageSystemAttributes"): "MessageSystemAttribute",
        ("SendMessageBatchRequestEntry", "MessageAttributes"): "MessageAttribute",
        ("SendMessageBatchRequestEntry", "MessageSystemAttributes"): "MessageSystemAttribute",
    },
    items={
        **{f"{name}List": name for name in _ITEMS},
        "MessageSystemAttributeList": "MessageSystemAttributeName",
        "StringList": "StringListValue",
        "BinaryList": "BinaryListValue",
    },
    entries={
        "QueueAttributeMap": ("Name", "Value"),
        "MessageSystemAttributeMap": ("Name", "Value"),
        "MessageBodyAttributeMap": ("Name", "Value"),
        "MessageBodySystemAttributeMap": ("Name", "Value"),
        "TagMap": ("Key", "Value"),
    },
)


def _adapt(error: MqliteError) -> MqliteError:
    # The query protocol words a missing queue as SQS's XML API always has.
    if isinstance(error, QueueDoesNotExist):
        return QueueDoesNotExist("The specified queue does not exist for this wsdl version.")
    return error


SERVICE = QueryService("sqs", NAMESPACE, SQS_OPERATIONS, NAMES, _adapt)


def handle_sqs_query(regions: Regions, request: Request, url_base: str | None = None) -> Response:
    """Answer one SQS query request; a request POSTed to a queue's URL names that queue."""
    try:
        form = parse_form(request)
        # A durable region is opened on first use, which can fail (a bad file).
        context = SqsContext(regions, region_of(request), url_base)
    except MqliteError as error:
        return SERVICE.error(error)
    path = urlsplit(request.path).path
    defaults = {"QueueUrl": path} if len([p for p in path.split("/") if p]) >= 2 else None
    return SERVICE.answer(form, context, defaults)
