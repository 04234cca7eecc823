import pytest

from mqlite import Queue
from mqlite.errors import InvalidMessageContents


def test_rejects_control_characters():
    q = Queue("q")
    with pytest.raises(InvalidMessageContents) as info:
        q.send("\x00")
    assert info.value.code == "InvalidMessageContents"
    assert q.stats().visible == 0            # a rejected call changes nothing
