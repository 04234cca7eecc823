"""Compiled filter-policy conditions, and IP addresses as SNS recognises them.

Each condition of a policy becomes a small object (exact string, number, literal, prefix,
suffix, equals-ignore-case, numeric range, CIDR, anything-but, exists) that a matcher can
test against one typed value, and that :class:`mqlite._filter_index.FilterIndex` can file
in a hash map or a sorted structure. Exact strings and CIDR networks compare IP addresses
the way SNS reads them (dotted-quad IPv4, hex-and-colon IPv6, IPv4-mapped IPv6 as IPv4).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final

from ._policy_json import PolicyInvalid

__all__ = [
    "SELECTIVE_KINDS",
    "AnythingBut",
    "Cidr",
    "Condition",
    "ExactNumber",
    "ExactString",
    "Exists",
    "IgnoreCase",
    "JsonLiteral",
    "NumericRange",
    "Prefix",
    "Suffix",
    "ignore_case_key",
    "parse_ip",
]

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


def parse_cidr(text: str) -> tuple[int, int, int]:
    """``(bits, network >> (bits - mask), mask)`` of a CIDR operand.

    Raises:
        PolicyInvalid: SNS's CIDR messages, checked in SNS's order.
    """
    parts = text.split("/")
    while parts and not parts[-1]:
        parts.pop()  # a Java-style split drops trailing empty fields
    if len(parts) != 2:
        raise PolicyInvalid("Malformed CIDR, one '/' required")
    address, mask_text = parts
    if not _MASK_RE.fullmatch(mask_text) or not -(2**31) <= int(mask_text) < 2**31:
        raise PolicyInvalid("Malformed CIDR, mask bits must be an integer")
    mask = int(mask_text)
    if mask < 0:
        raise PolicyInvalid("Malformed CIDR, mask bits must not be negative")
    if not _looks_like_ip(address):
        raise PolicyInvalid(f"Nonstandard IP address: {address}")
    ip = parse_ip(address)
    if ip is None:
        raise PolicyInvalid(f"Invalid IP address: {address}")
    bits, value = ip
    if bits == 32 and mask > 31:
        raise PolicyInvalid("IPv4 mask bits must be < 32")
    if bits == 128 and mask > 127:
        raise PolicyInvalid("IPv6 mask bits must be < 128")
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
