import sqlite3
import tempfile
from pathlib import Path

from mqlite import Queue

folder = Path(tempfile.mkdtemp())
jobs = Queue("jobs", path=folder / "jobs.db")
jobs.send("keep me")

# The file is open in one place only: close it, then copy it with sqlite3's backup API.
jobs.close()
with sqlite3.connect(folder / "jobs.db") as source, sqlite3.connect(folder / "backup.db") as target:
    source.backup(target)
source.close()
target.close()

with Queue("jobs", path=folder / "backup.db") as restored:
    assert [m.body for m in restored.receive()] == ["keep me"]
