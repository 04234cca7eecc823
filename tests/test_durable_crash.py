"""Crash harness: a process killed with SIGKILL at random moments loses nothing it acknowledged.

One helper process imports mqlite once and forks a worker per round (a fresh interpreter
per round would cost ~0.3 s each). The worker opens the durable queue on a ManualClock and
loops over sends (single and batches of 10) and receives with deletes. For every call it
writes an intent line before the call and its results after the call returns, in one
``os.write`` (atomic on a pipe), ending with ``E``: a call whose ``E`` arrived was
acknowledged. The test reads a random number of lines, kills the worker, reopens the file
(or a copy of it, so that the next worker opens what its killed predecessor left) and
compares what it holds with what was acknowledged: every acknowledged send is there
exactly once (unless its delete was acknowledged), no acknowledged delete comes back,
receive counts never go backwards, nothing is invented; only the one call in progress at
the kill may or may not have taken effect. FIFO receives must keep each group's order;
a broker's queue moves messages to its dead-letter queue, and each is in exactly one.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from mqlite import Broker, ManualClock, Message, Queue

_WORKER = textwrap.dedent(
    """
    import os, random, sys, traceback
    import mqlite
    from mqlite import Broker, ManualClock, Queue, SendEntry

    def out(text):
        os.write(1, text.encode())

    def work(path, name, durability, now, seed, counter):
        rng = random.Random(seed)
        fifo = name.endswith(".fifo")
        if name == "broker":  # a queue whose twice-received messages move to "dead"
            b = Broker(path=path, durability=durability, clock=ManualClock(now))
            dead = b.create_queue("dead")
            q = b.create_queue("jobs", dead_letter_queue=dead, max_receive_count=2)
        else:
            q = Queue(name, path=path, durability=durability, clock=ManualClock(now))
        out(f"P {os.getpid()}\\n")
        while True:
            roll = rng.random()
            if roll < 0.45:
                size = 1 if rng.random() < 0.5 else 10
                bodies = [str(counter + i) for i in range(size)]
                counter += size
                out("I send " + " ".join(bodies) + "\\n")
                extra = {}
                if size == 1:
                    body = bodies[0]
                    if fifo:
                        extra = {"group_id": f"g{int(body) % 3}", "deduplication_id": body}
                    results = [q.send(body, **extra)]
                else:
                    entries = [
                        SendEntry(
                            id=f"e{i}", body=b,
                            group_id=f"g{int(b) % 3}" if fifo else None,
                            deduplication_id=b if fifo else None,
                        )
                        for i, b in enumerate(bodies)
                    ]
                    batch = q.send_batch(entries)
                    assert not batch.failed, batch.failed
                    results = batch.successful
                out("".join(f"S {r.message_id} {b}\\n" for r, b in zip(results, bodies)) + "E\\n")
            else:
                out("I recv\\n")
                got = q.receive(rng.choice((1, 10)), visibility_timeout=30)
                lines = [f"R {m.message_id} {m.receive_count} {m.body}\\n" for m in got]
                out("".join(lines) + "E\\n")
                keep = rng.random() < 0.2  # sometimes leave them in flight
                for m in [] if keep else got:
                    out(f"I del {m.message_id}\\n")
                    q.delete(m)
                    out(f"D {m.message_id}\\nE\\n")

    for command in sys.stdin:
        path, name, durability, now, seed, counter = command.split()
        pid = os.fork()
        if pid == 0:
            try:
                work(path, name, durability, float(now), int(seed), int(counter))
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        out(f"Z {status}\\n")
    """
)


class _Zygote:
    """The helper process that forks one worker per round."""

    def __init__(self, stderr: IO[bytes]) -> None:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        self.stderr = stderr
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            start_new_session=True,  # its own process group: the workers end with it
        )
        # A worker that stops answering must fail the test, not hang it.
        self.watchdog = threading.Timer(60, self._end)
        self.watchdog.start()
        self.lines = self._lines()
        self.broken = False  # set while a round runs: if it ends early a worker may live on

    def _end(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _lines(self) -> Iterator[str]:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            yield raw.decode().rstrip("\n")

    def start(self, *fields: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((" ".join(map(str, fields)) + "\n").encode())
        self.proc.stdin.flush()

    def failure(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode()

    def close(self) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.watchdog.cancel()
        self._end()  # the helper and any worker still running (after a failed check)
        self.proc.wait(timeout=10)
        self.proc.stdin.close()
        self.proc.stdout.close()


class _Model:
    """What the file must hold: the stored messages as of the last check, plus the round's calls."""

    def __init__(self, fifo: bool) -> None:
        self.fifo = fifo
        self.known: dict[str, tuple[str, int]] = {}  # id -> (body, receive count)
        self.deleted: set[str] = set()
        self.counter = 0
        self.acked_sends = 0
        self.acked_deletes = 0
        self.kills_mid_call = 0
        self.flying: set[str] = set()  # received in this round, not deleted
        self.flying_checked = 0
        self.dead_letters = 0  # the most dead letters a broker's file held at once
        self.unclean_starts = 0  # rounds whose worker opened a file left with its WAL

    def play(self, lines: list[str]) -> tuple[str, list[str]] | None:
        """Apply the acknowledged calls; return the call in progress at the kill, if any."""
        pending: tuple[str, list[str]] | None = None
        results: list[list[str]] = []
        self.flying = set()
        for line in lines:
            kind, *rest = line.split()
            if kind == "I":
                assert pending is None, lines
                pending = (rest[0], rest[1:])
                results = []
            elif kind == "E":
                assert pending is not None
                self._apply(pending, results)
                pending = None
            else:
                results.append([kind, *rest])
        return pending

    def _apply(self, call: tuple[str, list[str]], results: list[list[str]]) -> None:
        what, args = call
        if what == "send":
            assert [r[2] for r in results] == args
            for _, mid, body in results:
                assert mid not in self.known
                assert mid not in self.deleted
                self.known[mid] = (body, 0)
                self.acked_sends += 1
        elif what == "recv":
            before: set[str] = set()
            for _, mid, count, body in results:
                assert mid not in self.deleted, "an acknowledged delete came back"
                assert self.known[mid] == (body, int(count) - 1), (mid, body, count)
                self.known[mid] = (body, int(count))
                self.flying.add(mid)
                if self.fifo:
                    group = int(body) % 3
                    for other, (b, _) in self.known.items():
                        if int(b) % 3 == group and int(b) < int(body):
                            assert other in before, f"group order broken: {b} before {body}"
                before.add(mid)
        else:
            [(_, mid)] = results
            assert args == [mid]
            del self.known[mid]
            self.flying.discard(mid)
            self.deleted.add(mid)
            self.acked_deletes += 1

    def check(self, stored: list[Message], pending: tuple[str, list[str]] | None) -> None:
        """Compare the reopened file with the model, then adopt what it holds."""
        ids = [m.message_id for m in stored]
        assert len(ids) == len(set(ids)), "a message stored twice"
        what, args = pending or ("", [])
        if pending is not None:
            self.kills_mid_call += 1
        now: dict[str, tuple[str, int]] = {}
        for m in stored:
            assert m.message_id not in self.deleted, "an acknowledged delete came back"
            if m.message_id in self.known:
                body, count = self.known[m.message_id]
                assert m.body == body
                # Only a receive in progress at the kill may have raised a count (by one).
                allowed = {count, count + 1} if what == "recv" else {count}
                assert m.receive_count in allowed, (m, count)
            else:
                # Only the send in progress at the kill may have stored an unseen message.
                assert what == "send", f"invented message {m}"
                assert m.body in args, f"invented message {m}"
                assert m.receive_count == 0
            now[m.message_id] = (m.body, m.receive_count)
        missing = set(self.known) - set(now)
        if what == "del":
            missing -= set(args)
        assert not missing, f"acknowledged sends lost: {missing}"
        if what == "del" and args[0] not in now:
            self.deleted.add(args[0])
        self.known = now


