import threading

from mqlite import Queue, Worker

jobs = Queue("jobs")
done = []
finished = threading.Event()

def handle(message):                       # returning normally deletes the message
    done.append(message.body)
    if len(done) == 20:
        finished.set()

for i in range(20):
    jobs.send(f"job {i}")
with Worker(jobs, handle, concurrency=4):  # starts 4 threads; stops (draining) on exit
    assert finished.wait(timeout=10)
assert sorted(done) == sorted(f"job {i}" for i in range(20))
assert jobs.stats().total == 0
