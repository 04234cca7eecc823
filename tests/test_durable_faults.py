"""Durable files under bad conditions: each a clear StorageError, nothing silently lost.

Covered: a file that cannot be written (immutable, or read-only permissions), a full
database (a real SQLITE_FULL through ``PRAGMA max_page_count`` set at the connection
boundary), a file held by another process, a WAL cut short after ``kill -9``, files that
are not mqlite's, a newer schema version, and damaged pages. A refused file is left
byte-for-byte as it was, with nothing created beside it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mqlite import Broker, Queue, _store
from mqlite.errors import InvalidAttributeValue, MqliteError, StorageError

_ENV = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))

Opener = Callable[[Path], Any]
OPENERS: dict[str, Opener] = {
    "queue": lambda path: Queue("q", path=path),
    "broker": lambda path: Broker(path=path),
}


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _refused(open_: Opener, path: Path) -> StorageError:
    """Opening *path* fails with a StorageError and changes nothing in its folder."""
    before = _listing(path.parent)
    with pytest.raises(StorageError) as info:
        open_(path)
    assert info.value.code == "InvalidStorage"
    assert isinstance(info.value, MqliteError)
    assert _listing(path.parent) == before
    return info.value


def _bodies(path: Path) -> list[str]:
    with Queue("q", path=path) as q:
        q.check_invariants()
        return [m.body for m in q.peek(include_in_flight=True, include_delayed=True)]


# --- files that cannot be written -----------------------------------------------------------


@contextmanager
def _unwritable(folder: Path, *, whole_folder: bool) -> Iterator[None]:
    """Make the files in *folder* (and the folder itself) unwritable, for root too."""
    files = list(folder.iterdir())
    if os.geteuid() == 0:
        # Root ignores permission bits; the immutable attribute binds root as well.
        done: list[Path] = []
        try:
            for p in [*files, folder] if whole_folder else files:
                subprocess.run(["chattr", "+i", str(p)], check=True, capture_output=True)
                done.append(p)
            yield
        finally:
            for p in done:
                subprocess.run(["chattr", "-i", str(p)], check=True, capture_output=True)
    else:
        for p in files:
            p.chmod(stat.S_IRUSR)
        if whole_folder:
            folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield
        finally:
            folder.chmod(stat.S_IRWXU)
            for p in files:
                p.chmod(stat.S_IRUSR | stat.S_IWUSR)


def _can_make_unwritable(folder: Path) -> bool:
    if os.geteuid() != 0:
        return True
    probe = folder / "probe"
    probe.write_bytes(b"")
    try:
        made = subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False
    if made:
        subprocess.run(["chattr", "-i", str(probe)], check=True)
    probe.unlink()
    return made


@pytest.mark.parametrize("whole_folder", [False, True])
@pytest.mark.parametrize("kind", sorted(OPENERS))
def test_an_unwritable_file_is_refused_and_left_alone(
    tmp_path: Path, kind: str, whole_folder: bool
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    if not _can_make_unwritable(tmp_path):
        pytest.skip("running as root on a file system without the immutable attribute")
    path = folder / "q.db"
    with OPENERS[kind](path) as opened:
        q = opened if kind == "queue" else opened.create_queue("q")
        q.send("kept")
    with _unwritable(folder, whole_folder=whole_folder):
        assert "cannot be opened" in str(_refused(OPENERS[kind], path))
        if whole_folder:
            with pytest.raises(StorageError):
                OPENERS[kind](folder / "new.db")  # nor can a new file be made there
        assert sorted(os.listdir(folder)) == ["q.db"]
    with OPENERS[kind](path) as opened:
        q = opened if kind == "queue" else opened.get_queue("q")
        assert [m.body for m in q.peek()] == ["kept"]


# --- a full database -----------------------------------------------------------------------


def test_a_full_database_refuses_the_write_and_loses_nothing_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "q.db"
    with Queue("q", path=path) as q:
        q.send("first")
    real_connect = sqlite3.connect

    def limited(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = real_connect(*args, **kwargs)
        if not kwargs.get("uri"):
            # The file may not grow by more than a few pages: SQLite answers SQLITE_FULL.
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={pages + 4}")
        return conn

    acknowledged = ["first"]
    with monkeypatch.context() as m:
        m.setattr(sqlite3, "connect", limited)
        q = Queue("q", path=path)

        def send_until_full() -> None:
            for i in range(100):
                body = f"{i:04d}" + "x" * 3000
                q.send(body)
                acknowledged.append(body)

        with pytest.raises(StorageError) as info:
            send_until_full()
        assert info.value.code == "InvalidStorage"
        assert "full" in str(info.value).lower()
        assert len(acknowledged) > 1  # some sends fitted before the file was full
        with pytest.raises(StorageError):
            q.stats()  # memory may hold the failed send; the queue refuses to show it
        q.close()
    assert _bodies(path) == acknowledged
    with Queue("q", path=path) as q:
        q.send("after")  # room again without the limit
        assert q.stats().visible == len(acknowledged) + 1


# --- a file held by another process ---------------------------------------------------------

_HOLDER = textwrap.dedent(
    """
    import sys
    from mqlite import Broker, Queue
    kind, path = sys.argv[1:]
    held = Queue("q", path=path) if kind == "queue" else Broker(path=path)
    print("open", flush=True)
    sys.stdin.read()
    held.close()
    """
)


@pytest.mark.parametrize("kind", sorted(OPENERS))
def test_a_file_held_by_another_process_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "q.db"
    OPENERS[kind](path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, kind, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_ENV,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "open\n"
        start = time.monotonic()
        with pytest.raises(StorageError) as info:
            OPENERS[kind](path)
        assert time.monotonic() - start < 1  # no waiting on the lock
        assert "another process" in str(info.value)
    finally:
        holder.communicate("", timeout=10)
    assert holder.returncode == 0
    OPENERS[kind](path).close()  # free again once the holder is gone


# --- a WAL cut short after kill -9 ----------------------------------------------------------

_KILLED = textwrap.dedent(
    """
    import os, sys
    from mqlite import Queue
    q = Queue("q", path=sys.argv[1])
    for i in range(30):
        q.send(f"m{i:02d}")
    print("sent", flush=True)
    os.kill(os.getpid(), 9)
    """
)


def test_a_cut_wal_recovers_whole_commits_up_to_the_cut(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    path = origin / "q.db"
    out = subprocess.run(
        [sys.executable, "-c", _KILLED, str(path)], capture_output=True, text=True, env=_ENV
    )
    assert out.returncode == -signal.SIGKILL
    assert out.stdout == "sent\n"
    wal = (origin / "q.db-wal").read_bytes()
    sent = [f"m{i:02d}" for i in range(30)]
    frame = 24 + int.from_bytes(wal[8:12], "big")  # frame header + page size
    frames = (len(wal) - 32) // frame
    assert frames > 30  # one commit per send at least
    recovered = []
    cuts = range(32 + frame // 2, len(wal), 7 * frame + 11)
    for cut in [len(wal), *reversed(cuts), 20, 0]:
        trial = tmp_path / f"cut{cut}"
        shutil.copytree(origin, trial)
        with open(trial / "q.db-wal", "r+b") as f:
            f.truncate(cut)
        bodies = _bodies_or_error(trial / "q.db")
        if isinstance(bodies, StorageError):  # a clear refusal is allowed
            continue
        # What survives is whole commits, in order: a prefix of what was sent.
        assert bodies == sent[: len(bodies)], cut
        recovered.append(len(bodies))
    assert recovered[0] == 30  # the uncut WAL holds everything
    assert recovered == sorted(recovered, reverse=True)  # shorter WAL, fewer commits
    assert any(0 < n < 30 for n in recovered)  # some cuts fell among the commits


# --- files that are not mqlite's, newer, or damaged -----------------------------------------


def _text(path: Path) -> None:
    path.write_text("queue: jobs\n" * 200)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _other_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE meta (key, value); INSERT INTO meta VALUES ('kind', 'queue');")
    conn.commit()
    conn.close()


def _sqlite_header_only(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84)


@pytest.mark.parametrize("make", [_text, _empty, _other_sqlite, _sqlite_header_only])
@pytest.mark.parametrize("kind", sorted(OPENERS))
def test_a_file_that_is_not_mqlites_is_refused_and_left_alone(
    tmp_path: Path, kind: str, make: Callable[[Path], None]
) -> None:
    path = tmp_path / "q.db"
    make(path)
    _refused(OPENERS[kind], path)


@pytest.mark.parametrize("kind", sorted(OPENERS))
def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path, kind: str) -> None:
    made = tmp_path / "made.db"
    OPENERS[kind](made).close()
    data = bytearray(made.read_bytes())
    made.unlink()
    data[60:64] = (_store.SCHEMA_VERSION + 7).to_bytes(4, "big")
    path = tmp_path / "q.db"
    path.write_bytes(bytes(data))
    assert "newer" in str(_refused(OPENERS[kind], path))


def _bodies_or_error(path: Path) -> list[str] | StorageError:
    try:
        return _bodies(path)
    except StorageError as e:
        return e


def _stored_file(path: Path) -> tuple[int, int]:
    """A cleanly closed queue file of many pages; returns (page size, page count)."""
    with Queue("q", path=path) as q:
        for i in range(60):
            q.send(f"{i:03d}" + "y" * 2000)
    data = path.read_bytes()
    size = int.from_bytes(data[16:18], "big")
    return size, len(data) // size


def test_damaged_pages_are_an_error_never_silent_loss(tmp_path: Path) -> None:
    path = tmp_path / "origin" / "q.db"
    path.parent.mkdir()
    size, count = _stored_file(path)
    assert count > 10
    sent = _bodies(path)
    pages = [2, 3, count // 2, count - 1, count]
    # Opened: then the damage was in no page that holds messages.
    refused = _damage_pages(path, size, pages, tmp_path, _bodies_or_error, sent)
    assert refused  # damage in the pages that hold messages is caught


def _damage_pages(
    path: Path,
    size: int,
    pages: list[int],
    into: Path,
    bodies_or_error: Callable[[Path], list[str] | StorageError],
    sent: list[str],
) -> int:
    """Open a copy of *path*'s folder with each page in *pages* overwritten: each either
    opens with every message in *sent* or is refused and left exactly as it was. Returns
    how many were refused."""
    data = path.read_bytes()
    refused = 0
    for page in pages:
        trial = into / f"page{page}" / path.name
        shutil.copytree(path.parent, trial.parent)
        damaged = bytearray(data)
        damaged[(page - 1) * size : page * size] = bytes(range(256)) * (size // 256)
        trial.write_bytes(bytes(damaged))
        before = _listing(trial.parent)
        outcome = bodies_or_error(trial)
        if isinstance(outcome, StorageError):
            assert outcome.code == "InvalidStorage"
            assert _listing(trial.parent) == before  # refused: left exactly as it was
            refused += 1
        else:
            assert outcome == sent
    return refused


def test_a_damaged_header_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    _stored_file(path)
    data = bytearray(path.read_bytes())
    data[20:60] = b"\xee" * 40  # page layout fields
    path.write_bytes(bytes(data))
    _refused(OPENERS["queue"], path)


def _broker_bodies(path: Path) -> list[str]:
    with Broker(path=path) as broker:
        q = broker.get_queue("q")
        q.check_invariants()
        return [m.body for m in q.peek(include_in_flight=True, include_delayed=True)]


def test_a_damaged_broker_file_is_an_error_never_silent_loss(tmp_path: Path) -> None:
    path = tmp_path / "origin" / "b.db"
    path.parent.mkdir()
    with Broker(path=path) as broker:
        q = broker.create_queue("q")
        for i in range(60):
            q.send(f"{i:03d}" + "y" * 2000)
    data = path.read_bytes()
    size = int.from_bytes(data[16:18], "big")
    count = len(data) // size
    sent = _broker_bodies(path)
    refused = 0
    for page in range(2, count + 1):
        trial = tmp_path / f"page{page}" / "b.db"
        trial.parent.mkdir()
        damaged = bytearray(path.read_bytes())
        damaged[(page - 1) * size : page * size] = bytes(range(256)) * (size // 256)
        trial.write_bytes(bytes(damaged))
        before = _listing(trial.parent)
        try:
            outcome: list[str] | StorageError = _broker_bodies(trial)
        except StorageError as e:
            outcome = e
        if isinstance(outcome, StorageError):
            assert outcome.code == "InvalidStorage"
            assert "damaged" in str(outcome)
            assert _listing(trial.parent) == before
            refused += 1
        else:
            assert outcome == sent
    assert refused


def test_damage_that_appears_while_open_is_caught_at_the_next_open(tmp_path: Path) -> None:
    # The queue serves from memory, so pages damaged under an open file surface when the
    # file is next read: the reopen refuses it instead of loading fewer messages.
    path = tmp_path / "q.db"
    size, count = _stored_file(path)
    with Queue("q", path=path) as q:
        raw = bytearray(path.read_bytes())
        # The second half of the pages but the last (which the next send may rewrite):
        # pages that hold messages only, so the opening checks pass and the load meets it.
        half = count // 2
        raw[half * size : (count - 1) * size] = (
            bytes(range(256)) * (size // 256) * (count - 1 - half)
        )
        path.write_bytes(bytes(raw))
        q.send("after the damage")
        assert q.stats().visible == 61
    error = _refused(OPENERS["queue"], path)
    assert "damaged" in str(error)


# --- a file left by kill -9 (with its WAL) and then refused -----------------------------------

_KILLED_FIFO = textwrap.dedent(
    """
    import os, sys
    from mqlite import Queue
    q = Queue("q.fifo", path=sys.argv[1], deduplication_scope="queue")
    for i in range(40):
        q.send(f"m{i:02d}" + "z" * 1500, group_id=f"g{i % 3}", deduplication_id=str(i))
    print("sent", flush=True)
    os.kill(os.getpid(), 9)
    """
)


def _killed_fifo_file(folder: Path) -> Path:
    """A FIFO queue's file as kill -9 left it: committed sends only in its WAL."""
    folder.mkdir()
    path = folder / "q.db"
    out = subprocess.run(
        [sys.executable, "-c", _KILLED_FIFO, str(path)], capture_output=True, text=True, env=_ENV
    )
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert (folder / "q.db-wal").stat().st_size > 0
    return path


