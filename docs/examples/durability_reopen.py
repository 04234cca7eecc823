import tempfile
from pathlib import Path

from mqlite import Broker, Queue

folder = Path(tempfile.mkdtemp())

# A standalone queue in its own file.
with Queue("jobs", path=folder / "jobs.db") as jobs:
    jobs.send("resize photo 1")
    jobs.send("resize photo 2")
    [first] = jobs.receive(visibility_timeout=60)

# Reopened (after a restart, or a kill -9): everything is as it was, and the receipt
# handle issued before the restart still works while its message is in flight.
with Queue("jobs", path=folder / "jobs.db") as jobs:
    assert jobs.stats().visible == 1
    assert jobs.stats().in_flight == 1
    jobs.delete(first.receipt_handle)

# A broker keeps all its queues, their settings and dead-letter links in one file.
with Broker(path=folder / "broker.db", durability="power") as broker:
    dead = broker.create_queue("dead")
    broker.create_queue("orders", dead_letter_queue=dead, max_receive_count=3)
with Broker(path=folder / "broker.db") as broker:
    assert broker.get_queue("orders").dead_letter_queue is broker.get_queue("dead")
