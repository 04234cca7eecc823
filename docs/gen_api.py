"""Write ``docs/api.md``, the API reference, from the docstrings of the ``__all__`` of
``mqlite``, ``mqlite.errors`` and ``mqlite.testing``.

Run ``python docs/gen_api.py``; ``tests/test_docs.py`` fails when the file is stale.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mqlite  # noqa: E402
import mqlite.errors  # noqa: E402
import mqlite.testing  # noqa: E402


def _doc(obj: object) -> str:
    return inspect.cleandoc(inspect.getdoc(obj) or "(no docstring)")


def _signature(obj: object) -> str:
    try:
        return str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "(...)"


def _section(module: ModuleType, prefix: str) -> list[str]:
    """Every name of ``module.__all__``, titled ``prefix + name``."""
    out: list[str] = []
    for name in sorted(module.__all__):
        obj = getattr(module, name)
        title = f"{prefix}{name}"
        if inspect.isclass(obj):
            out += [f"### `{title}{_signature(obj)}`", "", _doc(obj), ""]
            for attr, member in sorted(vars(obj).items()):
                if attr.startswith("_"):
                    continue
                if isinstance(member, property):
                    out += [f"#### `{title}.{attr}` (property)", "", _doc(member), ""]
                elif inspect.isfunction(member) or isinstance(member, classmethod | staticmethod):
                    wrapped = isinstance(member, classmethod | staticmethod)
                    fn = member.__func__ if wrapped else member
                    out += [f"#### `{title}.{attr}{_signature(fn)}`", "", _doc(fn), ""]
        elif callable(obj):
            out += [f"### `{title}{_signature(obj)}`", "", _doc(obj), ""]
    return out


def render() -> str:
    """The whole reference as Markdown."""
    out = [
        "# API reference",
        "",
        "Generated from the docstrings by `python docs/gen_api.py`. The public API is what",
        "`mqlite`, `mqlite.errors` and `mqlite.testing` export (their `__all__`), each in a",
        "section below; nothing else is public.",
        "",
        "## `mqlite`",
        "",
        *_section(mqlite, ""),
        "## `mqlite.errors`",
        "",
        _doc(mqlite.errors),
        "",
        *_section(mqlite.errors, "mqlite.errors."),
        "## `mqlite.testing`",
        "",
        _doc(mqlite.testing),
        "",
        *_section(mqlite.testing, "mqlite.testing."),
    ]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    (ROOT / "docs" / "api.md").write_text(render())
    print("wrote docs/api.md")