def test_a_killed_file_refused_for_its_settings_is_left_exactly_as_it_was(
    tmp_path: Path,
) -> None:
    path = _killed_fifo_file(tmp_path / "origin")
    before = _listing(path.parent)
    # perMessageGroupId needs deduplication_scope="messageGroup"; the file holds "queue".
    with pytest.raises(InvalidAttributeValue):
        Queue("q.fifo", path=path, fifo_throughput_limit="perMessageGroupId")
    assert _listing(path.parent) == before  # not even the WAL written into the file
    # It opens as it was, with every message the killed run sent.
    with Queue("q.fifo", path=path) as q:
        assert len(q.peek()) == 40
        assert q.settings()["deduplication_scope"] == "queue"


def test_a_killed_file_with_a_damaged_page_is_refused_and_left_exactly_as_it_was(
    tmp_path: Path,
) -> None:
    path = _killed_fifo_file(tmp_path / "origin")
    wal = (path.parent / "q.db-wal").read_bytes()
    size = int.from_bytes(wal[8:12], "big")
    count = path.stat().st_size // size
    sent = [f"m{i:02d}" for i in range(40)]
    # Refused ones keep their WAL unwritten; opened ones had a page the WAL replaces, or
    # one no message is on.
    assert _damage_pages(
        path, size, list(range(2, count + 1)), tmp_path, _fifo_bodies_or_error, sent
    )


