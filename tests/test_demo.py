"""The demo runs end to end and accounts for every event."""

from __future__ import annotations

import pytest

from mqlite.demo import main, run


@pytest.mark.parametrize("manual", [False, True])
def test_demo_accounts_for_every_event(manual: bool, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(events=300, workers=2, manual=manual) == 0
    out = capsys.readouterr().out
    assert "every event accounted for" in out
    assert "redrove 1 message" in out


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--events", "100", "--workers", "2"]) == 0
    assert "summary: 100 events" in capsys.readouterr().out
