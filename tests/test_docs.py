"""Every Python example in the README and the docs is a file in docs/examples that runs.

The Markdown shows each file verbatim between ``<!-- example: ... -->`` markers;
``python docs/sync_examples.py`` copies the files into the pages.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import runpy
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


sync = _load("sync_examples")
PAGES: list[Path] = sync.pages()
# test_*.py examples are pytest modules: pytest collects them from docs/examples itself.
SCRIPTS = [path for path in sync.example_files() if not path.name.startswith("test_")]


def test_examples_were_found() -> None:
    assert ROOT / "docs" / "examples" / "readme_quickstart.py" in SCRIPTS
    assert any(block.target for block in sync.blocks(ROOT / "README.md"))


@pytest.mark.parametrize("path", SCRIPTS, ids=[path.name for path in SCRIPTS])
def test_example_runs(path: Path) -> None:
    namespace = runpy.run_path(str(path), run_name=f"example_{path.stem}")
    # Examples written as test functions are called too.
    for key, value in namespace.items():
        if key.startswith("test_") and callable(value):
            value()


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_block_shows_its_example_file(page: Path) -> None:
    for block in sync.blocks(page):
        assert block.example is not None, (
            f"{block.where}: move this ```python block into docs/examples/ and mark it "
            "with <!-- example: ... --> ... <!-- /example --> (see docs/sync_examples.py)"
        )
        if block.example.is_file():  # a missing file is test_no_orphans_no_dangling_markers'
            assert block.code == block.example.read_text(), (
                f"{block.where} differs from {block.target}: run python docs/sync_examples.py"
            )


def test_no_orphans_no_dangling_markers() -> None:
    marked = [block for page in PAGES for block in sync.blocks(page) if block.example]
    dangling = [f"{b.where}: {b.target}" for b in marked if b.example and not b.example.is_file()]
    assert not dangling, f"markers point to missing files: {dangling}"
    shown = {block.example for block in marked}
    orphans = [path.name for path in sync.example_files() if path.resolve() not in shown]
    assert not orphans, f"docs/examples files shown by no page: {orphans}"


def test_api_reference_is_current() -> None:
    gen_api = _load("gen_api")
    assert (ROOT / "docs" / "api.md").read_text() == gen_api.render(), (
        "docs/api.md is stale: run python docs/gen_api.py"
    )


def test_every_public_name_has_a_docstring() -> None:
    assert "(no docstring)" not in (ROOT / "docs" / "api.md").read_text()


def _public_methods() -> list[tuple[str, object]]:
    import mqlite

    found: list[tuple[str, object]] = []
    for name in mqlite.__all__:
        obj = getattr(mqlite, name)
        if not inspect.isclass(obj):
            if callable(obj):
                found.append((name, obj))
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_") or isinstance(value, property):
                continue
            if isinstance(value, (classmethod, staticmethod)):
                value = value.__func__
            if callable(value):
                found.append((f"{name}.{attr}", value))
    return found


def test_every_public_method_states_its_cost() -> None:
    """As the core's do: a reader sees what a call costs without reading its body."""
    methods = _public_methods()
    assert len(methods) > 50  # the walk found the API, not an empty list
    silent = [name for name, f in methods if "Cost" not in (inspect.getdoc(f) or "")]
    assert silent == []


def test_design_maps_every_module() -> None:
    """docs/design.md's "Where things live" names every module of the package, and no other."""
    text = (ROOT / "docs" / "design.md").read_text()
    section = text.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    mapped = set(re.findall(r"`(mqlite/(?:aws/)?\w+\.py)`", section))
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "mqlite").rglob("*.py")}
    assert mapped == modules


@pytest.mark.parametrize(
    "page", [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name
)
def test_docs_stand_alone(page: Path) -> None:
    # Pages state the facts themselves; the repository has no spec files to cite.
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"spec/|§|\bspec\b", text), page.name


def test_api_reference_documents_errors_and_testing() -> None:
    # The docs import both modules, so the reference must cover them as public.
    import mqlite.errors
    import mqlite.testing

    text = _load("gen_api").render()
    for module in (mqlite.errors, mqlite.testing):
        assert f"## `{module.__name__}`" in text
        for name in module.__all__:
            assert f"### `{module.__name__}.{name}" in text, name
