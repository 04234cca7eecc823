"""SNS input rules: topic names, message attributes, ids, message structure, booleans.

Each check raises the error SNS raises, with SNS's text (see :mod:`mqlite._validation` for
SQS's rules). The checks are pure functions so a topic can run all of them before it
changes anything.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

from . import _validation as v
from ._attribute import Attribute
from .errors import InvalidParameter, ParameterValueInvalid

_PROTOCOL_KEYS: Final = frozenset(
    {"sqs", "lambda", "http", "https", "email", "email-json", "sms", "application", "firehose"}
)
_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
_ATTR_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.\-]")
# What a custom type label may hold: printable text (no control character, no surrogate).
_LABEL_CHARS = re.compile("[\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+")
# Ints below this need no check: far inside a double's range, and short to print.
_PLAIN_INT: Final = 10**15


def check_topic_name(name: object, fifo: bool | None) -> tuple[str, bool]:
    bad = InvalidParameter("Invalid parameter: Topic Name")
    if not isinstance(name, str):
        raise bad
    is_fifo = name.endswith(".fifo")
    if fifo is None:
        fifo = is_fifo
    if fifo != is_fifo or len(name) > 256:
        raise bad
    stem = name[:-5] if is_fifo else name
    if not _NAME.fullmatch(stem):
        raise bad
    return name, fifo


def _attr_error(text: str) -> ParameterValueInvalid:
    return ParameterValueInvalid(text)


def check_attribute_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise _attr_error("Message attribute name can not be null or empty.")
    if len(name.encode("utf-8", "surrogatepass")) > 256:
        raise _attr_error("Length of message attribute name must be less than 256 bytes.")
    bad = _ATTR_NAME_CHAR.search(name)
    if bad is not None:
        raise _attr_error(
            f"Invalid non-alphanumeric character '#x{ord(bad.group()):X}' was found in the message"
            " attribute name. Can only include alphanumeric characters, hyphens, underscores,"
            " or dots."
        )
    if name.startswith("."):
        raise _attr_error("Invalid message attribute name starting with character '.' was found.")
    if name.endswith("."):
        raise _attr_error("Invalid message attribute name ending with character '.' was found.")
    if ".." in name:
        raise _attr_error("Message attribute name can not have successive '.' character.")
    if name.lower().startswith(("aws.", "amazon.")):
        raise _attr_error(
            f"The message attribute name '{name}' is reserved: names can not start with"
            " 'AWS.' or 'Amazon.'."
        )
    return name


def _array_error(name: str) -> ParameterValueInvalid:
    return _attr_error(
        f"The message attribute '{name}' with type 'String.Array' must be a JSON array"
        " of strings, numbers, true, false or null."
    )


def to_attribute(name: str, raw: object) -> Attribute:
    if isinstance(raw, list | tuple):
        try:
            # allow_nan=False: NaN and Infinity are not JSON, so not an array SNS takes.
            text = json.dumps(list(raw), allow_nan=False)
        except (TypeError, ValueError, RecursionError):  # a set, bytes, a huge int, ...
            raise _array_error(name) from None
        return Attribute("String.Array", text)
    if isinstance(raw, int) and not isinstance(raw, bool):
        try:
            float(raw)
        except OverflowError:  # no double holds it (and it may be too long to print)
            raise _number_error(name) from None
    return v.to_attribute(name, raw, ParameterValueInvalid)


def _number_error(name: str) -> ParameterValueInvalid:
    return _attr_error(f"Could not cast message attribute '{name}' value to number.")


# SNS's Number: an integer or a decimal fraction with an optional exponent, in ASCII digits
# with no blanks (what Decimal or float would also take — "١٢٣", "1_0", " 1 ", "Infinity"
# — SNS refuses). It must be a finite IEEE double: filters compare numbers as doubles.
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def is_number(text: str) -> bool:
    """Whether *text* is a Number value SNS takes (see ``_NUMBER``)."""
    return _NUMBER.fullmatch(text) is not None and math.isfinite(float(text))


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# String.Array text: JSON only (no NaN/Infinity) whose numbers are finite doubles.
_ARRAY_DECODER: Final = json.JSONDecoder(
    parse_int=_finite, parse_float=_finite, parse_constant=_not_json
)


def check_attribute(name: str, attr: Attribute) -> None:
    data_type = attr.data_type
    base, dot, label = data_type.partition(".") if isinstance(data_type, str) else ("", "", "")
    if (
        base not in ("String", "Number", "Binary")
        # SNS takes any text as a custom label ("String.  prefixed."), but not a control
        # character or a lone surrogate: the characters a message may hold.
        or (dot and not (label and _LABEL_CHARS.fullmatch(label)))
        or v.utf8_len(data_type) > 256
    ):
        raise _attr_error(
            f"The message attribute '{name}' has an invalid message attribute type, the set of"
            " supported type prefixes is Binary, Number, and String."
        )
    value = attr.value
    field = "Binary" if base == "Binary" else "String"
    if (base == "Binary") != isinstance(value, bytes) or not isinstance(value, str | bytes):
        raise _attr_error(
            f"The message attribute '{name}' with type '{base}' must use field '{field}'."
        )
    if not value:
        raise _attr_error(
            f"The message attribute '{name}' must contain non-empty message attribute value"
            f" for message attribute type '{base}'."
        )
    if isinstance(value, bytes):
        return
    if not v.has_valid_characters(value):
        raise _attr_error("Invalid attribute value was passed in for message attribute")
    if base == "Number":
        if not is_number(value):
            raise _number_error(name)
    elif data_type == "String.Array":
        try:
            parsed = _ARRAY_DECODER.decode(value)
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, list) or any(isinstance(item, dict | list) for item in parsed):
            raise _array_error(name)


def normalize_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Attribute]:
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise _attr_error(
            "Message attributes must be a mapping of name to value, not"
            f" {type(attributes).__name__}."
        )
    out: dict[str, Attribute] = {}
    for name, raw in attributes.items():
        # Shortcuts for the common cases, each taken only where the full checks could not
        # fail: a name of ASCII letters and digits breaks no rule (no dots, so no reserved
        # prefix), a not too large int's text is always a valid Number, a non-empty str of
        # valid characters a valid String.
        if not (type(name) is str and name.isascii() and name.isalnum() and len(name) <= 256):
            check_attribute_name(name)
        kind = type(raw)
        if kind is int and -_PLAIN_INT < raw < _PLAIN_INT:
            out[name] = Attribute("Number", str(raw))
            continue
        if kind is str and raw and v.has_valid_characters(raw):
            out[name] = Attribute("String", raw)
            continue
        attr = to_attribute(name, raw)
        check_attribute(name, attr)
        out[name] = attr
    return out


def check_id(param: str, value: object) -> str:
    """Check a MessageGroupId or MessageDeduplicationId as SNS does (its own error)."""
    if not isinstance(value, str) or not v.GROUP_OR_DEDUP_ID.fullmatch(value):
        raise InvalidParameter(
            f"Invalid parameter: {param} Reason: {param} can only include alphanumeric and"
            " punctuation characters. 1 to 128 in length."
        )
    return value


def parse_structure(message: str) -> dict[str, str]:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(items)

    try:
        doc = json.loads(message, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        raise InvalidParameter(
            "Invalid parameter: Message Structure - JSON message body failed to parse"
        )
    if not isinstance(doc.get("default"), str):
        raise InvalidParameter(
            "Invalid parameter: Message Structure - No default entry in JSON message body"
        )
    return {
        k: val
        for k, val in doc.items()
        if isinstance(val, str) and (k == "default" or k in _PROTOCOL_KEYS)
    }


def check_bool(attribute: str, value: object, head: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidParameter(
        f"{head}{attribute}: Invalid value [{v.shown(value)}]. Must be true or false."
    )