def _stored(
    name: str, path: Path, durability: str, now: float
) -> tuple[list[Message], int, set[str]]:
    """Every message the file holds (a broker's: its queue's, then its dead letters), how
    many of them are dead letters, and the ids of the queue's visible ones."""
    clock = ManualClock(now)
    if name != "broker":
        with Queue(name, path=path, durability=durability, clock=clock) as q:
            q.check_invariants()
            visible = {m.message_id for m in q.peek()}
            return q.peek(include_in_flight=True, include_delayed=True), 0, visible
    with Broker(path=path, durability=durability, clock=clock) as b:
        stored = []
        for q in (b.get_queue("jobs"), b.get_queue("dead")):
            q.check_invariants()
            stored += q.peek(include_in_flight=True, include_delayed=True)
        assert b.get_queue("jobs").dead_letter_queue is b.get_queue("dead")
        visible = {m.message_id for m in b.get_queue("jobs").peek()}
        return stored, b.get_queue("dead").stats().total, visible


@pytest.fixture(scope="module")
def zygotes() -> Iterator[list[_Zygote]]:
    """One helper process for the module's tests (starting one costs ~0.3 s); a test
    that fails mid-round marks it broken and the next test starts a fresh one."""
    made: list[_Zygote] = []
    with tempfile.TemporaryFile() as stderr:
        made.append(_Zygote(stderr))
        yield made
        for zygote in made:
            zygote.close()


