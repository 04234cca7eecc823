from mqlite import ManualClock, Message, Queue
from mqlite.worker import Retry, Worker

clock = ManualClock()
dlq = Queue("payments-dlq", clock=clock)
q = Queue(
    "payments", clock=clock, visibility_timeout=30, dead_letter_queue=dlq, max_receive_count=3
)
q.send("charge 42")
attempts = []

def charge(m: Message) -> None:
    attempts.append(m.receive_count)
    raise Retry(delay=60)          # the card processor is down: try again in a minute

with Worker(q, charge) as w:
    for _ in range(3):
        assert w.wait_idle(10)     # handled, and made visible again in 60 s
        clock.advance(60)
    assert w.wait_idle(10)
# Every Retry was a receive: the third used up max_receive_count=3, so the
# fourth receive moved the message to the dead-letter queue instead.
assert attempts == [1, 2, 3] and w.retried == 3
assert [m.body for m in dlq.peek()] == ["charge 42"]
