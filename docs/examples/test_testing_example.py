"""The ManualClock test above, written with mqlite.testing's fixtures."""

from collections.abc import Callable

from mqlite import ManualClock, Queue

pytest_plugins = ["mqlite.testing"]


def test_unfinished_job_comes_back(
    manual_clock: ManualClock,
    queue_factory: Callable[..., Queue],
    drain: Callable[[Queue], list[str]],
) -> None:
    q = queue_factory("jobs", visibility_timeout=43_200)
    q.send("resize cat.png")
    [msg] = q.receive()
    assert q.receive() == []
    manual_clock.advance(43_199)
    assert q.receive() == []
    manual_clock.advance(1)
    [again] = q.receive()
    assert again.receive_count == 2
    assert again.message_id == msg.message_id
    q.change_visibility(again, 0)
    assert drain(q) == ["resize cat.png"]
