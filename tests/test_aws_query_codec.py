"""The query-protocol codec against botocore's own: what botocore's query serializer writes
for any SNS request, the decoder reads back as the same members; what the XML writer
writes for any SNS response, botocore's query parser reads as the same members. The same
for SQS, with its query names given to botocore as the model traits they once were."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

from botocore.loaders import Loader
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    ServiceModel,
    Shape,
    StructureShape,
)
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqlite.aws._query import Names, decode, result_xml
from mqlite.aws._shapes import service_model
from mqlite.aws._sqs_query import NAMES as SQS_NAMES
from mqlite.aws._sqs_query import NAMESPACE as SQS_NAMESPACE

SNS = service_model("sns")
SQS_JSON = service_model("sqs")
OPERATIONS = sorted(SNS.operation_names)
# Text as it survives a form and an XML document: no surrogates, and none of the control
# characters XML 1.0 cannot carry (the writer replaces those; see the test below).
TEXT = st.text(
    st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters="".join(map(chr, [*range(9), 11, 12, *range(14, 32)])),
        max_codepoint=0x2FFF,
    ),
    max_size=12,
)


def values(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Any value of *shape*, as botocore takes it from a caller."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if depth > 4:
            return st.just({})
        members = {
            name: values(member, depth + 1)
            for name, member in shape.members.items()
            if not member.serialization.get("location")
        }
        required = {n: members.pop(n) for n in shape.required_members if n in members}
        return st.fixed_dictionaries(required, optional=members)
    if kind == "list":
        assert isinstance(shape, ListShape)
        return st.lists(values(shape.member, depth + 1), max_size=3)
    if kind == "map":
        assert isinstance(shape, MapShape)
        return st.dictionaries(TEXT.filter(bool), values(shape.value, depth + 1), max_size=3)
    if kind in ("integer", "long"):
        return st.integers(-(2**31), 2**31 - 1)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(max_size=12)
    if kind in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "timestamp":
        return st.nothing()
    enum = getattr(shape, "enum", None)
    if enum:
        return st.sampled_from(list(enum))
    return TEXT


def _without_timestamps(shape: Shape) -> bool:
    kind = shape.type_name
    if kind == "timestamp":
        return False
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return all(_without_timestamps(m) for m in shape.members.values())
    if kind == "list":
        assert isinstance(shape, ListShape)
        return _without_timestamps(shape.member)
    if kind == "map":
        assert isinstance(shape, MapShape)
        return _without_timestamps(shape.value)
    return True


def _as_read(
    shape: Shape, value: Any, absent: Callable[[Shape], bool], *, blobs_as_text: bool
) -> Any:
    """*value* as read back off the wire: empty members the wire cannot spell
    (``absent(member)``) left out, and with *blobs_as_text* blobs as base64 text (as the
    decoder gives them, as in the JSON protocol)."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return {
            k: _as_read(shape.members[k], v, absent, blobs_as_text=blobs_as_text)
            for k, v in value.items()
            if v or not absent(shape.members[k])
        }
    if kind == "list":
        assert isinstance(shape, ListShape)
        return [_as_read(shape.member, v, absent, blobs_as_text=blobs_as_text) for v in value]
    if kind == "map":
        assert isinstance(shape, MapShape)
        return {
            k: _as_read(shape.value, v, absent, blobs_as_text=blobs_as_text)
            for k, v in value.items()
        }
    if kind == "blob" and blobs_as_text:
        return base64.b64encode(value).decode("ascii")
    return value


def _is_map(shape: Shape) -> bool:
    # A form cannot spell an empty map (an empty list is "Name="): it is absent.
    return shape.type_name == "map"


def _is_flattened(shape: Shape) -> bool:
    # A flattened list or map with no items writes no element at all: absent when parsed.
    return shape.type_name in ("list", "map") and bool(shape.serialization.get("flattened"))


@st.composite
def requests(draw: st.DrawFn) -> tuple[OperationModel, dict[str, Any]]:
    operation = SNS.operation_model(draw(st.sampled_from(OPERATIONS)))
    shape = operation.input_shape
    params = draw(values(shape)) if shape is not None else {}
    return operation, params


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_decoder_reads_what_botocore_writes(request: tuple[OperationModel, dict[str, Any]]) -> None:
    operation, params = request
    # Without botocore's validation: the decoder reads whatever the serializer can write.
    serializer = create_serializer("query", include_validation=False)
    form = serializer.serialize_to_request(params, operation)["body"]
    assert isinstance(form, dict)
    decoded = decode(operation.input_shape, {k: str(v) for k, v in form.items()}, Names())
    shape = operation.input_shape
    expected = _as_read(shape, params, _is_map, blobs_as_text=True) if shape else {}
    assert decoded == expected


