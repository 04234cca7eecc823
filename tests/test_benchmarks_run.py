"""The benchmark runner prints by default and writes the tracked docs only with --write."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from benchmarks import run


@pytest.fixture
def tiny_suite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    # One fake part with a fixed table, so the runner's file handling is tested without
    # running a real benchmark; writes go to a temporary docs directory.
    fake = ModuleType("benchmarks.fake_part")
    calls: list[bool] = []

    def part_run(quick: bool) -> dict[str, Any]:
        calls.append(quick)
        return {"ops": 1}

    fake.run = part_run  # type: ignore[attr-defined]
    fake.report = lambda figures: f"ops {figures['ops']}"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks.fake_part", fake)
    monkeypatch.setattr(run, "PARTS", [("fake_part", "Fake part")])
    monkeypatch.setattr(run, "DOCS", tmp_path)
    return tmp_path


def test_a_plain_run_prints_and_writes_nothing(
    tiny_suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run.main(["--quick"])
    assert "ops 1" in capsys.readouterr().out
    assert list(tiny_suite.iterdir()) == []


def test_write_writes_the_results_page(
    tiny_suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run.main(["--quick", "--write"])
    page = (tiny_suite / "performance-results.md").read_text()
    assert "## Fake part" in page
    assert "ops 1" in page
    assert "wrote docs/performance-results.md" in capsys.readouterr().out
