"""Queue settings: their defaults, their ranges, and the errors SQS gives for bad values.

Settings are checked as a whole before any is applied, so a rejected ``Queue(...)`` or
``configure(...)`` changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._validation import in_range, shown
from .errors import InvalidAttributeName, InvalidAttributeValue, InvalidParameterValue

if TYPE_CHECKING:
    from .queue import Queue

_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
NAME_RULES = "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"

#: The in-flight limit SQS documents for both kinds of queue.
DEFAULT_MAX_IN_FLIGHT = 120_000

# name -> (AWS attribute name, low, high) for the numeric settings.
_RANGES: dict[str, tuple[str, float, float]] = {
    "visibility_timeout": ("VisibilityTimeout", 0, 43_200),
    "delay": ("DelaySeconds", 0, 900),
    "retention": ("MessageRetentionPeriod", 60, 1_209_600),
    "max_message_size": ("MaximumMessageSize", 1_024, 1_048_576),
    "receive_wait": ("ReceiveMessageWaitTimeSeconds", 0, 20),
}
_INTEGER_ONLY = {"max_message_size"}


@attrs.define(slots=True)
class QueueSettings:
    """The settable attributes of one queue, already checked."""

    visibility_timeout: float = 30
    delay: float = 0
    retention: float = 345_600
    max_message_size: int = 1_048_576
    receive_wait: float = 0
    content_based_deduplication: bool = False
    deduplication_scope: str = "queue"
    fifo_throughput_limit: str = "perQueue"
    dead_letter_queue: Queue | None = None
    max_receive_count: int = 10
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT


SETTING_NAMES = frozenset(attrs.fields_dict(QueueSettings))


def check_name(name: object, fifo: bool | None) -> tuple[str, bool]:
    """Check a queue name and settle whether the queue is FIFO.

    Raises:
        InvalidParameterValue: a bad name, or a name that does not match ``fifo``.
    """
    if not isinstance(name, str):
        raise InvalidParameterValue(f"{NAME_RULES} (got {type(name).__name__}).")
    is_fifo_name = name.endswith(".fifo")
    if fifo is None:
        fifo = is_fifo_name
    if fifo:
        if not _FIFO_NAME.fullmatch(name):
            raise InvalidParameterValue(
                f"{NAME_RULES}. A FIFO queue's name must end in '.fifo' (got {name!r})."
            )
    elif not _NAME.fullmatch(name):
        raise InvalidParameterValue(
            f"{NAME_RULES}. Only a FIFO queue's name may end in '.fifo' (got {name!r})."
        )
    return name, fifo


def checked(
    current: QueueSettings,
    changes: Mapping[str, Any],
    *,
    fifo: bool,
    dead_letter_target: Callable[[object], Queue | None],
) -> QueueSettings:
    """A new :class:`QueueSettings` with *changes* applied, or an error if any is bad.

    Whether a value can be the dead-letter queue is the queue's rule:
    *dead_letter_target* returns the value as a queue or raises ``InvalidParameterValue``.

    Raises:
        InvalidAttributeName: an unknown setting, or a FIFO-only one on a standard queue.
        InvalidAttributeValue: a value out of range.
        InvalidParameterValue: bad dead-letter settings.
    """
    for key in changes:
        if key not in SETTING_NAMES:
            raise InvalidAttributeName(
                f"Unknown Attribute {key}. Settable: {', '.join(sorted(SETTING_NAMES))}."
            )
    new = attrs.evolve(current)
    for key, value in changes.items():
        if key in _RANGES:
            aws_name, low, high = _RANGES[key]
            setattr(new, key, _number(aws_name, value, low, high, integer=key in _INTEGER_ONLY))
        elif key == "content_based_deduplication":
            if not fifo:
                if value:
                    raise InvalidAttributeName("Unknown Attribute ContentBasedDeduplication.")
                continue
            if not isinstance(value, bool):
                raise InvalidAttributeValue(
                    "Invalid value for the parameter ContentBasedDeduplication. Reason: must be"
                    " True or False."
                )
            new.content_based_deduplication = value
        elif key == "deduplication_scope":
            new.deduplication_scope = _choice(
                "DeduplicationScope", value, ("queue", "messageGroup"), fifo, "queue"
            )
        elif key == "fifo_throughput_limit":
            new.fifo_throughput_limit = _choice(
                "FifoThroughputLimit", value, ("perQueue", "perMessageGroupId"), fifo, "perQueue"
            )
        elif key == "max_receive_count":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                raise InvalidParameterValue(
                    "Value for parameter RedrivePolicy is invalid. Reason: Invalid value for"
                    f" maxReceiveCount: {value}, valid values are from 1 to 1000 both inclusive."
                )
            new.max_receive_count = value
        elif key == "max_in_flight":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidAttributeValue(
                    f"Invalid value for the parameter max_in_flight. Reason: must be an int >= 1,"
                    f" got {shown(value, quoted=True)}."
                )
            new.max_in_flight = value
        elif key == "dead_letter_queue":
            new.dead_letter_queue = dead_letter_target(value)
    if (
        new.fifo_throughput_limit == "perMessageGroupId"
        and new.deduplication_scope != "messageGroup"
    ):
        raise InvalidAttributeValue(
            "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId is"
            " allowed only when DeduplicationScope is messageGroup."
        )
    return new


def _number(aws_name: str, value: object, low: float, high: float, *, integer: bool) -> Any:
    ok = in_range(value, low, high) and (not integer or float(value).is_integer())
    if not ok:
        kind = "an integer" if integer else "a number of seconds"
        raise InvalidAttributeValue(
            f"Invalid value for the parameter {aws_name}. Reason: must be {kind} from"
            f" {low:.15g} to {high:.15g}, got {shown(value, quoted=True)}."
        )
    assert isinstance(value, int | float)
    return int(value) if integer else value


def _choice(
    aws_name: str, value: object, allowed: tuple[str, ...], fifo: bool, default: str
) -> str:
    if not fifo:
        if value == default:
            return default
        raise InvalidAttributeName(
            f"You can specify the {aws_name} only when FifoQueue is set to true."
        )
    if value not in allowed:
        raise InvalidAttributeValue(
            f"Invalid value for the parameter {aws_name}. Reason: must be one of"
            f" {', '.join(allowed)}, got {shown(value, quoted=True)}."
        )
    return str(value)
