import threading

from mqlite import ManualClock, Message, Queue
from mqlite.worker import Worker


def test_heartbeats_keep_a_long_job_hidden():
    clock = ManualClock()
    q = Queue("jobs", clock=clock, visibility_timeout=30)
    q.send("resize cat.png")
    started, release = threading.Event(), threading.Event()

    def handle(m: Message) -> None:
        started.set()
        release.wait(10)                       # a long job, held by the test

    with Worker(q, handle) as w:               # heartbeat every 15 s
        assert started.wait(10)
        for beat in range(1, 5):
            clock.advance(16)                  # past the next heartbeat
            assert w.wait_idle(10, handlers=False)   # caught up with the clock
            assert w.stats.heartbeats == beat
            assert q.stats().in_flight == 1    # still hidden, long past 30 s
        release.set()
        assert w.wait_idle(10)                 # handler returned, delete sent
    assert w.processed == 1 and q.stats().total == 0


def test_every_sent_message_is_handled():
    q = Queue("jobs", clock=ManualClock())
    seen = []
    with Worker(q, lambda m: seen.append(m.body)) as w:
        q.send("a")
        q.send("b")
        assert w.wait_idle(10)                 # received, handled and deleted
        assert sorted(seen) == ["a", "b"] and w.processed == 2
