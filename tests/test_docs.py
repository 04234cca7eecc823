"""Every Python example in the README and the docs runs, and its asserts hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for i, block in enumerate(_BLOCK.findall(path.read_text())):
            found.append((f"{path.name}#{i + 1}", block))
    return found


EXAMPLES = _examples()


def test_examples_were_found() -> None:
    assert any(name.startswith("README.md") for name, _ in EXAMPLES)


@pytest.mark.parametrize(("name", "code"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_example_runs(name: str, code: str) -> None:
    namespace: dict[str, object] = {"__name__": f"example_{name}"}
    exec(compile(code, name, "exec"), namespace)
    # Examples written as test functions are called too.
    for key, value in list(namespace.items()):
        if key.startswith("test_") and callable(value):
            value()


def test_api_reference_is_current() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "docs" / "gen_api.py")
    assert spec is not None
    assert spec.loader is not None
    gen_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_api)
    assert (ROOT / "docs" / "api.md").read_text() == gen_api.render(), (
        "docs/api.md is stale: run python docs/gen_api.py"
    )


def test_every_public_name_has_a_docstring() -> None:
    assert "(no docstring)" not in (ROOT / "docs" / "api.md").read_text()
