"""The SQLite file behind a durable broker or queue: its schema, version and opening checks,
and the group commit that makes each call's changes durable before it returns.

Opening never changes a file it refuses. An existing file is first inspected without
SQLite touching the directory: its 100-byte header (magic, application id, schema
version) is read as bytes, then its meta table through an ``immutable`` read-only
connection, which creates no ``-wal``/``-shm`` file. Only a file that passes is opened for
writing, in WAL mode with ``locking_mode=EXCLUSIVE``: the first write takes a lock that
another process cannot get (a second opener fails at once), and no shared-memory file is
used. A new file is built under a temporary name in the same directory and linked into
place, so a half-made file never appears under the real name.

A clean close checkpoints and removes the WAL; a ``-wal`` file found at opening means the
last run ended uncleanly. Such a file is checked (``PRAGMA quick_check``, and the opener's
own refusals) through a read-only connection before the writable one opens: closing a
writable connection writes the WAL into the file, so a file refused after that would not
be left as it was.

Group commit: every change is appended, under :attr:`Store.lock`, to a list of pending
statements. :meth:`Store.sync` makes everything appended so far durable: the first caller
with nothing committing becomes the leader and commits all that is pending in one
transaction; others wait, each on its own thread's lock (made once, kept acquired, released
by the leader), and when the leader is done it wakes only those its commit covered and
hands leadership to one that is still waiting. Many threads therefore share one commit. A
commit of one statement runs it alone (SQLite makes a lone statement its own transaction),
without ``BEGIN`` and ``COMMIT``; consecutive rows of one INSERT (a batch's sends) go as
multi-row INSERTs, so a ``send_batch`` of plain messages is one statement.

Queue counters: a queue's row in ``queues`` is not rewritten by every commit. Its ``seq``
and FIFO ``sequence`` hold a reservation: a bound at least as high as any number in use,
raised by :data:`RESERVE` in the commit that stores the first message past it, so after a
kill the reopened queue continues above every number it ever issued (receipt handles and
sequence numbers are never reused). Its totals (sent, received, deleted) are statistics:
they are written with the reservations, every :data:`COUNTERS_EVERY` commits, and exactly
at close, so after a kill they may trail by that many commits. ``last_purge`` is written
by the purge's own commit. A clean close writes every counter exactly.

A failed commit leaves the store failed: every later call raises :class:`StorageError`
and the object must be closed and the file reopened, so memory can never run ahead of the
file.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import struct
import threading
from _thread import allocate_lock
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from .errors import InvalidParameterValue, MqliteError, StorageError

__all__ = [
    "COUNTERS_EVERY",
    "DURABILITY",
    "MIGRATIONS",
    "RESERVE",
    "SCHEMA_VERSION",
    "Journaled",
    "Store",
    "check_durability",
    "check_path",
]

#: The values ``durability=`` accepts.
DURABILITY = ("crash", "power")
#: The schema version this code writes (``PRAGMA user_version``).
SCHEMA_VERSION = 2
#: How far ahead of the numbers in use a queue's stored ``seq`` and FIFO ``sequence`` go.
RESERVE = 4096
#: Commits between two writes of the queues' totals (statistics) while they change.
COUNTERS_EVERY = 64
#: Marks an mqlite file (``PRAGMA application_id``): "MQLT".
APPLICATION_ID = 0x4D514C54

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE queues (
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, fifo INTEGER NOT NULL,
    token TEXT NOT NULL, settings TEXT NOT NULL, seq INTEGER NOT NULL,
    sequence TEXT NOT NULL, last_purge REAL, sent INTEGER NOT NULL,
    received INTEGER NOT NULL, deleted INTEGER NOT NULL);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY, st INTEGER NOT NULL, dl REAL, rc INTEGER NOT NULL,
    inh INTEGER NOT NULL, frm INTEGER, ra REAL NOT NULL, enq REAL NOT NULL,
    sent INTEGER NOT NULL, mid TEXT NOT NULL, body TEXT NOT NULL, mb TEXT NOT NULL,
    attrs TEXT, ma TEXT, gid TEXT, did TEXT, sn TEXT, dls TEXT, dlsa TEXT);
CREATE TABLE topics (name TEXT PRIMARY KEY, fifo INTEGER NOT NULL,
    cbd INTEGER NOT NULL, subscriptions TEXT NOT NULL);
CREATE TABLE dedup (q INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    expiry REAL NOT NULL, PRIMARY KEY (q, key)) WITHOUT ROWID;
"""

