"""Copy each docs example file into the Markdown that shows it.

Every ```` ```python ```` block in ``README.md`` and ``docs/*.md`` is a file under
``docs/examples/``, and ``tests/test_docs.py`` runs every such file. To change an example,
edit its ``.py`` file, then run ``python docs/sync_examples.py`` to rewrite the blocks; to add
one, create ``docs/examples/<page>_<slug>.py`` and put an empty marked block in the page::

    <!-- example: examples/tutorial_worker_pool.py -->
    ```python
    ```
    <!-- /example -->

The marker's path is relative to the page (``docs/examples/...`` from the README). The
tests fail when a block is unmarked, differs from its file, or points to a missing file,
and when a file in ``docs/examples/`` is shown by no page. ``--check`` lists those
problems without writing anything.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"

_OPEN = re.compile(r"^<!-- example: (?P<target>\S+) -->$")
_CLOSE = "<!-- /example -->"
_FENCE = "```python"
_END = "```"


class SyncError(Exception):
    """A page's markers are malformed, or a marker names a file that does not exist."""


@dataclass(frozen=True)
class Block:
    """One ```` ```python ```` block of a page."""

    page: Path
    line: int
    """1-based line number of the opening fence."""
    code: str
    """The lines between the fences, each ending in a newline."""
    target: str | None
    """The marker's path as written; ``None`` for an unmarked block."""

    @property
    def where(self) -> str:
        """``page:line`` for messages, the page relative to the repository."""
        return f"{_rel(self.page)}:{self.line}"

    @property
    def example(self) -> Path | None:
        """The file the marker points to, resolved against the page's folder."""
        if self.target is None:
            return None
        return (self.page.parent / self.target).resolve()


def _rel(path: Path) -> str:
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def pages() -> list[Path]:
    """The Markdown files that may show examples: the README and ``docs/*.md``."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def example_files() -> list[Path]:
    """Every ``.py`` file in ``docs/examples/``, sorted."""
    return sorted(EXAMPLES.glob("*.py"))


def _parse(page: Path, text: str) -> tuple[list[str], list[tuple[Block, int, int]]]:
    """Split *text* into lines; find each block with the indexes of its two fences."""
    lines = text.splitlines(keepends=True)
    found: list[tuple[Block, int, int]] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].rstrip("\n")
        marker = _OPEN.match(stripped)
        if marker is None and stripped != _FENCE:
            if stripped == _CLOSE:
                raise SyncError(f"{_rel(page)}:{i + 1}: {_CLOSE} without an opening marker")
            i += 1
            continue
        target = None
        if marker is not None:
            target = marker["target"]
            i += 1
            if i == len(lines) or lines[i].rstrip("\n") != _FENCE:
                raise SyncError(f"{_rel(page)}:{i}: example marker not followed by {_FENCE}")
        start = i
        end = start + 1
        while end < len(lines) and lines[end].rstrip("\n") != _END:
            end += 1
        if end == len(lines):
            raise SyncError(f"{_rel(page)}:{start + 1}: {_FENCE} block is never closed")
        if target is not None and (end + 1 == len(lines) or lines[end + 1].rstrip("\n") != _CLOSE):
            raise SyncError(f"{_rel(page)}:{end + 1}: {_CLOSE} missing after the block")
        code = "".join(lines[start + 1 : end])
        found.append((Block(page, start + 1, code, target), start, end))
        i = end + (2 if target is not None else 1)
    return lines, found


def blocks(page: Path) -> list[Block]:
    """Every ```` ```python ```` block of *page*, marked or not, in order."""
    return [block for block, _, _ in _parse(page, page.read_text())[1]]


def _read_example(block: Block) -> str:
    path = block.example
    assert path is not None
    if not path.is_file():
        raise SyncError(f"{block.where}: marker points to a missing file: {block.target}")
    return path.read_text()


def render(page: Path, text: str | None = None) -> str:
    """*page*'s text (or *text*, read from it) with each marked block replaced by its file."""
    lines, found = _parse(page, page.read_text() if text is None else text)
    out: list[str] = []
    done = 0
    for block, start, end in found:
        if block.target is None:
            continue
        code = _read_example(block)
        if code and not code.endswith("\n"):
            code += "\n"
        out += lines[done : start + 1]
        out.append(code)
        done = end
    out += lines[done:]
    return "".join(out)


def check() -> list[str]:
    """Every problem the tests would report, one message each; empty when all is well."""
    problems: list[str] = []
    shown: set[Path] = set()
    for page in pages():
        try:
            found = blocks(page)
        except SyncError as exc:
            problems.append(str(exc))
            continue
        for block in found:
            if block.example is None:
                problems.append(f"{block.where}: {_FENCE} block has no example marker")
                continue
            shown.add(block.example)
            try:
                code = _read_example(block)
            except SyncError as exc:
                problems.append(str(exc))
                continue
            if block.code != code:
                problems.append(f"{block.where}: block differs from {block.target}")
    for path in example_files():
        if path.resolve() not in shown:
            problems.append(f"{_rel(path)}: shown by no page")
    return problems


def main(argv: list[str]) -> int:
    """Rewrite the marked blocks of every page, or with ``--check`` only report problems."""
    if argv == ["--check"]:
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    if argv:
        print("usage: python docs/sync_examples.py [--check]", file=sys.stderr)
        return 2
    try:
        for page in pages():
            before = page.read_text()
            after = render(page, before)
            if after != before:
                page.write_text(after)
                print(f"updated {_rel(page)}")
    except SyncError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
