from mqlite.clock import ManualClock
from mqlite.queue import Queue

clock = ManualClock()
q = Queue("orders.fifo", content_based_deduplication=True, clock=clock)
first = q.send("pay #1", group_id="customer-7")
assert q.send("pay #1", group_id="customer-7").message_id == first.message_id
assert q.stats().visible == 1          # the duplicate was not stored
clock.advance(300)
assert q.send("pay #1", group_id="customer-7").message_id != first.message_id
