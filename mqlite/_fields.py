"""A message's fields: the typed values at the paths a filter policy names.

Matching extracts fields (path -> typed values) only for the paths the policies name:
message attributes by name, or the JSON body flattened along the policies' paths (arrays
are transparent; each value remembers which array elements it came through, for the
array-consistency rule).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from typing import Any, Final

from ._attribute import Attribute
from ._policy_json import reject_constant

__all__ = [
    "Field",
    "Fields",
    "attribute_fields",
    "body_fields",
    "parse_body",
    "path_prefixes",
]


class Field:
    """The values a message holds at one path.

    ``values`` are typed (str / float / bool / None); ``arrays`` is None when no value came
    through a JSON array, else one tuple of ``(array_id, index)`` per value; ``exists`` is
    SNS's presence test (an attribute is present; a body path needs a non-null leaf).
    """

    __slots__ = ("arrays", "exists", "values")

    def __init__(self, exists: bool = False) -> None:
        self.values: list[Any] = []
        self.arrays: list[tuple[tuple[int, int], ...]] | None = None
        self.exists = exists


class Fields:
    """A message's fields by path, plus what the empty-input rule needs.

    ``arrays`` is False when no value came through a JSON array (always, for attributes),
    so that no branch needs the array-consistency check.
    """

    __slots__ = ("_any_leaf", "_root", "arrays", "by_path")

    def __init__(
        self, by_path: dict[str, Field], any_leaf: bool, root: Any = None, *, arrays: bool = False
    ) -> None:
        self.by_path = by_path
        self._any_leaf = any_leaf
        self._root = root
        self.arrays = arrays

    def has_input(self) -> bool:
        """Whether the message has anything to filter on (the empty-input rule, §5.2.7).

        Cost: O(1) for attributes; for a body, O(size of the body) at worst, and only when
        the paths already visited held no leaf.
        """
        if self._any_leaf or self._root is None:
            return self._any_leaf
        stack: list[Any] = [self._root]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
            else:
                self._any_leaf = True
                break
        self._root = None
        return self._any_leaf


# SNS's Number grammar: ASCII digits only, no blanks (a publish refuses anything else, so
# a filter must not read "١٢٣" or " 1 " as a number either).
_NUMBER_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def _as_number(text: str) -> float | None:
    # Plain ASCII digits, the commonest Number by far, need no pattern match.
    if not (text.isdigit() and text.isascii()) and _NUMBER_RE.fullmatch(text) is None:
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def _json_scalar(value: Any) -> Any:
    # Typed value of a JSON scalar: numbers are floats, booleans and null stay as they are.
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return _NOT_SCALAR


_NOT_SCALAR: Final = object()


# Numbers as floats (a huge integer literal must not fail the whole document) and
# NaN/Infinity rejected, as a strict JSON parser does. One decoder, built once: json.loads
# with hooks would build a new one per call.
_DECODER: Final = json.JSONDecoder(parse_int=float, parse_constant=reject_constant)
_loads: Final = _DECODER.decode
# The whitespace JSON allows between tokens (and the decoder skips before a document).
_JSON_BLANKS: Final = " \t\n\r"


# How attribute_fields reads each data type: ignored, a string, a number, or a JSON array.
_BINARY: Final = 0
_STRING: Final = 1
_NUMBER: Final = 2
_ARRAY: Final = 3
# The plain data types, looked up in one step; custom labels go through _attribute_kind.
_KINDS: Final = {
    "String": _STRING,
    "Number": _NUMBER,
    "String.Array": _ARRAY,
    "Number.Array": _ARRAY,
    "Binary": _BINARY,
}


def _attribute_kind(data_type: str) -> int:
    """How attribute_fields reads a value of *data_type* (any spelling, labels included)."""
    # Binary and Binary.<label> are ignored altogether.
    if data_type.startswith("Binary") and (len(data_type) == 6 or data_type[6] == "."):
        return _BINARY
    if data_type in ("String.Array", "Number.Array"):
        return _ARRAY
    if data_type == "Number" or data_type.startswith("Number."):
        return _NUMBER
    return _STRING  # String and String.<label>


def attribute_fields(
    attributes: Mapping[str, Attribute] | None, wanted: Collection[str] | None = None
) -> Fields:
    """The fields message *attributes* offer to MessageAttributes-scoped policies.

    String values are compared in their escaped form (``\\`` and ``"`` preceded by ``\\``),
    as SNS compares them; Number values are numbers; ``String.Array`` (and
    ``Number.Array``) values contribute each element with its JSON type; Binary values are
    ignored altogether. Only names in *wanted* are extracted (all when None).
    Cost: O(number of attributes + size of the wanted values).
    """
    by_path: dict[str, Field] = {}
    any_filterable = False
    if not attributes:
        return Fields(by_path, any_filterable)
    kinds = _KINDS
    for name, attribute in attributes.items():
        data_type = attribute.data_type
        kind = kinds.get(data_type)
        if kind is None:
            kind = _attribute_kind(data_type)
        if kind == _BINARY:
            continue
        any_filterable = True
        if wanted is not None and name not in wanted:
            continue
        field = by_path[name] = Field(True)
        text = attribute.value
        if not isinstance(text, str):
            continue
        if kind == _STRING:
            if "\\" in text or '"' in text:
                text = text.replace("\\", "\\\\").replace('"', '\\"')
            field.values.append(text)
        elif kind == _NUMBER:
            number = _as_number(text)
            if number is not None:
                field.values.append(number)
        else:
            try:
                parsed = _loads(text)
            except (ValueError, RecursionError):
                continue
            for item in parsed if isinstance(parsed, list) else [parsed]:
                value = _json_scalar(item)
                if value is not _NOT_SCALAR:
                    field.values.append(value)
    return Fields(by_path, any_filterable)


def parse_body(body: str | None) -> dict[str, Any] | None:
    """The message body as a JSON object, or None when it is not one. Cost: O(len(body))."""
    if not isinstance(body, str):
        return None
    # Only text whose first non-blank character (blanks as JSON counts them) opens an
    # object can decode to one: plain-text bodies, common on topics, are turned away
    # without the cost of a decoding error.
    if body[:1] != "{" and body.lstrip(_JSON_BLANKS)[:1] != "{":
        return None
    try:
        parsed = _loads(body)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def body_fields(root: dict[str, Any], wanted: Collection[str], prefixes: Collection[str]) -> Fields:
    """The fields a parsed body offers to MessageBody-scoped policies.

    Keys are joined with ``.``; arrays are transparent at any depth. Only subtrees whose
    path is in *prefixes* (every dotted prefix of a wanted path) are visited, so the cost
    is O(size of the relevant part of the body), not of the whole body.
    """
    by_path: dict[str, Field] = {}
    any_leaf = False
    next_array = 0
    no_arrays: tuple[tuple[int, int], ...] = ()
    # (node, where, arrays it came through); an explicit stack, since bodies can nest
    # deeply. *where* is a dict's key prefix ("" at the root, "a.b." below it), and any
    # other node's path.
    stack: list[tuple[Any, str, tuple[tuple[int, int], ...]]] = [(root, "", no_arrays)]
    while stack:
        node, where, arrays = stack.pop()
        if type(node) is dict:
            for key, value in node.items():
                child = where + key
                if child not in prefixes:
                    continue
                kind = type(value)
                if arrays or (kind is not str and kind is not float):
                    stack.append((value, child + "." if kind is dict else child, arrays))
                    continue
                # A string or number outside arrays, the commonest wanted value: filed
                # in place rather than through the stack.
                any_leaf = True
                if child in wanted:
                    field = by_path.get(child)
                    if field is None:
                        field = by_path[child] = Field(True)
                    elif field.arrays is not None:
                        field.arrays.append(no_arrays)
                    field.values.append(value)
                    field.exists = True
        elif type(node) is list:
            array_id = next_array
            next_array += 1
            dotted = where + "."
            for index in range(len(node) - 1, -1, -1):
                item = node[index]
                at = dotted if type(item) is dict else where
                stack.append((item, at, (*arrays, (array_id, index))))
        else:
            any_leaf = True
            if where not in wanted:
                continue
            field = by_path.get(where)
            if field is None:
                field = by_path[where] = Field()
            if arrays:
                if field.arrays is None:
                    field.arrays = [no_arrays] * len(field.values)
                field.arrays.append(arrays)
            elif field.arrays is not None:
                field.arrays.append(no_arrays)
            # The decoder gives numbers as floats, so strings and floats are typed already.
            kind = type(node)
            value = node if kind is str or kind is float else _json_scalar(node)
            field.values.append(value)
            if value is not None:
                field.exists = True
    return Fields(by_path, any_leaf, None if any_leaf else root, arrays=next_array > 0)


def path_prefixes(paths: Collection[str]) -> frozenset[str]:
    """Every dotted prefix of every path (``a.b.c`` gives ``a``, ``a.b``, ``a.b.c``)."""
    out: set[str] = set()
    for path in paths:
        at = path.find(".")
        while at != -1:
            out.add(path[:at])
            at = path.find(".", at + 1)
        out.add(path)
    return frozenset(out)
