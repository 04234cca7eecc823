"""SQS input rules: bodies, message attributes, ids, batch entries and their sizes.

Each check raises the error AWS raises, with a message that says what is allowed. The
checks are pure functions so the queue can run all of them before it changes anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

from ._attribute import Attribute
from .errors import (
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidMessageContents,
    InvalidParameterValue,
    MissingParameter,
    MqliteError,
    TooManyEntriesInBatchRequest,
)

MAX_ATTRIBUTES = 10
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 1_048_576

_INVALID_CHAR = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_INVALID_CHARS_TEXT = (
    "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF"
    " | #xE000 to #xFFFD | #x10000 to #x10FFFF"
)
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ATTR_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,256}")
# A custom data-type label ("Number.float"): the characters a name may use.
_TYPE_LABEL = re.compile(r"[A-Za-z0-9_.\-]+")
#: 1-128 letters, digits and punctuation (SQS and SNS alike).
GROUP_OR_DEDUP_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


def has_valid_characters(text: str) -> bool:
    """Whether *text* holds only characters SQS allows in a body or String value."""
    # Printable ASCII is always valid and is by far the common case.
    if text.isascii() and text.isprintable():
        return True
    return _INVALID_CHAR.search(text) is None


def check_body(body: object) -> str:
    """Check a message body: a non-empty ``str`` of allowed characters.

    Raises:
        MissingParameter: the body is empty.
        InvalidMessageContents: it holds a character SQS does not allow.
        InvalidParameterValue: it is not a ``str``.
    """
    if not isinstance(body, str):
        raise InvalidParameterValue(f"The message body must be a str, not {type(body).__name__}.")
    if not body:
        raise MissingParameter("The request must contain the parameter MessageBody.")
    if not has_valid_characters(body):
        raise InvalidMessageContents(_INVALID_CHARS_TEXT)
    return body


def utf8_len(text: str) -> int:
    """The UTF-8 size of *text* in bytes (cheap for ASCII)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def attributes_size(attributes: Mapping[str, Attribute]) -> int:
    """Bytes the attributes add to a message's size: name, data type and value of each."""
    total = 0
    for name, attr in attributes.items():
        value = attr.value
        total += utf8_len(name) + utf8_len(attr.data_type)
        total += len(value) if isinstance(value, bytes) else utf8_len(value)
    return total


def normalize_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Attribute]:
    """Turn user input into checked ``dict[str, Attribute]`` (SQS message-attribute rules).

    Accepts ``Attribute`` values, ``str`` (String), ``int``/``float``/``Decimal`` (Number)
    and ``bytes`` (Binary).

    Raises:
        InvalidParameterValue: too many attributes, a bad name, type or value.
    """
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise InvalidParameterValue(
            f"Message attributes must be a mapping of name to value, not"
            f" {type(attributes).__name__}."
        )
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum"
            f" [{MAX_ATTRIBUTES}]."
        )
    out: dict[str, Attribute] = {}
    for name, raw in attributes.items():
        check_attribute_name(name)
        attr = to_attribute(name, raw)
        check_attribute_value(name, attr)
        out[name] = attr
    return out


def check_attribute_name(name: object) -> None:
    """Check one message-attribute name against SQS's rules.

    Raises:
        InvalidParameterValue: the name breaks a rule; the message says which.
    """
    if not isinstance(name, str) or not name:
        raise InvalidParameterValue("Message (user) attribute names must be non-empty strings.")
    if len(name) > 256:
        raise InvalidParameterValue(
            f"Message (user) attribute name '{name[:32]}...' is {len(name)} characters long;"
            " names can be at most 256 characters."
        )
    if not _ATTR_NAME.fullmatch(name):
        raise InvalidParameterValue(
            f"Message (user) attribute name '{name}' is invalid. Names can only include"
            " alphanumeric characters, hyphens, underscores and periods."
        )
    lower = name.lower()
    if lower.startswith(("aws.", "amazon.")):
        raise InvalidParameterValue(
            f"Message (user) attribute name '{name}' is invalid. Names must not start with"
            " 'AWS.' or 'Amazon.' (those prefixes are reserved)."
        )
    if name.startswith(".") or name.endswith(".") or ".." in name:
        raise InvalidParameterValue(
            f"Message (user) attribute name '{name}' is invalid. Names must not start or end"
            " with a period, nor contain two periods in a row."
        )


def to_attribute(
    name: str, raw: object, error: type[MqliteError] = InvalidParameterValue
) -> Attribute:
    """Convert one user-supplied value to an :class:`Attribute` (no range checks).

    Queues and topics share this; *error* is the class each raises for a value it
    cannot convert (SQS's ``InvalidParameterValue``, SNS's ``ParameterValueInvalid``).
    """
    if isinstance(raw, Attribute):
        return raw
    if isinstance(raw, bool):
        # bool is an int subclass; "True" as a Number would surprise everyone.
        raise error(
            f"Message attribute '{name}' is a bool; pass Attribute('String', 'true')"
            " or a number explicitly."
        )
    if isinstance(raw, str):
        return Attribute("String", raw)
    if isinstance(raw, bytes | bytearray | memoryview):
        return Attribute("Binary", bytes(raw))
    if isinstance(raw, int | Decimal):
        try:
            text = str(raw)
        except ValueError:  # an int past Python's digit limit: far beyond 10^126
            raise error(
                f"Message (user) attribute '{name}' value is out of range: numbers can have at"
                " most 38 significant digits and a magnitude from 10^-128 to 10^+126."
            ) from None
        return Attribute("Number", text)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise error(f"Message attribute '{name}' must be a finite number, got {raw}.")
        return Attribute("Number", repr(raw))
    raise error(
        f"Message attribute '{name}' has a value of type {type(raw).__name__}; use an"
        " Attribute, str, bytes, int, float or Decimal (topics also take a list, sent as"
        " String.Array)."
    )


