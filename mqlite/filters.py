"""SNS subscription filter policies: validate once, compile, match.

Theory of operation
-------------------

A :class:`FilterPolicy` goes through four stages when it is built, and never again:

1. **Parse.** The policy text is decoded as JSON, keeping the original spelling of every
   number (SNS echoes it in some messages) and every duplicated key (the event-ruler
   grammar SNS uses reads the document as a stream, so an error in an earlier duplicate
   still counts).
2. **Validate.** The document is walked in order with the event-ruler grammar, so the
   first violation in document order wins and its reason is SNS's text (without the
   parser-position suffix SNS appends to some of them).
   Then come SNS's own checks, in SNS's order: nesting under the ``MessageAttributes``
   scope, at most five top-level keys, at most 150 combinations.
3. **Expand.** Each recognised ``$or`` multiplies the policy into *branches* (disjunctive
   normal form); a branch maps a dotted path to the list of conditions one value at that
   path must meet. There are at most 150 branches, because the combination count bounds
   them.
4. **Compile.** Each condition becomes a small object (exact string, number, literal,
   prefix, suffix, equals-ignore-case, numeric range, CIDR, anything-but, exists) that a
   matcher can test against one typed value, and that :class:`mqlite._filter_index.FilterIndex`
   can file in a hash map or a sorted structure.

Matching extracts the message's *fields* (path -> typed values) only for the paths the
policy names: attributes by name, or the JSON body flattened along the policy's paths
(arrays are transparent; each value remembers which array elements it came through, for
the array-consistency rule). A branch matches when every path is satisfied; the policy
matches when any branch does.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import math
import re
from collections.abc import Collection, Mapping
from typing import Any, Final, Literal

from ._attribute import Attribute
from .errors import InvalidParameter

__all__ = [
    "MESSAGE_ATTRIBUTES",
    "MESSAGE_BODY",
    "SCOPES",
    "FilterPolicy",
    "FilterPolicyError",
]

MESSAGE_ATTRIBUTES: Final = "MessageAttributes"
MESSAGE_BODY: Final = "MessageBody"
SCOPES: Final = (MESSAGE_ATTRIBUTES, MESSAGE_BODY)

MAX_KEYS: Final = 5
MAX_COMBINATIONS: Final = 150
MAX_POLICY_BYTES: Final = 256 * 1024

# Field names that make a "$or" array an ordinary key when they appear inside it.
_RESERVED_IN_OR: Final = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)


# --- errors ---------------------------------------------------------------------------------


class FilterPolicyError(InvalidParameter):
    """A filter policy (or its scope) that SNS would reject.

    ``reason`` is SNS's bare reason text, e.g. ``"Filter policy is too complex"``;
    ``attribute`` is the subscription attribute it is about (``"FilterPolicy"``,
    ``"FilterPolicyScope"``, or ``None`` for the nesting-under-scope error, which SNS
    reports without one). The message is framed as SetSubscriptionAttributes frames it,
    ``Invalid parameter: FilterPolicy: <reason>``; :meth:`for_subscribe` gives the same
    error framed as Subscribe frames it,
    ``Invalid parameter: Attributes Reason: FilterPolicy: <reason>``.
    """

    def __init__(
        self, reason: str, *, attribute: str | None = "FilterPolicy", subscribe: bool = False
    ) -> None:
        self.reason = reason
        self.attribute = attribute
        self.subscribe = subscribe
        head = "Invalid parameter: Attributes Reason: " if subscribe else "Invalid parameter: "
        super().__init__(head + (f"{attribute}: " if attribute else "") + reason)

    def for_subscribe(self) -> FilterPolicyError:
        """The same error, framed as the Subscribe action reports it."""
        return FilterPolicyError(self.reason, attribute=self.attribute, subscribe=True)

    def for_set_subscription_attributes(self) -> FilterPolicyError:
        """The same error, framed as the SetSubscriptionAttributes action reports it."""
        return FilterPolicyError(self.reason, attribute=self.attribute, subscribe=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (self.reason, self.attribute, self.subscribe))


def _rebuild_error(reason: str, attribute: str | None, subscribe: bool) -> FilterPolicyError:
    return FilterPolicyError(reason, attribute=attribute, subscribe=subscribe)


class _Invalid(Exception):
    """Internal: a validation failure carrying SNS's bare reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- JSON parsing that keeps what SNS's parser sees -------------------------------------------


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its ordered (key, value) pairs, duplicates included."""

    __slots__ = ()


class _Num(float):
    """A JSON number that remembers how it was written (``getText`` in SNS's messages)."""

    text: str


def _number(text: str) -> _Num:
    number = _Num(text)
    number.text = text
    return number


class _NonStandardToken(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonStandardToken(name)


def _open_containers(text: str, end: int) -> list[str]:
    """The stack of brackets still open at *end* (ignoring those inside strings)."""
    stack: list[str] = []
    in_string = False
    escaped = False
    for ch in text[:end]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return stack


_VALUE_LIST = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"


def _json_reason(text: str, error: json.JSONDecodeError) -> str:
    """SNS's parser wording (Jackson's) for the common JSON mistakes; Python's otherwise."""
    msg, pos = error.msg, error.pos
    ch = text[pos] if pos < len(text) else None
    if msg.startswith("Unterminated string"):
        return "Unexpected end-of-input: was expecting closing quote for a String value"
    if ch is None:
        if not text.strip():
            return "No content to map due to end-of-input"
        stack = _open_containers(text, pos)
        if stack:
            kind = "Object" if stack[-1] == "{" else "Array"
            return f"Unexpected end-of-input: expected close marker for {kind}"
        return "Unexpected end-of-input"

    def unexpected(tail: str) -> str:
        return f"Unexpected character ('{ch}' (code {ord(ch)})): {tail}"

    if msg == "Expecting value":
        if ch.isalpha() or ch in "_$":
            end = pos
            limit = min(len(text), pos + 256)
            while end < limit and (text[end].isalnum() or text[end] in "_$"):
                end += 1
            return f"Unrecognized token '{text[pos:end]}': was expecting {_VALUE_LIST}"
        return unexpected(f"expected a valid value {_VALUE_LIST}")
    if msg.startswith("Expecting property name"):
        return unexpected("was expecting double-quote to start field name")
    if msg == "Expecting ':' delimiter":
        return unexpected("was expecting a colon to separate field name and value")
    if msg == "Expecting ',' delimiter":
        stack = _open_containers(text, pos)
        kind = "Object" if stack and stack[-1] == "{" else "Array"
        return unexpected(f"was expecting comma to separate {kind} entries")
    if msg == "Extra data":
        return unexpected("expected end-of-input after the top-level value")
    if msg == "Invalid control character at":
        return (
            f"Illegal unquoted character ((CTRL-CHAR, code {ord(ch)})): has to be escaped "
            "using backslash to be included in string value"
        )
    if msg.startswith("Invalid \\escape"):
        bad = text[pos + 1] if pos + 1 < len(text) else ""
        if bad == "u":
            digits = text[pos + 2 : pos + 6]
            odd = next((c for c in digits if c not in "0123456789abcdefABCDEF"), "")
            if odd:
                return (
                    f"Unexpected character ('{odd}' (code {ord(odd)})): expected a hex-digit "
                    "for character escape sequence"
                )
            return "Unexpected end-of-input in character escape sequence"
        if bad:
            return f"Unrecognized character escape '{bad}' (code {ord(bad)})"
    return f"{msg}: line {error.lineno} column {error.colno} (char {pos})"


def _parse_policy_text(text: str) -> Any:
    """Decode policy JSON into _Pairs / list / str / _Num / bool / None.

    Raises:
        _Invalid: ``failed to parse JSON. <parser message>``.
    """
    try:
        return json.loads(
            text,
            object_pairs_hook=_Pairs,
            parse_float=_number,
            parse_int=_number,
            parse_constant=_reject_constant,
        )
    except _NonStandardToken as exc:
        raise _Invalid(
            f"failed to parse JSON. Non-standard token '{exc.args[0]}': enable "
            "`JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
        ) from None
    except json.JSONDecodeError as exc:
        raise _Invalid(f"failed to parse JSON. {_json_reason(text, exc)}") from None
    except RecursionError:
        raise _Invalid(
            "failed to parse JSON. Document nesting depth exceeds the maximum allowed"
        ) from None


def _plain(value: Any) -> Any:
    """The JSON-equivalent plain Python value (dicts and lists) of a mapping given in code."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"filter policy keys must be str, not {type(key).__name__}")
            out[key] = _plain(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"a filter policy cannot hold a {type(value).__name__}")


# --- IP addresses, as SNS recognises them ----------------------------------------------------

_IPV4_RE: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_RE: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")
_MASK_RE: Final = re.compile(r"[+-]?\d+")


def _looks_like_ip(text: str) -> bool:
    return _IPV4_RE.fullmatch(text) is not None or _IPV6_RE.fullmatch(text) is not None


def parse_ip(text: str) -> tuple[int, int] | None:
    """``(bits, value)`` of an IP literal as SNS reads one (32 for IPv4, 128 for IPv6), or None.

    Only dotted-quad IPv4 and hex-and-colon IPv6 spellings count; IPv4-mapped IPv6
    addresses are IPv4 addresses, and IPv4 parts may carry leading zeros.
    Cost: O(len(text)).
    """
    if _IPV4_RE.fullmatch(text):
        parts = [int(part) for part in text.split(".")]
        if any(part > 255 for part in parts):
            return None
        return 32, (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]
    if _IPV6_RE.fullmatch(text):
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            return None
        mapped = address.ipv4_mapped
        if mapped is not None:
            return 32, int(mapped)
        return 128, int(address)
    return None


def _parse_cidr(text: str) -> tuple[int, int, int]:
    """``(bits, network >> (bits - mask), mask)`` of a CIDR operand.

    Raises:
        _Invalid: SNS's CIDR messages, checked in SNS's order.
    """
    parts = text.split("/")
    while parts and not parts[-1]:
        parts.pop()  # a Java-style split drops trailing empty fields
    if len(parts) != 2:
        raise _Invalid("Malformed CIDR, one '/' required")
    address, mask_text = parts
    if not _MASK_RE.fullmatch(mask_text) or not -(2**31) <= int(mask_text) < 2**31:
        raise _Invalid("Malformed CIDR, mask bits must be an integer")
    mask = int(mask_text)
    if mask < 0:
        raise _Invalid("Malformed CIDR, mask bits must not be negative")
    if not _looks_like_ip(address):
        raise _Invalid(f"Nonstandard IP address: {address}")
    ip = parse_ip(address)
    if ip is None:
        raise _Invalid(f"Invalid IP address: {address}")
    bits, value = ip
    if bits == 32 and mask > 31:
        raise _Invalid("IPv4 mask bits must be < 32")
    if bits == 128 and mask > 127:
        raise _Invalid("IPv6 mask bits must be < 128")
    return bits, value >> (bits - mask), mask


# --- conditions -------------------------------------------------------------------------------

# Kinds a FilterIndex files in hash maps or sorted structures; the others are checked per
# candidate branch.
SELECTIVE_KINDS: Final = frozenset(
    {"string", "number", "literal", "prefix", "suffix", "ignore-case", "range", "cidr"}
)


def ignore_case_key(text: str) -> str:
    """A key equal for any two strings that equals-ignore-case could pair up.

    Each character maps to the case fold of its upper case; for every code point this is
    the same for the character, its lower case and its upper case, so hashing by this key
    never loses a match (candidates are still checked exactly). Cost: O(len(text)).
    """
    if text.isascii():
        return text.lower()
    return "".join(ch.upper().casefold() for ch in text)


class Condition:
    """One compiled condition of a filter policy, tested against one typed value.

    A value is a ``str``, a ``float``, ``True``/``False`` or ``None`` (JSON null).
    ``kind`` names the operator. ``anything-but`` and ``exists`` are judged on a whole
    field rather than value by value (see path_satisfied).
    """

    __slots__ = ()
    kind: str = ""

    def test(self, value: Any) -> bool:
        """Whether *value* satisfies this condition. Cost: O(1) unless stated otherwise."""
        raise NotImplementedError

    def __repr__(self) -> str:
        names: tuple[str, ...] = getattr(type(self), "__slots__", ())
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"


class ExactString(Condition):
    """A string equal to ``value``, or (when ``value`` is an IP literal) the same address."""

    __slots__ = ("ip", "value")
    kind = "string"

    def __init__(self, value: str) -> None:
        self.value = value
        self.ip = parse_ip(value)

    def test(self, value: Any) -> bool:
        if type(value) is not str:
            return False
        if value == self.value:
            return True
        return self.ip is not None and parse_ip(value) == self.ip


class ExactNumber(Condition):
    """A number numerically equal to ``value``."""

    __slots__ = ("value",)
    kind = "number"

    def __init__(self, value: float) -> None:
        self.value = value

    def test(self, value: Any) -> bool:
        return type(value) is float and value == self.value


class JsonLiteral(Condition):
    """The JSON literal ``true``, ``false`` or ``null``."""

    __slots__ = ("value",)
    kind = "literal"

    def __init__(self, value: bool | None) -> None:
        self.value = value

    def test(self, value: Any) -> bool:
        return value is self.value


class Prefix(Condition):
    """A string starting with ``value``."""

    __slots__ = ("value",)
    kind = "prefix"

    def __init__(self, value: str) -> None:
        self.value = value

    def test(self, value: Any) -> bool:
        return type(value) is str and value.startswith(self.value)


class Suffix(Condition):
    """A string ending with ``value``."""

    __slots__ = ("value",)
    kind = "suffix"

    def __init__(self, value: str) -> None:
        self.value = value

    def test(self, value: Any) -> bool:
        return type(value) is str and value.endswith(self.value)


class IgnoreCase(Condition):
    """A string equal to ``value`` when each character may be in lower or upper case.

    Each policy character ``c`` matches ``c``, ``c.lower()`` or ``c.upper()`` (which may be
    several characters, as ``"ß".upper() == "SS"``), as SNS's matcher does.
    """

    __slots__ = ("_alternatives", "key", "value")
    kind = "ignore-case"

    def __init__(self, value: str) -> None:
        self.value = value
        self.key = ignore_case_key(value)
        self._alternatives = tuple({ch, ch.lower(), ch.upper()} for ch in value)

    def test(self, value: Any) -> bool:
        """Cost: O(len(value)) for ASCII, O(len(value) * len(self.value)) at worst."""
        if type(value) is not str:
            return False
        if value == self.value:
            return True
        if value.isascii() and self.value.isascii():
            return len(value) == len(self.value) and value.lower() == self.value.lower()
        positions = {0}
        for choices in self._alternatives:
            positions = {
                at + len(choice)
                for at in positions
                for choice in choices
                if value.startswith(choice, at)
            }
            if not positions:
                return False
        return len(value) in positions


class NumericRange(Condition):
    """A number within ``(low, high)``, each end open or closed (infinite when unbounded)."""

    __slots__ = ("high", "high_open", "low", "low_open")
    kind = "range"

    def __init__(self, low: float, low_open: bool, high: float, high_open: bool) -> None:
        self.low, self.low_open, self.high, self.high_open = low, low_open, high, high_open

    def test(self, value: Any) -> bool:
        if type(value) is not float:
            return False
        if value < self.low or (self.low_open and value == self.low):
            return False
        return not (value > self.high or (self.high_open and value == self.high))


class Cidr(Condition):
    """A string holding an IP address inside the network ``network/mask`` of ``bits`` bits."""

    __slots__ = ("bits", "mask", "network")
    kind = "cidr"

    def __init__(self, bits: int, network: int, mask: int) -> None:
        self.bits, self.network, self.mask = bits, network, mask

    def test(self, value: Any) -> bool:
        """Cost: O(len(value)) to parse the address."""
        if type(value) is not str:
            return False
        ip = parse_ip(value)
        if ip is None or ip[0] != self.bits:
            return False
        return ip[1] >> (self.bits - self.mask) == self.network


class AnythingBut(Condition):
    """A value that is not excluded: not one of ``strings``, ``numbers``, nor ``prefix``-ed.

    Satisfied by a field when at least one of its values is not excluded (a number is
    never excluded by strings, nor a string by numbers).
    """

    __slots__ = ("numbers", "prefix", "strings")
    kind = "anything-but"

    def __init__(
        self,
        strings: frozenset[str] = frozenset(),
        numbers: frozenset[float] = frozenset(),
        prefix: str | None = None,
    ) -> None:
        self.strings, self.numbers, self.prefix = strings, numbers, prefix

    def test(self, value: Any) -> bool:
        kind = type(value)
        if kind is str:
            if self.prefix is not None:
                return not value.startswith(self.prefix)
            return value not in self.strings
        if kind is float:
            return value not in self.numbers
        return True


class Exists(Condition):
    """``exists: true`` (a non-null value is present) or ``exists: false`` (none is)."""

    __slots__ = ("value",)
    kind = "exists"

    def __init__(self, value: bool) -> None:
        self.value = value

    def test(self, value: Any) -> bool:
        # Value by value only exists:true means anything (a non-null value); the
        # field-level rule, presence, is applied by path_satisfied().
        return self.value and value is not None


# --- message fields ---------------------------------------------------------------------------


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


_NUMBER_RE: Final = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")


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
_DECODER: Final = json.JSONDecoder(parse_int=float, parse_constant=_reject_constant)
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


# --- evaluation -------------------------------------------------------------------------------

_ALWAYS: Final = True


def path_satisfied(conditions: tuple[Condition, ...], field: Field | None) -> bool:
    """Whether one path's condition list is met by *field* (None: the path is absent).

    OR within the list; a value-level condition needs one value that passes; ``exists``
    looks at presence; ``anything-but`` needs a present field with one value it does not
    exclude. Cost: O(len(conditions) * len(field.values)).
    """
    for condition in conditions:
        if isinstance(condition, Exists):
            if (field is not None and field.exists) is condition.value:
                return True
        elif field is not None:
            test = condition.test
            for value in field.values:
                if test(value):
                    return True
    return False


def _satisfying(conditions: tuple[Condition, ...], field: Field | None) -> list[int] | bool:
    """Like path_satisfied, but naming the values that satisfy (for array consistency).

    Returns True when the path is satisfied without choosing a value (``exists: false``),
    False when it is not satisfied, else the indexes of the satisfying values.
    """
    chosen: set[int] = set()
    for condition in conditions:
        if isinstance(condition, Exists) and not condition.value:
            if field is None or not field.exists:
                return _ALWAYS
            continue
        if field is None:
            continue
        for index, value in enumerate(field.values):
            if condition.test(value):
                chosen.add(index)
    return sorted(chosen) if chosen else False


class _Trail:
    """A node of the trie of array positions ((array, index) steps) that values came by."""

    __slots__ = ("arrays", "ends")

    def __init__(self) -> None:
        self.ends = 0  # bit mask of the paths with a satisfying value right here
        self.arrays: dict[int, dict[int, _Trail]] = {}


def _consistent(options: list[tuple[Field, list[int]]]) -> bool:
    """Whether one satisfying value per path can be chosen so that no two come from
    different elements of one array.

    The values' array positions form a trie. Bottom up, each trie node gets the sets of
    paths (bit masks) it can cover: its own values cover theirs; under one array only one
    element may be used, so its elements' masks are alternatives; different arrays (or
    a node's own values) are independent, so their masks combine by union. Only maximal
    masks are kept. Cost: O(satisfying values + trie nodes * 2^paths), linear in the body
    for a branch's few paths — no search over combinations.
    """
    root = _Trail()
    for bit, (field, indexes) in enumerate(options):
        assert field.arrays is not None
        for index in indexes:
            node = root
            for array, at in field.arrays[index]:
                elements = node.arrays.get(array)
                if elements is None:
                    elements = node.arrays[array] = {}
                child = elements.get(at)
                if child is None:
                    child = elements[at] = _Trail()
                node = child
            node.ends |= 1 << bit
    full = (1 << len(options)) - 1
    covers: dict[int, set[int]] = {}
    # Post-order without recursion: bodies may nest arrays deeply.
    stack: list[tuple[_Trail, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if not done:
            stack.append((node, True))
            for elements in node.arrays.values():
                stack.extend((child, False) for child in elements.values())
            continue
        masks = {node.ends}
        for elements in node.arrays.values():
            choices: set[int] = set()
            for child in elements.values():
                choices |= covers.pop(id(child))
            masks = _maximal({mine | theirs for mine in masks for theirs in choices})
            if full in masks:
                return True
        covers[id(node)] = masks
    return full in covers[id(root)]


def _maximal(masks: set[int]) -> set[int]:
    # Covering more paths is always at least as good, so drop masks inside another.
    return {m for m in masks if not any(m != o and m | o == o for o in masks)}


class Branch:
    """One disjunct of a policy: every path must be satisfied (AND across keys).

    ``items`` pairs each path with its condition list, sorted by path.
    """

    __slots__ = ("items",)

    def __init__(self, items: tuple[tuple[str, tuple[Condition, ...]], ...]) -> None:
        self.items = items

    def matches(self, fields: Fields) -> bool:
        """Whether *fields* satisfy every path, with array-consistent value choices.

        Cost: O(Σ conditions * values) over the branch's paths, plus the consistency
        search when values came through arrays.
        """
        constrained: list[tuple[Field, list[int]]] = []
        for path, conditions in self.items:
            field = fields.by_path.get(path)
            if field is None or field.arrays is None:
                if not path_satisfied(conditions, field):
                    return False
                continue
            result = _satisfying(conditions, field)
            if result is False:
                return False
            if result is not _ALWAYS:
                assert isinstance(result, list)
                constrained.append((field, result))
        return len(constrained) < 2 or _consistent(constrained)

    def __repr__(self) -> str:
        return f"Branch({dict(self.items)!r})"


# --- validation and compilation ---------------------------------------------------------------


def _token_text(value: Any) -> str:
    """What SNS's streaming parser reports as the text of the token that starts *value*."""
    if isinstance(value, _Num):
        return value.text
    if isinstance(value, _Pairs):
        return "{"
    if isinstance(value, list):
        return "["
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


_END = object()  # the end of an array, as a token


def _numeric(operand: list[Any]) -> Condition:
    tokens = [*operand, _END]

    def token(i: int) -> Any:
        return tokens[i] if i < len(tokens) else _END

    def text(value: Any) -> str:
        return "]" if value is _END else _token_text(value)

    first = token(0)
    if type(first) is not str:
        raise _Invalid(f"Invalid member in numeric match: {text(first)}")
    operator = first
    value = token(1)
    if operator not in ("=", "<", "<=", ">", ">="):
        raise _Invalid(f"Unrecognized numeric range operator: {operator}")
    if not isinstance(value, _Num):
        name = "equals" if operator == "=" else operator
        raise _Invalid(f"Value of {name} must be numeric")
    number = float(value)
    if operator in ("=", "<", "<="):
        if token(2) is not _END:
            raise _Invalid("Too many elements in numeric expression")
        if operator == "=":
            return ExactNumber(number)
        return NumericRange(-math.inf, False, number, operator == "<")
    second = token(2)
    if second is _END:
        return NumericRange(number, operator == ">", math.inf, False)
    if type(second) is not str:
        raise _Invalid(f"Bad value in numeric range: {text(second)}")
    if second not in ("<", "<="):
        raise _Invalid(f"Bad numeric range operator: {second}")
    top = token(3)
    if not isinstance(top, _Num):
        raise _Invalid(f"Value of {second} must be numeric")
    if token(4) is not _END:
        raise _Invalid("Too many terms in numeric range expression")
    if float(top) <= number:
        raise _Invalid("Bottom must be less than top")
    return NumericRange(number, operator == ">", float(top), second == "<")


def _anything_but(operand: Any, extra: bool) -> Condition:
    if isinstance(operand, _Pairs):
        if not operand:
            raise _Invalid("Anything-But expression name not found")
        inner, pattern = operand[0]
        if inner != "prefix":
            raise _Invalid(f"Unsupported anything-but pattern: {inner}")
        if type(pattern) is not str:
            raise _Invalid("prefix match pattern must be a string")
        if not pattern:
            raise _Invalid("Null prefix not allowed")
        if len(operand) > 1 or extra:
            raise _Invalid("Only one key allowed in match expression")
        return AnythingBut(prefix=pattern)
    if isinstance(operand, list):
        strings: set[str] = set()
        numbers: set[float] = set()
        for item in operand:
            if type(item) is str:
                strings.add(item)
            elif isinstance(item, _Num):
                numbers.add(float(item))
            else:
                raise _Invalid("Inside anything but list, start|null|boolean is not supported.")
        if bool(strings) == bool(numbers):
            raise _Invalid(
                "Inside anything but list, either all values are number or string, "
                "mixed type is not supported"
            )
        condition = AnythingBut(strings=frozenset(strings), numbers=frozenset(numbers))
    elif type(operand) is str:
        condition = AnythingBut(strings=frozenset({operand}))
    elif isinstance(operand, _Num):
        condition = AnythingBut(numbers=frozenset({float(operand)}))
    else:
        raise _Invalid("Value of anything-but must be an array or single string/number value.")
    if extra:
        raise _Invalid("Too many elements in numeric expression")
    return condition


def _string_operand(name: str, operand: Any, extra: bool) -> str:
    if type(operand) is not str:
        raise _Invalid(f"{name} match pattern must be a string")
    if extra:
        raise _Invalid("Only one key allowed in match expression")
    return operand


def _operator(expression: _Pairs) -> Condition:
    """Compile one ``{"operator": operand}`` object."""
    if not expression:
        raise _Invalid("Match expression name not found")
    name, operand = expression[0]
    extra = len(expression) > 1
    if name == "prefix":
        return Prefix(_string_operand("prefix", operand, extra))
    if name == "suffix":
        return Suffix(_string_operand("suffix", operand, extra))
    if name == "equals-ignore-case":
        return IgnoreCase(_string_operand("equals-ignore-case", operand, extra))
    if name == "numeric":
        if not isinstance(operand, list) or isinstance(operand, _Pairs):
            raise _Invalid("Value of numeric must be an array.")
        condition = _numeric(operand)
        if extra:
            raise _Invalid("Too many elements in numeric expression")
        return condition
    if name == "anything-but":
        return _anything_but(operand, extra)
    if name == "exists":
        if type(operand) is not bool:
            raise _Invalid("exists match pattern must be either true or false.")
        if extra:
            raise _Invalid("Only one key allowed in match expression")
        return Exists(operand)
    if name == "cidr":
        # SNS's own (odd) wording for a non-string CIDR.
        bits, network, mask = _parse_cidr(_string_operand("prefix", operand, False))
        if extra:
            raise _Invalid("Only one key allowed in match expression")
        return Cidr(bits, network, mask)
    raise _Invalid(f"Unrecognized match type {name}")


def _condition_list(values: list[Any]) -> tuple[Condition, ...]:
    conditions: list[Condition] = []
    for value in values:
        if isinstance(value, _Pairs):
            conditions.append(_operator(value))
        elif type(value) is str:
            conditions.append(ExactString(value))
        elif isinstance(value, _Num):
            conditions.append(ExactNumber(float(value)))
        elif value is None or type(value) is bool:
            conditions.append(JsonLiteral(value))
        else:
            raise _Invalid("Match value must be String, number, true, false, or null")
    if not conditions:
        raise _Invalid("Empty arrays are not allowed")
    return tuple(conditions)


def _is_or(value: Any) -> bool:
    """Whether a ``$or`` key is the OR operator (else it is an ordinary key, §5.5)."""
    if not isinstance(value, list) or isinstance(value, _Pairs) or len(value) < 2:
        return False
    if not all(isinstance(item, _Pairs) for item in value):
        return False
    stack: list[_Pairs] = list(value)
    while stack:
        for key, item in stack.pop():
            if key in _RESERVED_IN_OR:
                return False
            if isinstance(item, _Pairs):
                stack.append(item)
            elif key == "$or" and isinstance(item, list):
                stack.extend(element for element in item if isinstance(element, _Pairs))
    return True


class _Compiled:
    """Output of one validation walk: condition lists by object identity, nesting seen."""

    def __init__(self) -> None:
        self.lists: dict[int, tuple[Condition, ...]] = {}
        self.nested = False


def _validate(node: _Pairs, out: _Compiled) -> None:
    """Walk an object in document order, compiling every condition list (step 2 of §5.7)."""
    if not node:
        raise _Invalid("Empty objects are not allowed")
    for key, value in node:
        if key == "$or" and _is_or(value):
            for alternative in value:
                _validate(alternative, out)
        elif isinstance(value, _Pairs):
            out.nested = True
            _validate(value, out)
        elif isinstance(value, list):
            out.lists[id(value)] = _condition_list(value)
        else:
            raise _Invalid(f'"{key}" must be an object or an array')


def _combinations(node: _Pairs, depth: int = 1) -> int:
    """SNS's combination count: lists count their length times their depth, keys multiply,
    and the alternatives of a ``$or`` add up (§5.7 step 5)."""
    total = 1
    for key, value in dict(node).items():
        if key == "$or" and _is_or(value):
            total *= sum(_combinations(alternative, depth) for alternative in value)
        elif isinstance(value, _Pairs):
            total *= _combinations(value, depth + 1)
        else:
            total *= len(value) * depth
    return total


def _expand(
    node: _Pairs,
    prefix: str,
    branches: list[dict[str, tuple[Condition, ...]]],
    compiled: _Compiled,
) -> None:
    """Expand ``$or`` into branches, in document order; a later key at the same path
    replaces an earlier one, as in SNS's compiler."""
    for key, value in node:
        if key == "$or" and _is_or(value):
            current = [dict(branch) for branch in branches] or [{}]
            branches.clear()
            for alternative in value:
                forked = [dict(branch) for branch in current]
                _expand(alternative, prefix, forked, compiled)
                branches.extend(forked)
        elif isinstance(value, _Pairs):
            _expand(value, f"{prefix}{key}.", branches, compiled)
        else:
            if not branches:
                branches.append({})
            conditions = compiled.lists[id(value)]
            for branch in branches:
                branch[prefix + key] = conditions


def _compile(text: str, scope: str) -> tuple[tuple[Branch, ...], Any]:
    """Validate *text* as SNS does and compile it; returns (branches, plain policy dict).

    Raises:
        FilterPolicyError: the first rule of §5.7 the policy breaks.
    """
    try:
        if len(text) > MAX_POLICY_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > (
            MAX_POLICY_BYTES
        ):
            raise _Invalid("Filter policy can not be larger than 256 KB")
        root = _parse_policy_text(text)
        if not isinstance(root, _Pairs):
            raise _Invalid("Filter is not an object")
        compiled = _Compiled()
        _validate(root, compiled)
    except _Invalid as exc:
        raise FilterPolicyError(exc.reason) from None
    except RecursionError:
        raise FilterPolicyError("Filter policy is too complex") from None
    if compiled.nested and scope == MESSAGE_ATTRIBUTES:
        raise FilterPolicyError(
            "Filter policy scope MessageAttributes does not support nested filter policy",
            attribute=None,
        )
    if len(dict(root)) > MAX_KEYS:
        raise FilterPolicyError(f"Filter policy can not have more than {MAX_KEYS} keys")
    if _combinations(root) > MAX_COMBINATIONS:
        raise FilterPolicyError("Filter policy is too complex")
    expanded: list[dict[str, tuple[Condition, ...]]] = []
    _expand(root, "", expanded, compiled)
    branches = tuple(Branch(tuple(sorted(branch.items()))) for branch in expanded)
    # The plain copy keeps huge integer literals as floats rather than failing on them.
    return branches, json.loads(text, parse_int=_plain_int)


def _plain_int(text: str) -> int | float:
    return int(text) if len(text) < 4000 else float(text)


def check_scope(scope: object) -> str:
    """Return *scope* if it is a valid FilterPolicyScope.

    Raises:
        FilterPolicyError: SNS's FilterPolicyScope message.
    """
    if scope not in SCOPES:
        raise FilterPolicyError(
            f"Invalid value [{scope}]. Please use either MessageBody or MessageAttributes",
            attribute="FilterPolicyScope",
        )
    assert isinstance(scope, str)
    return scope


# --- the public type --------------------------------------------------------------------------


class FilterPolicy:
    """One SNS subscription filter policy, validated and compiled once.

    ``policy`` is JSON text or a mapping of the same shape; ``scope`` is
    ``"MessageAttributes"`` (the default) or ``"MessageBody"``. Validation follows SNS,
    with SNS's error texts: every rule of the filter-policy grammar, at most five top-level
    keys, at most 150 combinations, nesting only in the ``MessageBody`` scope. The empty
    string is not a policy: SNS uses ``""`` to *remove* a policy, which callers handle
    before building one.

    Instances are immutable, hashable and compare equal when their parsed policies (key
    order aside) and scopes are equal.

    Cost: O(size of the policy) to build.

    Raises:
        FilterPolicyError: the policy or the scope is invalid; the message is framed as
            SetSubscriptionAttributes frames it (see :meth:`FilterPolicyError.for_subscribe`).
        TypeError: *policy* is neither ``str`` nor a mapping, or holds non-JSON values.
    """

    __slots__ = ("_branches", "_canonical", "_json", "_paths", "_plain", "_prefixes", "_scope")

    def __init__(self, policy: str | Mapping[str, Any], scope: str = MESSAGE_ATTRIBUTES) -> None:
        self._scope = check_scope(scope)
        if isinstance(policy, str):
            text = policy
        elif isinstance(policy, Mapping):
            text = json.dumps(_plain(policy))
        else:
            raise TypeError(f"a filter policy is a str or a mapping, not {type(policy).__name__}")
        self._json = text
        self._branches, self._plain = _compile(text, self._scope)
        self._canonical = json.dumps(self._plain, sort_keys=True, separators=(",", ":"))
        self._paths = frozenset(path for branch in self._branches for path, _ in branch.items)
        self._prefixes = path_prefixes(self._paths)

    @staticmethod
    def check_scope(scope: object) -> str:
        """Return *scope* if it is a valid FilterPolicyScope, for setting the scope alone.

        Raises:
            FilterPolicyError: ``Invalid parameter: FilterPolicyScope: Invalid value [...]``.
        """
        return check_scope(scope)

    @property
    def policy(self) -> dict[str, Any]:
        """The parsed policy (a fresh deep copy; changing it changes nothing here)."""
        plain: dict[str, Any] = copy.deepcopy(self._plain)
        return plain

    @property
    def policy_json(self) -> str:
        """The policy text: as given when a str was passed, else ``json.dumps`` of the mapping."""
        return self._json

    @property
    def scope(self) -> Literal["MessageAttributes", "MessageBody"]:
        """``"MessageAttributes"`` or ``"MessageBody"``."""
        return self._scope  # type: ignore[return-value]

    @property
    def branches(self) -> tuple[Branch, ...]:
        """The compiled branches (one per combination of ``$or`` alternatives)."""
        return self._branches

    @property
    def paths(self) -> frozenset[str]:
        """Every dotted path the policy names, across all branches."""
        return self._paths

    def with_scope(self, scope: str) -> FilterPolicy:
        """The same policy text validated under another scope.

        Raises:
            FilterPolicyError: the scope is invalid, or the policy is not valid under it.
        """
        return FilterPolicy(self._json, scope)

    def fields(
        self, *, attributes: Mapping[str, Attribute] | None = None, body: str | None = None
    ) -> Fields | None:
        """The message's fields this policy looks at, or None when it can never match
        (no filterable attribute; a body that is not a JSON object or has no leaf)."""
        if self._scope == MESSAGE_ATTRIBUTES:
            fields = attribute_fields(attributes, self._paths)
        else:
            root = parse_body(body)
            if root is None:
                return None
            fields = body_fields(root, self._paths, self._prefixes)
        return fields if fields.has_input() else None

    def matches(
        self, *, attributes: Mapping[str, Attribute] | None = None, body: str | None = None
    ) -> bool:
        """Whether a message with these *attributes* and this *body* passes the policy.

        A ``MessageAttributes`` policy looks only at *attributes*, a ``MessageBody`` policy
        only at *body* (which must be a JSON object). A message with no filterable
        attribute (or a body with no value) never matches.

        Cost: O(size of the attributes, or of the body) plus O(Σ conditions * values)
        over the branches; this tests one policy — use FilterIndex for many.
        """
        fields = self.fields(attributes=attributes, body=body)
        if fields is None:
            return False
        return any(branch.matches(fields) for branch in self._branches)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FilterPolicy):
            return NotImplemented
        return self._canonical == other._canonical and self._scope == other._scope

    def __hash__(self) -> int:
        return hash((self._canonical, self._scope))

    def __repr__(self) -> str:
        return f"FilterPolicy({self._json!r}, scope={self._scope!r})"
