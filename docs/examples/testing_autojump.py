from mqlite import ManualClock, Queue


def test_long_poll_on_an_empty_queue():
    clock = ManualClock(autojump=True)
    q = Queue("jobs", clock=clock)
    start = clock.time()
    assert q.receive(wait=20) == []          # returns at once...
    assert clock.time() == start + 20        # ... with the clock 20 s later