def check_attribute_value(name: str, attr: Attribute) -> None:
    """Check an attribute's data type and value against SQS's rules.

    Raises:
        InvalidParameterValue: a bad type prefix, an empty value, a value of the wrong
            kind, bad characters, or a Number out of range.
    """
    data_type = attr.data_type
    if not isinstance(attr, Attribute) or not isinstance(data_type, str):
        raise InvalidParameterValue(
            f"The type of message (user) attribute '{name}' must be a str such as 'String',"
            " 'Number' or 'Binary'."
        )
    base, dot, label = data_type.partition(".")
    if (
        base not in ("String", "Number", "Binary")
        or (dot and _TYPE_LABEL.fullmatch(label) is None)
        or len(data_type) > 256
    ):
        raise InvalidParameterValue(
            f"The type of message (user) attribute '{name}' is invalid. You must use only the"
            " following supported type prefixes: Binary, Number, String (a custom label after"
            " the '.' may use letters, digits, '_', '-' and '.')."
        )
    value = attr.value
    if base == "Binary":
        if not isinstance(value, bytes):
            raise InvalidParameterValue(
                f"Message (user) attribute '{name}' of type '{data_type}' needs a bytes value."
            )
    elif not isinstance(value, str):
        raise InvalidParameterValue(
            f"Message (user) attribute '{name}' of type '{data_type}' needs a str value."
        )
    if not value:
        raise InvalidParameterValue(
            f"Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
        )
    if base == "String":
        assert isinstance(value, str)
        if not has_valid_characters(value):
            raise InvalidParameterValue(
                f"Message (user) attribute '{name}' has an invalid string value. "
                + _INVALID_CHARS_TEXT
            )
    elif base == "Number":
        assert isinstance(value, str)
        check_number(name, value)


def check_number(name: str, text: str) -> None:
    """A Number value: at most 38 significant digits, magnitude 10^-128 to 10^126."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        number = None
    # Decimal also takes non-ASCII digits ("١٢٣"), which SQS refuses.
    if (
        number is None
        or not number.is_finite()
        or not text.isascii()
        or text != text.strip()
        or "_" in text
    ):
        raise InvalidParameterValue(
            f"Can't cast message (user) attribute '{name}' value '{text}' to a number."
        )
    if number.is_zero():
        return
    # Not normalize(): it rounds to the context's 28 digits and would hide extra ones.
    digits = "".join(map(str, number.as_tuple().digits)).rstrip("0")
    magnitude = number.adjusted()
    if len(digits) > 38 or not -128 <= magnitude <= 126:
        raise InvalidParameterValue(
            f"Message (user) attribute '{name}' value '{text}' is out of range: numbers can"
            " have at most 38 significant digits and a magnitude from 10^-128 to 10^+126."
        )


def check_group_or_dedup_id(param: str, value: object) -> str:
    """Check a MessageGroupId or MessageDeduplicationId.

    Raises:
        InvalidParameterValue: not 1-128 characters of letters, digits and punctuation.
    """
    if not isinstance(value, str) or not GROUP_OR_DEDUP_ID.fullmatch(value):
        raise InvalidParameterValue(
            f"Value {shown(value)} for parameter {param} is invalid. Reason: {param} can only"
            " include alphanumeric and punctuation characters. 1 to 128 in length."
        )
    return value


def shown(value: object, *, quoted: bool = False) -> str:
    """*value* for an error message (``repr`` if *quoted*); an int past Python's digit limit,
    which neither can print, is described instead."""
    try:
        return repr(value) if quoted else str(value)
    except ValueError:
        return f"<an int of {value.bit_length()} bits>" if isinstance(value, int) else "<value>"


def in_range(value: object, low: float, high: float) -> TypeGuard[int | float]:
    """Whether *value* is an int or float (not a bool), finite, and in ``[low, high]``.

    Ints are compared exactly, never converted to float, so a huge int (``10**400``) is
    just out of range instead of an ``OverflowError``.
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return low <= value <= high
    if isinstance(value, float):
        return math.isfinite(value) and low <= value <= high
    return False


def check_delay(value: object) -> float:
    """Check a per-message delay (0..900 seconds)."""
    if not in_range(value, 0, 900):
        raise InvalidParameterValue(
            f"Value {shown(value)}"
            f" for parameter DelaySeconds is invalid. Reason: DelaySeconds must be"
            " >= 0 and <= 900."
        )
    return float(value)


def check_batch_ids(ids: Iterable[object]) -> list[str]:
    """The request-level checks every batch call shares.

    Raises:
        EmptyBatchRequest, TooManyEntriesInBatchRequest, InvalidBatchEntryId,
        BatchEntryIdsNotDistinct: as SQS, in that order.
    """
    id_list = list(ids)
    if not id_list:
        raise EmptyBatchRequest(
            "There should be at least one entry in the batch request (got none)."
        )
    if len(id_list) > MAX_BATCH_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent"
            f" {len(id_list)}."
        )
    for entry_id in id_list:
        if not isinstance(entry_id, str) or not _BATCH_ID.fullmatch(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and"
                " underscores. It can be at most 80 letters long."
            )
    seen: set[object] = set()
    for entry_id in id_list:
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return id_list  # type: ignore[return-value]  # every item was checked to be a str