def _fifo_bodies_or_error(path: Path) -> list[str] | StorageError:
    try:
        with Queue("q.fifo", path=path) as q:
            return sorted(m.body[:3] for m in q.peek())
    except StorageError as e:
        return e


@pytest.mark.parametrize(
    ("kind", "damage"),
    [
        ("queue", "UPDATE messages SET attrs='{not json'"),
        ("queue", "UPDATE queues SET settings='not json'"),
        ("queue", "UPDATE messages SET st=9"),
        ("queue", "UPDATE messages SET st=2, dl=NULL"),  # in flight with no deadline
        ("broker", "UPDATE topics SET subscriptions='[{'"),
        ("broker", "UPDATE messages SET st=9"),
        ("broker", "UPDATE extras SET value='{'"),
    ],
)
def test_rows_mqlite_never_wrote_are_refused_and_left_alone(
    tmp_path: Path, kind: str, damage: str
) -> None:
    # SQLite reads these rows without complaint; decoding them is where the damage shows.
    path = tmp_path / "q.db"
    if kind == "queue":
        with Queue("q", path=path) as q:
            q.send("a", attributes={"n": 1})
            q.send("b")
    else:
        with Broker(path=path) as broker:
            broker.create_queue("q").send("a", attributes={"n": 1})
            broker.create_topic("t").subscribe(broker.get_queue("q"))
            broker._save_extra("sqs-queue:q", {"tags": {}})
    conn = sqlite3.connect(path)
    with conn:
        assert conn.execute(damage).rowcount > 0
    conn.close()
    error = _refused(OPENERS[kind], path)
    assert "is damaged" in str(error)
