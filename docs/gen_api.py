"""Write ``docs/api.md``, the API reference, from the docstrings of ``mqlite.__all__``.

Run ``python docs/gen_api.py``; ``tests/test_docs.py`` fails when the file is stale.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mqlite  # noqa: E402


def _doc(obj: object) -> str:
    return inspect.cleandoc(inspect.getdoc(obj) or "(no docstring)")


def _signature(obj: object) -> str:
    try:
        return str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "(...)"


def render() -> str:
    """The whole reference as Markdown."""
    out = [
        "# API reference",
        "",
        "Generated from the docstrings by `python docs/gen_api.py`. Everything here is",
        "importable from `mqlite`; nothing else is public.",
        "",
    ]
    for name in sorted(mqlite.__all__):
        obj = getattr(mqlite, name)
        if inspect.isclass(obj):
            out += [f"## `{name}{_signature(obj)}`", "", _doc(obj), ""]
            for attr, member in sorted(vars(obj).items()):
                if attr.startswith("_"):
                    continue
                if isinstance(member, property):
                    out += [f"### `{name}.{attr}` (property)", "", _doc(member), ""]
                elif inspect.isfunction(member) or isinstance(member, classmethod | staticmethod):
                    wrapped = isinstance(member, classmethod | staticmethod)
                    fn = member.__func__ if wrapped else member
                    out += [f"### `{name}.{attr}{_signature(fn)}`", "", _doc(fn), ""]
        elif callable(obj):
            out += [f"## `{name}{_signature(obj)}`", "", _doc(obj), ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    (ROOT / "docs" / "api.md").write_text(render())
    print("wrote docs/api.md")
