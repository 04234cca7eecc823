import os
import sqlite3
import tempfile
from pathlib import Path

from mqlite import Queue, SendEntry

path = Path(tempfile.mkdtemp()) / "jobs.db"
with Queue("jobs", path=path) as jobs:
    for _ in range(200):
        jobs.send_batch([SendEntry(id=str(i), body="x" * 1000) for i in range(10)])
    while batch := jobs.receive(10):
        for message in batch:
            jobs.delete(message)
full = os.path.getsize(path)  # every message is gone, the pages they used are kept

# Closed, the file can be compacted: VACUUM rewrites it without its free pages.
with sqlite3.connect(path) as conn:
    conn.execute("VACUUM")
conn.close()
assert os.path.getsize(path) < full / 10

with Queue("jobs", path=path) as jobs:
    assert jobs.stats().visible == 0
