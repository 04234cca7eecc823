"""The AWS query protocol, sans-IO: a form in, XML out, driven by botocore's service model.

A query request is a flat form (``Action=Publish&MessageAttributes.entry.1.Name=n&...``).
:func:`decode` rebuilds the nested members the model describes, the same dict the JSON
protocol carries, so one set of operations serves both; :func:`encode` writes an operation's
output members as the XML an SDK parses. How members are spelled comes from the model
(``locationName``, ``flattened``); :class:`Names` lets a service override that, as SQS's
query names differ from those in its current (JSON) model.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import attrs
from botocore.model import ListShape, MapShape, Shape, StructureShape

from mqlite.errors import InvalidParameterValue, MissingParameter, MqliteError

from ._shapes import check_input, operation_model
from ._wire import Request, Response, request_id

__all__ = ["Names", "QueryService", "decode", "encode", "error_xml", "parse_form", "result_xml"]

_log = logging.getLogger("mqlite.aws")
#: Form members every query request may carry besides the operation's own.
_ENVELOPE = frozenset(
    (
        "Action",
        "Version",
        "AWSAccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "Timestamp",
        "Expires",
        "SecurityToken",
    )
)

_INDEX = re.compile(r"[1-9][0-9]{0,5}")
_INTEGER = re.compile(r"-?[0-9]{1,20}")
#: Deeper forms than any model needs are refused before they cost anything.
_MAX_DEPTH = 16
#: Characters XML 1.0 cannot carry at all, even as a reference; and surrogates, which
#: UTF-8 cannot: written as U+FFFD, so a client can always parse the document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@attrs.frozen
class Names:
    """How a service spells its members on the query wire, where the model does not say.

    Attributes:
        members: ``(structure shape, member)`` to the name on the wire.
        items: list shape to the name of each item.
        entries: map shape to the names of an entry's key and value.
    """

    members: Mapping[tuple[str, str], str] = attrs.field(factory=dict)
    items: Mapping[str, str] = attrs.field(factory=dict)
    entries: Mapping[str, tuple[str, str]] = attrs.field(factory=dict)

    def member(self, parent: StructureShape, key: str, shape: Shape) -> str:
        """The wire name of *parent*'s member *key*."""
        name = self.members.get((parent.name, key))
        return name or shape.serialization.get("name") or key

    def item(self, shape: ListShape) -> str | None:
        """The wire name of each item of *shape*, if it has one."""
        return self.items.get(shape.name) or shape.member.serialization.get("name")

    def entry(self, shape: MapShape) -> tuple[str, str]:
        """The wire names of an entry's key and value in *shape*."""
        names = self.entries.get(shape.name)
        if names is not None:
            return names
        key = shape.key.serialization.get("name") or "key"
        return key, shape.value.serialization.get("name") or "value"


class _Form:
    """A query form with an index of which dotted prefixes it has, and their children."""

    def __init__(self, form: Mapping[str, str]) -> None:
        self.values = form
        self.children: dict[str, set[str]] = {}
        for key in form:
            parent = ""
            for part in key.split("."):
                self.children.setdefault(parent, set()).add(part)
                parent = f"{parent}.{part}" if parent else part

    def has(self, prefix: str) -> bool:
        return prefix in self.values or prefix in self.children

    def indices(self, prefix: str) -> int:
        """How many items ``prefix.1`` … ``prefix.N`` there are; a gap is the client's mistake."""
        found = self.children.get(prefix, set())
        if not all(_INDEX.fullmatch(index) for index in found):
            raise InvalidParameterValue(
                f"The list {prefix} has an entry that is not numbered 1, 2, ..."
            )
        count = len(found)
        if found != {str(i) for i in range(1, count + 1)}:
            raise InvalidParameterValue(
                f"The entries of {prefix} must be numbered 1 to {count} without gaps."
            )
        return count


