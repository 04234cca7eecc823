"""mqlite: Amazon SQS and SNS semantics inside one Python process.

Everything public is importable from here; submodules are implementation detail.
"""

from __future__ import annotations

from ._attribute import Attribute
from ._redrive import RedriveTask
from .broker import Broker
from .clock import Clock, Interrupt, ManualClock, SystemClock
from .errors import MqliteError
from .filters import FilterPolicy, FilterPolicyError
from .message import (
    BatchFailure,
    BatchResult,
    DeleteEntry,
    DeleteResult,
    Message,
    Notification,
    PublishEntry,
    PublishResult,
    QueueStats,
    SendEntry,
    SendResult,
    VisibilityEntry,
    VisibilityResult,
)
from .queue import Queue
from .topic import DeliveryFailure, RetryPolicy, Subscription, Topic
from .worker import AsyncWorker, Retry, Worker, WorkerStats

__all__ = [
    "AsyncWorker",
    "Attribute",
    "BatchFailure",
    "BatchResult",
    "Broker",
    "Clock",
    "DeleteEntry",
    "DeleteResult",
    "DeliveryFailure",
    "FilterPolicy",
    "FilterPolicyError",
    "Interrupt",
    "ManualClock",
    "Message",
    "MqliteError",
    "Notification",
    "PublishEntry",
    "PublishResult",
    "Queue",
    "QueueStats",
    "RedriveTask",
    "Retry",
    "RetryPolicy",
    "SendEntry",
    "SendResult",
    "Subscription",
    "SystemClock",
    "Topic",
    "VisibilityEntry",
    "VisibilityResult",
    "Worker",
    "WorkerStats",
]

__version__ = "0.1.0"