def _has_plain_output(name: str) -> bool:
    shape = SNS.operation_model(name).output_shape
    return shape is not None and _without_timestamps(shape)


OUTPUTS = [name for name in OPERATIONS if _has_plain_output(name)]


@st.composite
def responses(draw: st.DrawFn) -> tuple[OperationModel, dict[str, Any]]:
    operation = SNS.operation_model(draw(st.sampled_from(OUTPUTS)))
    assert operation.output_shape is not None
    return operation, draw(values(operation.output_shape))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(responses())
def test_botocore_reads_what_the_writer_writes(
    response: tuple[OperationModel, dict[str, Any]],
) -> None:
    operation, result = response
    shape = operation.output_shape
    assert shape is not None
    body = result_xml(
        operation.name,
        shape,
        result,
        namespace="http://sns.amazonaws.com/doc/2010-03-31/",
        wrapper=shape.serialization.get("resultWrapper"),
        names=Names(),
        request_id="r-1",
    )
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "r-1"
    assert parsed == result


def test_characters_xml_cannot_carry_are_replaced_not_written() -> None:
    shape = SNS.operation_model("ConfirmSubscription").output_shape
    assert shape is not None
    body = result_xml(
        "ConfirmSubscription",
        shape,
        {"SubscriptionArn": "a\x1fb\rc\x00"},
        namespace="http://sns.amazonaws.com/doc/2010-03-31/",
        wrapper="ConfirmSubscriptionResult",
        names=Names(),
        request_id="r-1",
    )
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    assert parsed["SubscriptionArn"] == "a\ufffdb\rc\ufffd"


def _sqs_query_model() -> ServiceModel:
    """SQS's current model spoken over the query protocol, with the query names mqlite
    restores (``NAMES``) written into it as botocore's ``locationName`` traits."""
    raw = copy.deepcopy(Loader().load_service_model("sqs", "service-2"))
    raw["metadata"]["protocol"] = "query"
    raw["metadata"]["protocols"] = ["query"]
    raw["metadata"]["xmlNamespace"] = SQS_NAMESPACE
    shapes = raw["shapes"]
    for (parent, member), name in SQS_NAMES.members.items():
        shapes[parent]["members"][member]["locationName"] = name
    for list_shape, name in SQS_NAMES.items.items():
        shapes[list_shape]["member"]["locationName"] = name
    for map_shape, (key, value) in SQS_NAMES.entries.items():
        shapes[map_shape]["key"]["locationName"] = key
        shapes[map_shape]["value"]["locationName"] = value
    for operation in raw["operations"].values():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{operation['name']}Result"
    return ServiceModel(raw, "sqs")


SQS_QUERY = _sqs_query_model()
SQS_OPERATIONS = sorted(SQS_QUERY.operation_names)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_sqs_query_names_round_trip_through_botocore(data: st.DataObject) -> None:
    # The decoder and writer apply the query names as botocore applies locationName.
    operation = SQS_QUERY.operation_model(data.draw(st.sampled_from(SQS_OPERATIONS)))
    ours = SQS_JSON.operation_model(operation.name)
    if operation.input_shape is not None:
        params = data.draw(values(operation.input_shape))
        serializer = create_serializer("query", include_validation=False)
        form = serializer.serialize_to_request(params, operation)["body"]
        decoded = decode(ours.input_shape, {k: str(v) for k, v in form.items()}, SQS_NAMES)
        assert decoded == _as_read(operation.input_shape, params, _is_map, blobs_as_text=True)
    shape = operation.output_shape
    if shape is not None and _without_timestamps(shape) and ours.output_shape is not None:
        result = data.draw(values(shape))
        body = result_xml(
            operation.name,
            ours.output_shape,
            result,
            namespace=SQS_NAMESPACE,
            wrapper=None,
            names=SQS_NAMES,
            request_id="r-1",
        )
        parsed = create_parser("query").parse(
            {"body": body, "headers": {}, "status_code": 200}, shape
        )
        parsed.pop("ResponseMetadata")
        assert parsed == _as_read(shape, result, _is_flattened, blobs_as_text=False)