def decode(shape: StructureShape | None, form: Mapping[str, str], names: Names) -> dict[str, Any]:
    """The members of *shape* that *form* carries, nested as the model describes them."""
    if shape is None:
        return {}
    result = _structure(shape, _Form(form), "", names, 0)
    assert isinstance(result, dict)
    return result


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _value(shape: Shape, form: _Form, prefix: str, names: Names, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise InvalidParameterValue(f"The parameter {prefix} is nested too deeply.")
    kind = shape.type_name
    if kind in ("structure", "map") and prefix in form.values:
        raise InvalidParameterValue(f"The parameter {prefix} must have members, not a value.")
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return _structure(shape, form, prefix, names, depth)
    if kind == "list":
        assert isinstance(shape, ListShape)
        return _list(shape, form, prefix, names, depth)
    if kind == "map":
        assert isinstance(shape, MapShape)
        return _map(shape, form, prefix, names, depth)
    text = form.values.get(prefix)
    if text is None:
        raise InvalidParameterValue(f"The parameter {prefix} must be a single value.")
    if kind in ("integer", "long"):
        if not _INTEGER.fullmatch(text):
            raise InvalidParameterValue(f"Value {text!r} for parameter {prefix} is not an integer.")
        return int(text)
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise InvalidParameterValue(f"Value {text!r} for parameter {prefix} is not a boolean.")
        return text.lower() == "true"
    if kind in ("double", "float"):
        try:
            return float(text)
        except ValueError:
            raise InvalidParameterValue(
                f"Value {text!r} for parameter {prefix} is not a number."
            ) from None
    # Strings, and blobs as base64 text: the operations decode blobs as they do from JSON.
    return text


def _structure(
    shape: StructureShape, form: _Form, prefix: str, names: Names, depth: int
) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for key, member in shape.members.items():
        where = _join(prefix, _wire_name(shape, key, member, names))
        if form.has(where):
            members[key] = _value(member, form, where, names, depth + 1)
        elif (
            isinstance(member, ListShape)
            and form.values.get(_join(prefix, names.member(shape, key, member))) == ""
        ):
            members[key] = []  # an empty flattened list, spelled by the member's own name
    return members


def _wire_name(parent: StructureShape, key: str, member: Shape, names: Names) -> str:
    # A flattened list is spelled by its items' name (``AttributeName.1``), not the member's.
    if isinstance(member, ListShape) and member.serialization.get("flattened"):
        item = names.item(member)
        if item:
            return item
    return names.member(parent, key, member)


def _list(shape: ListShape, form: _Form, prefix: str, names: Names, depth: int) -> list[Any]:
    if prefix in form.values:
        if form.values[prefix] == "" and prefix not in form.children:
            return []  # how the query protocol spells an empty list
        raise InvalidParameterValue(f"The parameter {prefix} must be a list.")
    base = prefix
    if not shape.serialization.get("flattened"):
        base = _join(prefix, names.item(shape) or "member")
    count = form.indices(base)
    return [
        _value(shape.member, form, f"{base}.{i}", names, depth + 1) for i in range(1, count + 1)
    ]


def _map(shape: MapShape, form: _Form, prefix: str, names: Names, depth: int) -> dict[str, Any]:
    base = prefix if shape.serialization.get("flattened") else _join(prefix, "entry")
    key_name, value_name = names.entry(shape)
    result: dict[str, Any] = {}
    for i in range(1, form.indices(base) + 1):
        key_at, value_at = f"{base}.{i}.{key_name}", f"{base}.{i}.{value_name}"
        if key_at not in form.values:
            raise MissingParameter(f"The request must contain the parameter {key_at}.")
        if not form.has(value_at):
            raise MissingParameter(f"The request must contain the parameter {value_at}.")
        key = _value(shape.key, form, key_at, names, depth + 1)
        result[key] = _value(shape.value, form, value_at, names, depth + 1)
    return result


# --- output ---------------------------------------------------------------------------------


def _text(value: str) -> str:
    # \r is written as a reference, which a parser keeps (a literal one becomes \n).
    return _NOT_XML.sub("\ufffd", escape(value)).replace("\r", "&#xD;")


def encode(shape: Shape, value: Any, names: Names, out: list[str]) -> None:
    """Append *value*, an output of *shape*, to *out* as the query protocol's XML."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        for key, member in shape.members.items():
            item = value.get(key)
            if item is None:
                continue
            _member(shape, key, member, item, names, out)
    elif kind == "list":
        assert isinstance(shape, ListShape)
        tag = names.item(shape) or "member"
        for item in value:
            out.append(f"<{tag}>")
            encode(shape.member, item, names, out)
            out.append(f"</{tag}>")
    elif kind == "map":
        assert isinstance(shape, MapShape)
        for key, item in value.items():
            out.append("<entry>")
            _entry(shape, key, item, names, out)
            out.append("</entry>")
    elif kind == "boolean":
        out.append("true" if value else "false")
    elif kind == "blob":
        out.append(base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value)
    else:
        out.append(_text(str(value)))


def _member(
    parent: StructureShape, key: str, shape: Shape, value: Any, names: Names, out: list[str]
) -> None:
    tag = _wire_name(parent, key, shape, names)
    flattened = shape.serialization.get("flattened")
    if flattened and isinstance(shape, ListShape):
        for item in value:
            out.append(f"<{tag}>")
            encode(shape.member, item, names, out)
            out.append(f"</{tag}>")
    elif flattened and isinstance(shape, MapShape):
        for entry_key, item in value.items():
            out.append(f"<{tag}>")
            _entry(shape, entry_key, item, names, out)
            out.append(f"</{tag}>")
    else:
        out.append(f"<{tag}>")
        encode(shape, value, names, out)
        out.append(f"</{tag}>")


def _entry(shape: MapShape, key: Any, value: Any, names: Names, out: list[str]) -> None:
    key_name, value_name = names.entry(shape)
    out.append(f"<{key_name}>")
    encode(shape.key, key, names, out)
    out.append(f"</{key_name}><{value_name}>")
    encode(shape.value, value, names, out)
    out.append(f"</{value_name}>")


def result_xml(
    operation: str,
    shape: StructureShape | None,
    result: Mapping[str, Any],
    *,
    namespace: str,
    wrapper: str | None,
    names: Names,
    request_id: str,
) -> bytes:
    """The whole success document: ``<OpResponse><OpResult>…</OpResult><ResponseMetadata>``."""
    out = [f'<?xml version="1.0"?><{operation}Response xmlns="{namespace}">']
    if shape is not None:
        tag = wrapper or f"{operation}Result"
        out.append(f"<{tag}>")
        encode(shape, result, names, out)
        out.append(f"</{tag}>")
    out.append(
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    )
    return "".join(out).encode("utf-8")


def error_xml(error: MqliteError, *, namespace: str, request_id: str) -> bytes:
    """AWS's query error document for *error*, with its wire (legacy) code."""
    fault = "Sender" if error.sender_fault else "Receiver"
    return (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{namespace}"><Error><Type>{fault}</Type>'
        f"<Code>{_text(error.legacy_code)}</Code><Message>{_text(error.message)}</Message>"
        f"<Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


# --- requests -------------------------------------------------------------------------------


class _InvalidAction(MqliteError):
    code = legacy_code = "InvalidAction"
    http_status = 400
    sender_fault = True


class _InternalFailure(MqliteError):
    code = legacy_code = "InternalFailure"
    http_status = 500
    sender_fault = False


def parse_form(request: Request) -> dict[str, str]:
    """The form a query request carries: its body, and any query string in its path."""
    _, _, query = request.path.partition("?")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameterValue("The request body is not valid UTF-8.") from None
    form: dict[str, str] = {}
    for part in (query, text):
        for key, value in parse_qsl(part, keep_blank_values=True):
            if key in form and form[key] != value:
                raise InvalidParameterValue(f"The parameter {key} is given more than once.")
            form[key] = value
    return form


@attrs.frozen
class QueryService:
    """One service's query protocol: its operations, namespace and member names."""

    service: str
    namespace: str
    operations: Mapping[str, Callable[[Any, dict[str, Any]], dict[str, Any]]]
    names: Names = Names()
    #: Rewrites an error for this protocol (SQS's query wording for a missing queue).
    adapt: Callable[[MqliteError], MqliteError] = lambda error: error

    def answer(
        self, form: Mapping[str, str], context: Any, defaults: Mapping[str, str] | None = None
    ) -> Response:
        """Run the form's ``Action`` on *context*; *defaults* fill members the form lacks."""
        operation = form.get("Action", "")
        try:
            handler = self.operations.get(operation)
            model = operation_model(self.service, operation)
            if model is None:
                raise _InvalidAction(
                    f"The action {operation or '(none)'} is not valid for this endpoint."
                )
            if handler is None:
                raise _InvalidAction(f"The action {operation} is not available on this endpoint.")
            params = decode(model.input_shape, form, self.names)
            for key, value in (defaults or {}).items():
                if model.input_shape is not None and key in model.input_shape.members:
                    params.setdefault(key, value)
            check_input(model, params)
            result = handler(context, params)
        except MqliteError as error:
            return self.error(self.adapt(error))
        except Exception:
            # A bug here must not take the transport down: AWS's 500, and the traceback logged.
            _log.exception("%s %s failed", self.service.upper(), operation)
            return self.error(_InternalFailure("We encountered an internal error."))
        rid = request_id()
        body = result_xml(
            operation,
            model.output_shape,
            result,
            namespace=self.namespace,
            wrapper=model.output_shape.serialization.get("resultWrapper")
            if model.output_shape
            else None,
            names=self.names,
            request_id=rid,
        )
        return Response(200, {"Content-Type": "text/xml", "x-amzn-RequestId": rid}, body)

    def error(self, error: MqliteError) -> Response:
        """*error* as this service's XML error response."""
        rid = request_id()
        body = error_xml(error, namespace=self.namespace, request_id=rid)
        return Response(
            error.http_status, {"Content-Type": "text/xml", "x-amzn-RequestId": rid}, body
        )
