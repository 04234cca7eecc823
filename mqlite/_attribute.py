"""The :class:`Attribute` value type, shared by queues, topics and filter policies."""

from __future__ import annotations

import attrs

__all__ = ["Attribute"]


@attrs.frozen(slots=True)
class Attribute:
    """One message attribute: a data type and its value.

    ``data_type`` is ``"String"``, ``"Number"`` or ``"Binary"``, optionally followed by a
    custom label (``"Number.float"``, ``"Binary.gif"``); topics also accept
    ``"String.Array"``. ``value`` is ``bytes`` for Binary types and ``str`` otherwise.
    """

    data_type: str
    value: str | bytes

    @property
    def base_type(self) -> str:
        """The type without its custom label: ``"Number.float"`` gives ``"Number"``.

        ``"String.Array"`` keeps its full name, since it is a type of its own.
        """
        if self.data_type == "String.Array":
            return "String.Array"
        return self.data_type.partition(".")[0]

    @property
    def is_binary(self) -> bool:
        """True when the value travels as bytes (``Binary`` and its custom labels)."""
        return self.base_type == "Binary"
