from mqlite import ManualClock, Queue

clock = ManualClock()                       # time moves only when you say so
q = Queue("jobs", clock=clock, visibility_timeout=43_200)
q.send("resize images/cat.png", attributes={"size": 1024})
[msg] = q.receive()
clock.advance(43_200)                       # twelve hours, instantly
[again] = q.receive()                       # not deleted in time: delivered again
assert again.receive_count == 2
q.delete(again)
