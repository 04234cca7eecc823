import threading

from mqlite import Message, Queue
from mqlite.worker import Worker

q = Queue("jobs")
for i in range(10):
    q.send(str(i))

done = threading.Semaphore(0)
seen = []

def handle(m: Message) -> None:
    seen.append(m.body)
    done.release()

with Worker(q, handle, concurrency=4) as w:
    for _ in range(10):
        assert done.acquire(timeout=10)
assert sorted(seen, key=int) == [str(i) for i in range(10)]
assert w.processed == 10 and q.stats().in_flight == 0
