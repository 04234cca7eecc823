from mqlite.clock import ManualClock
from mqlite.queue import Queue

clock = ManualClock()
dlq = Queue("d", clock=clock)
src = Queue("s", dead_letter_queue=dlq, max_receive_count=1, clock=clock)
for i in range(3):
    src.send(f"m{i}")
for _ in range(3):
    src.receive(10, visibility_timeout=0)
assert src.receive(10) == [] and dlq.stats().visible == 3

task = dlq.start_redrive(rate=1)
clock.advance(2)
assert task.wait_until_idle()
assert task.moved == 2
task.cancel()
assert task.status == "CANCELLED"
