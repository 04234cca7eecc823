from mqlite.clock import ManualClock
from mqlite.queue import Queue

clock = ManualClock()
dlq = Queue("jobs-dlq", clock=clock)
jobs = Queue("jobs", dead_letter_queue=dlq, max_receive_count=1, clock=clock)
sent = jobs.send("poison")
[m] = jobs.receive(visibility_timeout=0)      # receive count 1
assert jobs.receive() == []                   # this receive moves it
[dead] = dlq.receive()
assert dead.message_id == sent.message_id
assert dead.receive_count == 2
assert dead.dead_letter_source_arn == jobs.arn
