"""Helpers for testing code that uses mqlite, including pytest fixtures.

Use the fixtures by listing this module as a plugin in your ``conftest.py``::

    pytest_plugins = ["mqlite.testing"]

    def test_job_is_retried(manual_clock, queue_factory):
        q = queue_factory("jobs", visibility_timeout=60)
        ...

Fixtures:

* ``manual_clock`` — a fresh :class:`~mqlite.ManualClock`.
* ``queue_factory`` — ``queue_factory(name, **settings)`` makes queues on that clock.
* ``drain`` — ``drain(queue)`` receives and deletes everything visible, returning the bodies.
* ``aws_mock`` — :func:`mqlite.aws.mock_aws` on ``manual_clock`` for the whole test: boto3
  clients made in the test talk to mqlite (needs ``mqlite[aws]``).

A long poll can never hang a test silently: on a manual clock, a wait that would block
the process's only thread raises ``RuntimeError`` at once (nothing else could send or
advance the clock). To have such waits jump the clock forward instead, override the
``manual_clock`` fixture in your ``conftest.py`` to return ``ManualClock(autojump=True)``;
``queue_factory`` then uses it.

The plain functions work without pytest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .clock import ManualClock
from .queue import Queue

if TYPE_CHECKING:
    from .aws import MockAws

__all__ = ["drain_queue", "make_queue_factory"]


def drain_queue(queue: Queue) -> list[str]:
    """Receive and delete every visible message of *queue*; return their bodies in order.

    Messages in flight or delayed are left alone. Never waits.
    """
    bodies: list[str] = []
    while True:
        batch = queue.receive(10, wait=0)
        if not batch:
            return bodies
        for message in batch:
            bodies.append(message.body)
            queue.delete(message)


def make_queue_factory(clock: ManualClock) -> Callable[..., Queue]:
    """A function that makes queues sharing *clock*: ``factory(name, **settings)``."""

    def factory(name: str, **settings: Any) -> Queue:
        settings.setdefault("clock", clock)
        return Queue(name, **settings)

    return factory


try:
    import pytest
except ImportError:  # pytest is optional: only the fixtures need it.
    pass
else:

    @pytest.fixture
    def manual_clock() -> ManualClock:
        """A fresh manual clock for one test.

        A long poll on it from the test's only thread raises ``RuntimeError`` instead of
        hanging (see :meth:`ManualClock.wait`).
        """
        return ManualClock()

    @pytest.fixture
    def queue_factory(manual_clock: ManualClock) -> Callable[..., Queue]:
        """Makes queues on the test's manual clock: ``queue_factory(name, **settings)``."""
        return make_queue_factory(manual_clock)

    @pytest.fixture
    def drain() -> Callable[[Queue], list[str]]:
        """``drain(queue)``: receive and delete every visible message, return the bodies."""
        return drain_queue

    @pytest.fixture
    def aws_mock(manual_clock: ManualClock) -> Iterator[MockAws]:
        """``mock_aws`` on the test's manual clock: boto3 in the test is answered by mqlite."""
        from .aws import mock_aws  # botocore is needed only by tests that use this fixture

        with mock_aws(clock=manual_clock) as aws:
            yield aws
