from mqlite import ManualClock, Queue


def test_unfinished_job_comes_back():
    clock = ManualClock()                    # starts at 2024-01-01T00:00:00Z
    q = Queue("jobs", clock=clock, visibility_timeout=43_200)
    q.send("resize cat.png")

    [msg] = q.receive()
    assert q.receive() == []                 # hidden while in flight

    clock.advance(43_199)
    assert q.receive() == []
    clock.advance(1)                         # twelve hours, in microseconds of real time
    [again] = q.receive()
    assert again.receive_count == 2