# Added by schema version 2 (new files get them from the start, version 1 files through
# the migration).
_V2_TABLES = """
CREATE TABLE groups (q INTEGER NOT NULL, gid TEXT NOT NULL, turn INTEGER NOT NULL,
    PRIMARY KEY (q, gid)) WITHOUT ROWID;
CREATE TABLE hides (id INTEGER PRIMARY KEY, turn INTEGER NOT NULL);
CREATE TABLE extras (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE topic_dedup (topic TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    expiry REAL NOT NULL, PRIMARY KEY (topic, key)) WITHOUT ROWID;
"""


def _upgrade_1(conn: sqlite3.Connection) -> None:
    """Version 1 to 2: FIFO group turns and hide order, extras (data kept for the AWS layer and move
    tasks) and FIFO topics' dedup windows."""
    for statement in _V2_TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)


#: Upgrades from an older schema version: ``MIGRATIONS[v](conn)`` turns version *v* into
#: *v + 1* inside the opening transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _upgrade_1}

# Files open in this process (their real paths): SQLite's lock is per process, so a
# second opener here is caught by this set.
_open_paths: set[str] = set()
_open_lock = threading.Lock()


def check_durability(value: object) -> str:
    """*value* if it is a durability mode, else :class:`InvalidParameterValue`."""
    if not isinstance(value, str) or value not in DURABILITY:
        raise InvalidParameterValue(f"durability must be 'crash' or 'power', got {value!r}.")
    return value


def check_path(value: object) -> str:
    """*value* as a file path (``str``, ``bytes`` or ``os.PathLike``), else
    :class:`InvalidParameterValue`."""
    try:
        if not isinstance(value, str | bytes | os.PathLike):
            raise TypeError
        path = os.fsdecode(value)
    except TypeError:
        raise InvalidParameterValue(
            f"path must be a file path (str or os.PathLike), not {type(value).__name__}."
        ) from None
    if not path or "\x00" in path:
        raise InvalidParameterValue(
            f"path must be a non-empty file path with no NUL character, got {path!r}."
        )
    return path


