"""The benchmark runner prints by default and writes the tracked docs only with --write."""

from __future__ import annotations

import importlib.util
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


def test_only_with_write_replaces_just_that_section(
    tiny_suite: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = ModuleType("benchmarks.other_part")
    other.run = lambda quick: {"ops": 2}  # type: ignore[attr-defined]
    other.report = lambda figures: f"other {figures['ops']}"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks.other_part", other)
    monkeypatch.setattr(run, "PARTS", [("fake_part", "Fake part"), ("other_part", "Other part")])
    page = tiny_suite / "performance-results.md"
    page.write_text(
        "# Performance\n\nhead\n\n## Fake part\n\n```\nold fake\n```\n\n"
        "## Other part\n\n```\nold other\n```\n"
    )
    run.main(["--quick", "--write", "--only", "other_part"])
    assert "other 2" in capsys.readouterr().out
    text = page.read_text()
    # The fake part did not run: its section and the head are as they were.
    assert text.startswith("# Performance\n\nhead\n\n## Fake part\n\n```\nold fake\n```\n\n")
    assert "old other" not in text
    assert text.endswith("```\nother 2\n```\n")
    assert "`python -m benchmarks --only other_part --quick` on" in text
    assert sorted(p.name for p in tiny_suite.iterdir()) == ["performance-results.md"]


def test_only_appends_a_section_the_page_lacks(tiny_suite: Path) -> None:
    page = tiny_suite / "performance-results.md"
    page.write_text("# Performance\n\n## Something else\n\n```\nkept\n```\n")
    run.main(["--quick", "--write", "--only", "fake_part"])
    text = page.read_text()
    assert text.startswith("# Performance\n\n## Something else\n\n```\nkept\n```\n\n## Fake part\n")
    assert text.endswith("```\nops 1\n```\n")


def test_bench_durable_runs_and_reports_every_comparison() -> None:
    # Tiny sizes: this checks the bench runs end to end and reports every ratio, not speed.
    from benchmarks import bench_durable

    tiny = bench_durable.Sizes(n=20, n_power=10, rounds=1, per_thread=5, reopen=50)
    figures = bench_durable.run(sizes=tiny)
    # The peers come with the bench extra; the test extra alone measures mqlite and sqlite3.
    peers = {
        name
        for name, module in (("persist-queue", "persistqueue"), ("litequeue", "litequeue"))
        if importlib.util.find_spec(module) is not None
    }
    expected = {
        "bare crash",
        "bare crash shared",
        "send crash",
        "send memory",
        "bare power",
        "send power",
        "bare batch",
        "send_batch",
        "send_batch memory",
        "cycle crash",
        "cycle power",
    } | peers
    # persist-queue at crash's settings needs its connections where it keeps them today;
    # the case is left out, not failed, when a release moves them.
    assert expected <= set(figures["ns"]) <= expected | {"persist-queue normal"}
    assert figures["reopen"]["messages"] == 50
    assert set(figures["bare threads"]) == {"one", "many"}
    table = bench_durable.report(figures)
    targets = ["<= 1.5x", "<= 2x", ">= 4x", "what the runtime allows", "reopen a file of 50"]
    targets += [{"persist-queue": ">= 10x", "litequeue": "> 1x"}[peer] for peer in sorted(peers)]
    for target in targets:
        assert target in table, table
