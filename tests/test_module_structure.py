"""How the package is put together: no import cycles, no function-level imports that dodge
one, and no module-level registry of queues (dead-letter links and move tasks belong to
whoever owns the queues: a Broker, or a standalone queue)."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

import mqlite
from mqlite._redrive import RUNNING, RedriveTask
from mqlite.broker import Broker
from mqlite.clock import ManualClock
from mqlite.errors import InvalidParameterValue, ResourceNotFound
from mqlite.queue import Queue

PACKAGE = Path(mqlite.__file__).parent

# Function-level imports allowed, each because it keeps an optional dependency optional
# (botocore, the `aws` extra) or breaks a cycle inside that optional layer.
_ALLOWED_LOCAL_IMPORTS = {
    ("__main__.py", ".aws._server"),  # `serve` needs botocore
    ("testing.py", ".aws"),  # the mock_aws fixture needs botocore
    ("aws/_remote.py", "boto3"),
    ("aws/_remote.py", "botocore.config"),
    ("aws/_remote.py", "._remote_topic"),  # _remote_topic builds on _remote
}


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


# Run in the fresh interpreter before the imports. A module's code is compiled once and
# reused, as a __pycache__ would (PYTHONDONTWRITEBYTECODE leaves none): compiling is not what
# is checked, executing each module from nothing is. botocore's loader is watched so that an
# import which reads a service model (tens of milliseconds each) is reported too.
_PRELUDE = """\
import importlib, importlib.machinery, sys
import botocore.loaders

_codes = {}
_get_code = importlib.machinery.SourceFileLoader.get_code

def _cached_code(self, fullname):
    if self.path not in _codes:
        _codes[self.path] = _get_code(self, fullname)
    return _codes[self.path]

importlib.machinery.SourceFileLoader.get_code = _cached_code
_models = []
_load_service_model = botocore.loaders.Loader.load_service_model

def _watched(self, service_name, *args, **kwargs):
    _models.append(service_name)
    return _load_service_model(self, service_name, *args, **kwargs)

botocore.loaders.Loader.load_service_model = _watched
"""


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    # One fresh interpreter; before each module every mqlite module is forgotten, so each
    # import starts from nothing (third-party modules stay loaded). Importing loads no
    # botocore service model: that waits for the first request.
    names = _modules()
    script = _PRELUDE + (
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'mqlite']:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        print(name, type(exc).__name__, exc)\n"
        "    if _models:\n"
        "        print(name, 'loads service models', _models)\n"
        "        _models.clear()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def _local_imports(tree: ast.Module) -> Iterator[str]:
    """Modules imported inside a function body (``if TYPE_CHECKING:`` blocks aside)."""
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom):
                yield "." * node.level + (node.module or "")
            elif isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)


def _ours(module: str) -> bool:
    return module.startswith(".") or module.split(".")[0] in ("mqlite", "botocore", "boto3")


def test_no_function_level_imports_except_for_optional_dependencies() -> None:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for module in filter(_ours, _local_imports(tree)):
            found.add((path.relative_to(PACKAGE).as_posix(), module))
    assert found - _ALLOWED_LOCAL_IMPORTS == set()


@pytest.fixture
def tasks() -> Iterator[list[RedriveTask]]:
    made: list[RedriveTask] = []
    yield made
    for t in made:
        if t.status == RUNNING:
            t.cancel()
        t.join(5)


def _dead_lettered(clock: ManualClock, src: Queue, dlq: Queue) -> None:
    src.send("m")
    src.receive(visibility_timeout=0)
    assert src.receive() == []
    assert dlq.stats().visible == 1


def _holds(value: object, wanted: tuple[type, ...]) -> bool:
    if isinstance(value, dict | weakref.WeakKeyDictionary | weakref.WeakValueDictionary):
        items = list(value.keys()) + list(value.values())
    elif isinstance(value, list | set | frozenset | tuple | deque | weakref.WeakSet):
        items = list(value)
    else:
        return False
    return any(
        isinstance(item, wanted) or (isinstance(item, deque | list | set) and _holds(item, wanted))
        for item in items
    )


def test_no_module_keeps_a_registry_of_queues_or_tasks(
    tasks: list[RedriveTask], clock: ManualClock
) -> None:
    broker = Broker(clock=clock)
    dlq = broker.create_queue("dlq")
    src = broker.create_queue("src", dead_letter_queue=dlq, max_receive_count=1)
    alone_dlq = Queue("alone-dlq", clock=clock)
    alone = Queue("alone", clock=clock, dead_letter_queue=alone_dlq, max_receive_count=1)
    for s, d in ((src, dlq), (alone, alone_dlq)):
        _dead_lettered(clock, s, d)
        tasks.append(d.start_redrive(rate=1))
    holders = [
        f"{name}.{attr}"
        for name, module in list(sys.modules.items())
        if name == "mqlite" or name.startswith("mqlite.")
        for attr, value in vars(module).items()
        if _holds(value, (Queue, RedriveTask))
    ]
    assert holders == []


def test_two_brokers_never_see_each_others_links_or_tasks(
    tasks: list[RedriveTask], clock: ManualClock
) -> None:
    # Same clock, region and account: the same names give the same ARNs in both.
    one, two = Broker(clock=clock), Broker(clock=clock)
    dlq_one = one.create_queue("dlq")
    src = one.create_queue("src", dead_letter_queue=dlq_one, max_receive_count=1)
    dlq_two = two.create_queue("dlq")
    _dead_lettered(clock, src, dlq_one)
    task = dlq_one.start_redrive(rate=1)
    tasks.append(task)
    assert task.handle is not None
    assert dlq_two.redrive_tasks(10) == []
    with pytest.raises(InvalidParameterValue, match="configured as a Dead Letter Queue"):
        dlq_two.start_redrive(rate=1)
    with pytest.raises(ResourceNotFound, match="Task does not exist"):
        two.cancel_redrive(task.handle)
    assert one.cancel_redrive(task.handle) == 0


def test_a_broker_queue_may_name_a_standalone_dead_letter_queue(
    tasks: list[RedriveTask], clock: ManualClock
) -> None:
    broker = Broker(clock=clock)
    dlq = Queue("dlq", clock=clock)
    src = broker.create_queue("src", dead_letter_queue=dlq, max_receive_count=1)
    _dead_lettered(clock, src, dlq)
    task = dlq.start_redrive(rate=1)
    tasks.append(task)
    assert dlq.redrive_tasks() == [task]
    clock.advance(1)
    assert task.wait_until_idle()
    assert task.moved == 1
    assert src.stats().visible == 1
    src.configure(dead_letter_queue=None)
    with pytest.raises(InvalidParameterValue, match="configured as a Dead Letter Queue"):
        dlq.redrive()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_starting_tasks_while_relinking_never_deadlocks(clock: ManualClock) -> None:
    # A new task reads its queue under the component's task lock; configure relinks
    # under the queue's lock. Sharing one lock for both would deadlock these threads.
    broker = Broker(clock=clock)
    dlq = broker.create_queue("dlq")
    broker.create_queue("src", dead_letter_queue=dlq)
    other = broker.create_queue("other")
    rounds = 1000

    def start() -> None:
        for _ in range(rounds):
            dlq.start_redrive(rate=500).join(timeout=1)  # nothing to move: it ends at once

    def relink() -> None:
        for i in range(rounds):
            dlq.configure(dead_letter_queue=other if i % 2 == 0 else None)

    threads = [threading.Thread(target=f, daemon=True) for f in (start, relink)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=4)
        assert not t.is_alive()