class Store:
    """One open mqlite file: a broker's (*kind* ``"broker"``) or one queue's (``"queue"``,
    holding *name*)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        kind: str,
        name: str,
        durability: str,
        check: Callable[[sqlite3.Connection], object] | None = None,
    ) -> None:
        check_durability(durability)
        #: ``"crash"`` or ``"power"`` (whether a commit waits for the disk's flush).
        self.durability = durability
        self.path = os.fspath(path)
        self.kind = kind
        self.name = name
        real = os.path.realpath(self.path)
        with _open_lock:
            if real in _open_paths:
                raise StorageError(f"{self.path} is already open in this process.")
            _open_paths.add(real)
        self._real = real
        #: Held while appending to the pending list (callers hold their queue's lock too).
        self.lock = threading.Lock()
        self._pending: list[tuple[str, Sequence[Any]]] = []
        # Queues whose counters changed since they were last written, and whether the next
        # commit must write them (a reservation was raised, a purge); commits since then.
        self._dirty: set[Journaled] = set()
        self._force = False
        self._since_counters = 0
        # The queue that owns each queue id now (a deleted queue's id can be reused).
        self._owners: dict[int, Journaled] = {}
        self._appended = 0
        self._committed = 0
        self._leading = False
        self._waiters: list[_Waiter] = []
        self._local = threading.local()
        self.failed: BaseException | None = None
        self.closed = False
        try:
            self.conn = self._open(durability, check)
        except BaseException:
            with _open_lock:
                _open_paths.discard(real)
            raise

    # --- opening -----------------------------------------------------------------------------

    def _open(
        self, durability: str, check: Callable[[sqlite3.Connection], object] | None
    ) -> sqlite3.Connection:
        existed = os.path.exists(self.path)
        if not existed:
            self._create()
        unclean = os.path.exists(self.path + "-wal") and os.path.getsize(self.path + "-wal") > 0
        self._inspect()
        if unclean:
            self._check_unclean(check)
        try:
            conn = sqlite3.connect(
                self.path, timeout=0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise StorageError(f"{self.path} cannot be opened: {e}.") from e
        try:
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            # In exclusive mode WAL uses no shared memory: no -shm file.
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StorageError(f"{self.path} cannot be put in WAL mode.")
            conn.execute(f"PRAGMA synchronous={'FULL' if durability == 'power' else 'NORMAL'}")
            # The probe write takes the exclusive lock now: another process holding the
            # file makes it fail at once.
            conn.execute("BEGIN IMMEDIATE")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            while version < SCHEMA_VERSION:
                upgrade = MIGRATIONS.get(version)
                if upgrade is None:
                    raise StorageError(
                        f"{self.path} has schema version {version}, which cannot be upgraded."
                    )
                upgrade(conn)
                version += 1
                conn.execute(f"PRAGMA user_version={version}")
            conn.execute("COMMIT")
        except sqlite3.OperationalError as e:
            conn.close()
            if "locked" in str(e):
                raise StorageError(f"{self.path} is open in another process.") from e
            raise StorageError(f"{self.path} cannot be opened: {e}.") from e
        except sqlite3.Error as e:
            conn.close()
            raise StorageError(f"{self.path} is damaged: {e}.") from e
        except BaseException:
            conn.close()
            raise
        return conn

    def _create(self) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        tmp = os.path.join(folder, f".{os.path.basename(self.path)}.{os.urandom(6).hex()}.tmp")
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.executescript(_SCHEMA + _V2_TABLES)
                conn.executemany(
                    "INSERT INTO meta VALUES (?, ?)", [("kind", self.kind), ("name", self.name)]
                )
            finally:
                conn.close()
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            try:
                os.link(tmp, self.path)  # fails if another opener created it meanwhile
            except FileExistsError as e:
                raise StorageError(f"{self.path} was created by someone else meanwhile.") from e
            except OSError as e:
                raise StorageError(f"{self.path} cannot be created: {e}.") from e
        except sqlite3.Error as e:
            raise StorageError(f"{self.path} cannot be created: {e}.") from e
        finally:
            for leftover in (tmp, tmp + "-journal"):
                if os.path.exists(leftover):
                    os.unlink(leftover)

    def _inspect(self) -> None:
        """Refuse a file that is not mqlite's, newer, or of another kind, touching nothing."""
        try:
            with open(self.path, "rb") as f:
                header = f.read(100)
        except OSError as e:
            raise StorageError(f"{self.path} cannot be read: {e}.") from e
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            raise StorageError(f"{self.path} is not an mqlite file.")
        (version,) = struct.unpack(">I", header[60:64])
        (app_id,) = struct.unpack(">I", header[68:72])
        if app_id != APPLICATION_ID:
            raise StorageError(f"{self.path} is not an mqlite file.")
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path} was written by a newer mqlite (schema version {version},"
                f" this one reads up to {SCHEMA_VERSION})."
            )
        uri = "file:" + _quote(os.path.abspath(self.path)) + "?mode=ro&immutable=1"
        try:
            ro = sqlite3.connect(uri, uri=True)
            try:
                meta = dict(ro.execute("SELECT key, value FROM meta").fetchall())
            finally:
                ro.close()
        except sqlite3.Error as e:
            raise StorageError(f"{self.path} is damaged or not an mqlite file: {e}.") from e
        if meta.get("kind") != self.kind:
            raise StorageError(f"{self.path} is a {meta.get('kind')}'s file, not a {self.kind}'s.")
        if self.kind == "queue" and meta.get("name") != self.name:
            raise StorageError(
                f"{self.path} holds the queue {meta.get('name')!r}, not {self.name!r}."
            )

    def _check_unclean(self, check: Callable[[sqlite3.Connection], object] | None) -> None:
        """Check a file the last run left with its WAL (a kill) before opening it for
        writing: ``PRAGMA quick_check``, then *check* (the opener's own refusals, such as
        settings that do not fit the stored ones), through a read-only connection.

        A writable connection would recover the WAL, and closing it after a refusal would
        write the WAL into the file: content kept, bytes changed. A read-only connection
        reads the WAL and writes neither file; it needs a shared-memory index (``-shm``),
        removed afterwards if it was not there before.
        """
        shm = self.path + "-shm"
        had_shm = os.path.exists(shm)
        uri = "file:" + _quote(os.path.abspath(self.path)) + "?mode=ro"
        try:
            ro = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)
            try:
                result = ro.execute("PRAGMA quick_check").fetchone()[0]
                if result != "ok":
                    raise StorageError(f"{self.path} is damaged: {result}.")
                if check is not None:
                    check(ro)
            finally:
                ro.close()
        except sqlite3.OperationalError as e:
            if "locked" in str(e):
                raise StorageError(f"{self.path} is open in another process.") from e
            raise StorageError(f"{self.path} cannot be opened: {e}.") from e
        except sqlite3.DatabaseError as e:
            raise StorageError(f"{self.path} is damaged: {e}.") from e
        except MqliteError:
            raise
        except (ValueError, KeyError, TypeError) as e:  # rows mqlite never wrote
            raise StorageError(f"{self.path} is damaged: {type(e).__name__}: {e}.") from e
        finally:
            if not had_shm and os.path.exists(shm):
                os.unlink(shm)

    # --- reading -----------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads: a damaged page (or a failed read) met inside raises
        :class:`StorageError`, never a bare ``sqlite3`` error, and so do rows mqlite never
        wrote (text that is not the JSON it stores, an unknown state), met while decoding
        them. Reads change nothing, so the file is left as it was."""
        try:
            yield self.conn
        except sqlite3.OperationalError as e:
            raise StorageError(f"{self.path} cannot be read: {e}.") from e
        except sqlite3.DatabaseError as e:
            raise StorageError(f"{self.path} is damaged: {e}.") from e
        except MqliteError:
            raise
        except (ValueError, KeyError, TypeError) as e:
            # Rows that SQLite reads but mqlite never wrote (bad JSON, an unknown state):
            # the file is damaged, not the caller's input.
            raise StorageError(f"{self.path} is damaged: {type(e).__name__}: {e}.") from e

    # --- writing -----------------------------------------------------------------------------

    def register(self, owner: Journaled) -> None:
        """Make *owner* the queue whose counters this store writes for its queue id."""
        with self.lock:
            self._owners[owner.qid] = owner

    def append(
        self,
        sql: str,
        params: Sequence[Any],
        owner: Journaled | None = None,
        force: bool = False,
    ) -> None:
        """Add one statement to the next commit (the caller holds its queue's lock).

        *owner*'s counters changed: they are written by a later commit, the next one if
        *force* (a reservation was raised, or a purge).
        """
        with self.lock:
            self._pending.append((sql, params))
            self._appended += 1
            if owner is not None:
                self._dirty.add(owner)
                if force:
                    self._force = True

    def sync(self) -> None:
        """Return once everything appended so far is committed.

        Raises:
            StorageError: the commit failed (the store is failed from then on).
        """
        with self.lock:
            if self.failed is not None:
                raise StorageError(f"{self.path}: an earlier write failed ({self.failed}).")
            if self._committed >= self._appended:
                return
            if not self._leading:
                # Nobody is committing: lead, taking the batch under this same lock.
                self._leading = True
                batch, upto = self._take()
            else:
                try:
                    waiter: _Waiter = self._local.waiter
                except AttributeError:
                    waiter = self._local.waiter = _Waiter()
                waiter.target = self._appended
                waiter.lead = False
                self._waiters.append(waiter)
                batch = None
                upto = 0
        if batch is None:
            try:
                waiter.lock.acquire()  # released by the leader; held again for the next wait
            except BaseException:  # interrupted (KeyboardInterrupt): leave the line cleanly
                self._abandon(waiter)
                raise
            if not waiter.lead:
                if self.failed is not None:
                    raise StorageError(f"{self.path}: the write failed ({self.failed}).")
                return
            with self.lock:
                batch, upto = self._take()
        self._commit(batch, upto)

    def _abandon(self, waiter: _Waiter) -> None:
        """Take *waiter*, whose wait was interrupted, out of the line: its lock may still be
        released, so this thread gets a new one; if the lead was handed to it, pass it on."""
        del self._local.waiter
        with self.lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return
            if not waiter.lead:
                return  # its commit was made
            if self._waiters:
                nxt = self._waiters.pop(0)
                nxt.lead = True
                nxt.lock.release()
            else:
                self._leading = False

    def _take(self) -> tuple[list[tuple[str, Sequence[Any]]], int]:
        """The pending statements and how many appends they cover, with the counters
        due (the caller holds :attr:`lock` and leads)."""
        batch = self._pending
        self._pending = []
        self._since_counters += 1
        if self._dirty and (self._force or self._since_counters >= COUNTERS_EVERY):
            owners = self._owners
            # Read under the store's lock only: reservations only grow, and a queue raises
            # its reservation before it appends the message past the old one.
            batch.extend(
                (_COUNTERS, q.counters_row(False)) for q in self._dirty if owners.get(q.qid) is q
            )
            self._dirty = set()
            self._force = False
            self._since_counters = 0
        return batch, self._appended

    def _commit(self, batch: list[tuple[str, Sequence[Any]]], upto: int) -> None:
        """Write *batch* as the leader and wake the waiters it covers; while others still
        wait, commit again for them (up to :data:`_DRAIN` commits), then hand over."""
        rounds = 1
        while True:
            error: BaseException | None = None
            try:
                self._write(batch)
            except BaseException as e:  # an interrupt too: the batch may not be stored
                error = e
            with self.lock:
                if error is not None:
                    self.failed = error
                    self._leading = False
                    for w in self._waiters:
                        w.lock.release()
                    self._waiters.clear()
                    if isinstance(error, sqlite3.Error | OSError):
                        raise StorageError(f"{self.path}: a write failed: {error}.") from error
                    raise error
                self._committed = upto
                waiters = self._waiters
                if not waiters:
                    self._leading = False
                    return
                still: list[_Waiter] = []
                for w in waiters:
                    if w.target <= upto:
                        w.lock.release()
                    else:
                        still.append(w)
                self._waiters = still
                if not still:
                    self._leading = False
                    return
                if rounds < _DRAIN:
                    # Committing again here costs less than waking a waiter to do it.
                    rounds += 1
                    batch, upto = self._take()
                    continue
                # Hand over: the first one still waiting commits the next batch.
                nxt = still.pop(0)
                nxt.lead = True
                nxt.lock.release()
                return

    def _write(self, batch: list[tuple[str, Sequence[Any]]]) -> None:
        conn = self.conn
        n = len(batch)
        if n == 1:
            # A lone statement is its own transaction, as durable as an explicit one.
            conn.execute(*batch[0])
            return
        # Runs of one statement go together: an INSERT's run as multi-row INSERTs (one
        # step for many rows, cheaper than a step per row), any other's by executemany.
        steps: list[tuple[str, Any, bool]] = []
        i = 0
        while i < n:
            sql = batch[i][0]
            j = i + 1
            while j < n and batch[j][0] == sql:
                j += 1
            if j - i == 1:
                steps.append((sql, batch[i][1], False))
            elif _multi_row(sql, 1) is None:
                steps.append((sql, [params for _, params in batch[i:j]], True))
            else:
                for k in range(i, j, _ROWS_PER_INSERT):
                    chunk = batch[k : min(j, k + _ROWS_PER_INSERT)]
                    flat = [value for _, params in chunk for value in params]
                    steps.append((_multi_row(sql, len(chunk)), flat, False))  # type: ignore[arg-type]
            i = j
        if len(steps) == 1 and not steps[0][2]:
            conn.execute(steps[0][0], steps[0][1])  # one statement: its own transaction
            return
        conn.execute("BEGIN")
        try:
            for sql, params, many in steps:
                if many:
                    conn.executemany(sql, params)
                else:
                    conn.execute(sql, params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def check_usable(self) -> None:
        """Raise :class:`StorageError` if an earlier write failed."""
        if self.failed is not None:
            raise StorageError(f"{self.path}: an earlier write failed ({self.failed}).")

    # --- closing -----------------------------------------------------------------------------

    def close(self, *, commit: bool = True) -> None:
        """Commit what is pending, checkpoint, and release the file. Idempotent.

        With *commit* false (an opening that failed) nothing pending is written, so a
        refused file is left exactly as it was.
        """
        if self.closed:
            return
        self.closed = True
        try:
            if self.failed is None and commit:
                try:
                    with self.lock:
                        # Every counter exactly (the queues refuse calls by now).
                        for owner in self._owners.values():
                            self._pending.append((_COUNTERS, owner.counters_row(True)))
                        self._appended += 1
                        self._dirty.clear()
                    self.sync()
                    self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except (sqlite3.Error, StorageError):
                    pass  # the WAL stays: the next open checks the file
            self.conn.close()
        finally:
            # The queues hold this store and it holds them: break the cycle, so a closed
            # queue's records are freed with it, by reference counting alone (records
            # loaded before gc.freeze() are never collected as a cycle).
            self._owners.clear()
            self._dirty.clear()
            self._pending = []
            with _open_lock:
                _open_paths.discard(self._real)


class Journaled(Protocol):
    """A queue whose counters a commit writes (see ``mqlite._journal``)."""

    #: Its id in the ``queues`` table.
    qid: int

    def counters_row(self, final: bool) -> tuple[Any, ...]:
        """The parameters of the counters UPDATE: reservations, or (*final*, at close)
        the exact values."""


# The most commits one leader makes in a row for others before it hands over (its own
# call returns late meanwhile).
_DRAIN = 16
#: Rows one multi-row INSERT carries at most (far below SQLite's 32,766 parameters).
_ROWS_PER_INSERT = 50


@functools.lru_cache(maxsize=256)
def _multi_row(sql: str, rows: int) -> str | None:
    """*sql*, an ``INSERT ... VALUES (...)`` of one row, made to insert *rows* rows in
    order (a later row replaces an earlier one as the same INSERTs one by one would);
    ``None`` for any other statement."""
    head, sep, values = sql.partition(" VALUES ")
    if not (sep and head.startswith("INSERT") and values.startswith("(")):
        return None
    if not values.endswith(")") or " VALUES " in values or ")" in values[:-1]:
        return None
    return f"{head} VALUES {','.join([values] * rows)}"


_COUNTERS = (
    "UPDATE queues SET seq=?, sequence=?, last_purge=?, sent=?, received=?, deleted=? WHERE id=?"
)


class _Waiter:
    """One thread's place in the wait for a commit, reused by its every wait: a lock the
    thread keeps acquired, so acquiring it again blocks until the leader releases it."""

    __slots__ = ("lead", "lock", "target")

    def __init__(self) -> None:
        self.target = 0
        self.lock = allocate_lock()
        self.lock.acquire()
        self.lead = False


def _quote(path: str) -> str:
    return path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def dumps(value: object) -> str:
    """Compact JSON for the few columns that hold structures."""
    return json.dumps(value, separators=(",", ":"))
