from mqlite.clock import ManualClock
from mqlite.queue import Queue

q = Queue("jobs.fifo", content_based_deduplication=True, clock=ManualClock())
for group, body in [("g1", "g1-m1"), ("g2", "g2-m1"), ("g1", "g1-m2")]:
    q.send(body, group_id=group)
assert [m.body for m in q.receive(10)] == ["g1-m1", "g1-m2", "g2-m1"]
assert q.receive(10) == []            # both groups are blocked by in-flight messages
