"""Policy JSON as SNS's parser sees it: decoding that keeps what validation needs.

SNS validates a filter policy while its parser streams through the text, so the decoded
document keeps two things a plain ``json.loads`` loses: the original spelling of every
number (SNS echoes it in some messages) and every duplicated key (an error in an earlier
duplicate still counts). The common JSON mistakes are reported in SNS's parser wording.
Also here: the plain-value form of a policy given as a mapping in code, and
:class:`PolicyInvalid`, the internal failure that carries SNS's bare reason through parsing and
validation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class PolicyInvalid(Exception):
    """Internal: a validation failure carrying SNS's bare reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JsonPairs(list[tuple[str, Any]]):
    """A JSON object as its ordered (key, value) pairs, duplicates included."""

    __slots__ = ()


class JsonNumber(float):
    """A JSON number that remembers how it was written (``getText`` in SNS's messages)."""

    text: str


def _number(text: str) -> JsonNumber:
    number = JsonNumber(text)
    number.text = text
    return number


class _NonStandardToken(ValueError):
    pass


def reject_constant(name: str) -> Any:
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


def parse_policy_text(text: str) -> Any:
    """Decode policy JSON into JsonPairs / list / str / JsonNumber / bool / None.

    Raises:
        PolicyInvalid: ``failed to parse JSON. <parser message>``.
    """
    try:
        return json.loads(
            text,
            object_pairs_hook=JsonPairs,
            parse_float=_number,
            parse_int=_number,
            parse_constant=reject_constant,
        )
    except _NonStandardToken as exc:
        raise PolicyInvalid(
            f"failed to parse JSON. Non-standard token '{exc.args[0]}': enable "
            "`JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
        ) from None
    except json.JSONDecodeError as exc:
        raise PolicyInvalid(f"failed to parse JSON. {_json_reason(text, exc)}") from None
    except RecursionError:
        raise PolicyInvalid(TOO_DEEP) from None


#: The parse error of a document nested too deep for the parser (SNS's parser has a
#: nesting limit too); a policy given as a mapping that deep gets the same error.
TOO_DEEP = "failed to parse JSON. Document nesting depth exceeds the maximum allowed"


def to_plain(value: Any) -> Any:
    """The JSON-equivalent plain Python value (dicts and lists) of a mapping given in code.

    Iterative, so any depth converts (the JSON encoding after it has its own limit).
    """
    root: list[Any] = [None]
    # (container to fill, key or index in it, the value to convert there)
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while stack:
        parent, slot, item = stack.pop()
        if isinstance(parent, dict) and not isinstance(slot, str):
            raise TypeError(f"filter policy keys must be str, not {type(slot).__name__}")
        if isinstance(item, Mapping):
            out: dict[Any, Any] = dict.fromkeys(item)  # the mapping's key order
            parent[slot] = out
            # Reversed onto the stack: converted (and refused) in document order.
            stack.extend((out, key, child) for key, child in reversed(list(item.items())))
        elif isinstance(item, (list, tuple)):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            stack.extend((items, i, child) for i, child in reversed(list(enumerate(item))))
        elif item is None or isinstance(item, (str, bool, int, float)):
            parent[slot] = item
        else:
            raise TypeError(f"a filter policy cannot hold a {type(item).__name__}")
    return root[0]
