"""A conftest.py whose fixture clock jumps instead of refusing a long poll."""

import pytest

from mqlite import ManualClock

pytest_plugins = ["mqlite.testing"]


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(autojump=True)  # queue_factory uses this clock too