def _run(
    zygotes: list[_Zygote], tmp_path: Path, name: str, durability: str, seed: int, rounds: int
) -> _Model:
    rng = random.Random(seed)
    path = tmp_path / "data" / "q.db"
    path.parent.mkdir()
    model = _Model(fifo=name.endswith(".fifo"))
    if zygotes[-1].broken:
        zygotes[-1].close()
        zygotes.append(_Zygote(zygotes[-1].stderr))
    zygote = zygotes[-1]
    lines = zygote.lines
    zygote.broken = True
    for round_ in range(rounds):
        model.unclean_starts += os.path.exists(f"{path}-wal")
        now = 1_000 + 100 * round_  # each round, messages left in flight reappear
        zygote.start(path, name, durability, now, rng.randrange(2**32), model.counter)
        first = next(lines)
        assert first.startswith("P "), first + zygote.failure()
        pid = int(first.split()[1])
        got: list[str] = []
        for _ in range(rng.randint(1, 120)):
            line = next(lines)
            assert not line.startswith("Z"), zygote.failure()
            got.append(line)
        os.kill(pid, signal.SIGKILL)
        for line in lines:
            if line.startswith("Z "):
                status = int(line.split()[1])
                break
            got.append(line)
        assert os.WIFSIGNALED(status), zygote.failure()
        assert os.WTERMSIG(status) == signal.SIGKILL
        pending = model.play(got)
        sent = [int(b) for line in got if line.startswith("I send") for b in line.split()[2:]]
        model.counter = max(sent, default=model.counter - 1) + 1
        # Half the rounds check a copy, so the next worker itself opens the file
        # its killed predecessor left (with its WAL), not one closed cleanly here.
        check = path
        if rng.random() < 0.5:
            check = tmp_path / f"copy{round_}" / "q.db"
            shutil.copytree(path.parent, check.parent)
        stored, dead, visible = _stored(name, check, durability, now)
        model.dead_letters = max(model.dead_letters, dead)
        model.check(stored, pending)
        # A receive stores the new deadline before it returns: what this round
        # received and did not delete is still in flight.
        assert not model.flying & visible
        model.flying_checked += len(model.flying)
    zygote.broken = False  # every worker ended and was reaped
    return model


@pytest.mark.parametrize("durability", ["crash", "power"])
@pytest.mark.parametrize("name", ["jobs", "jobs.fifo", "broker"])
def test_sigkill_loses_no_acknowledged_call(
    zygotes: list[_Zygote], tmp_path: Path, name: str, durability: str
) -> None:
    model = _run(
        zygotes,
        tmp_path,
        name,
        durability,
        seed=zlib.crc32(f"{name} {durability}".encode()),
        rounds=25 if durability == "crash" else 12,
    )
    # The rounds did real work: sends and deletes were acknowledged and messages remain.
    assert model.acked_sends > 0
    assert model.acked_deletes > 0
    assert model.kills_mid_call > 0
    assert model.unclean_starts > 0
    assert model.flying_checked > 0
    assert (model.dead_letters > 0) == (name == "broker")
