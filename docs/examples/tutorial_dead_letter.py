from mqlite import ManualClock, Queue

clock = ManualClock()
dlq = Queue("jobs-dlq", clock=clock)
jobs = Queue("jobs", clock=clock, visibility_timeout=10,
             dead_letter_queue=dlq, max_receive_count=2)
jobs.send("poison")

for _ in range(2):                         # two failed attempts
    assert jobs.receive()[0].body == "poison"
    clock.advance(10)
assert jobs.receive() == []                # the third receive moves it instead
assert dlq.peek()[0].dead_letter_source_arn == jobs.arn

assert dlq.redrive() == 1                  # after the fix: send it back
assert jobs.receive()[0].receive_count == 1
