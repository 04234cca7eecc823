from mqlite import ManualClock, Message, Queue
from mqlite.worker import Worker

clock = ManualClock()
q = Queue("emails", clock=clock, visibility_timeout=30)
q.send("to: alice@example.com")
q.send("to: nobody")
failures = []

def send_email(m: Message) -> None:
    if "@" not in m.body:
        raise ValueError("no address")

def report(m: Message, exc: BaseException) -> None:
    # Metrics, an alert...: with a hook the worker logs the failure at DEBUG only.
    failures.append((m.body, m.receive_count, repr(exc)))

with Worker(q, send_email, on_error=report) as w:
    assert w.wait_idle(10)
    clock.advance(30)              # the failed message comes back after its timeout
    assert w.wait_idle(10)
assert w.processed == 1 and w.failed == 2
assert failures == [
    ("to: nobody", 1, "ValueError('no address')"),
    ("to: nobody", 2, "ValueError('no address')"),
]
