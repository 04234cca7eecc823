"""The demo runs end to end and accounts for every event; its live view renders plainly."""

from __future__ import annotations

import io

import pytest

from mqlite import demo
from mqlite.demo import HEADERS, LiveView, Row, main, render_table, run

ROWS = [
    Row("thumbnails", 32_031, 16_744, 9, 0, 15_278, 1),
    Row("audit", 100_000, 85_571, 0, 0, 14_429, None),
    Row("cost-control", 5_496, None, None, None, 5_496, None),
]


def _column_ends(header: str) -> list[int]:
    """Where each header ends (the right edge numbers align to)."""
    ends = []
    for name in HEADERS:
        start = header.index(name)
        ends.append(start + len(name))
    return ends


@pytest.mark.parametrize("manual", [False, True])
def test_demo_accounts_for_every_event(manual: bool, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(events=300, workers=2, manual=manual) == 0
    out = capsys.readouterr().out
    assert "every event accounted for" in out
    assert "redrove 1 message" in out


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    # On the manual clock: the run on the system clock is test_demo_accounts_for_every_event's.
    assert main(["demo", "--events", "100", "--workers", "2", "--manual-clock"]) == 0
    assert "summary: 100 events" in capsys.readouterr().out


def test_command_line_refuses_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--events", "0"])
    assert "at least 1" in capsys.readouterr().err


# --- render_table ----------------------------------------------------------------------------


def test_table_columns_align() -> None:
    lines = render_table(ROWS, elapsed=2.0, published=100_000, total=100_000, processed=14_429)
    header, *rows, footer = lines
    assert header.startswith("  subscriber  ")
    assert all(name in header for name in HEADERS)
    assert len(rows) == len(ROWS)
    assert len({len(line) for line in [header, *rows]}) == 1  # one width for every line
    ends = _column_ends(header)
    for line, row in zip(rows, ROWS, strict=True):
        # Names are left-aligned under the first header ...
        assert line.startswith("  " + row.name + " ")
        # ... and every number ends exactly where its header ends.
        for end in ends[1:]:
            assert not line[end - 1].isspace()
            assert end == len(line) or line[end].isspace()
    assert footer.startswith("  elapsed ")


def test_table_shows_the_numbers() -> None:
    _, thumbs, audit, cost, footer = render_table(
        ROWS, elapsed=2.0, published=50_000, total=100_000, processed=14_429
    )
    assert thumbs.split() == ["thumbnails", "32,031", "16,744", "9", "0", "15,278", "1"]
    assert audit.split() == ["audit", "100,000", "85,571", "0", "0", "14,429", "-"]
    assert cost.split() == ["cost-control", "5,496", "-", "-", "-", "5,496", "-"]
    assert (
        footer == "  elapsed 2.0 s · published 50,000/100,000 (avg 25,000/s) · handled avg 7,214/s"
    )


def test_table_at_time_zero_and_without_rows() -> None:
    lines = render_table([], elapsed=0.0, published=0, total=10, processed=0)
    assert lines[0].split()[0] == "subscriber"
    assert lines[-1] == "  elapsed 0.0 s · published 0/10 (avg 0/s) · handled avg 0/s"


def test_table_has_no_ansi_codes() -> None:
    lines = render_table(ROWS, elapsed=1.0, published=1, total=1, processed=1)
    assert not any("\x1b" in line or "\n" in line or "\r" in line for line in lines)


# --- LiveView ----------------------------------------------------------------------------------


def test_view_not_a_tty_prints_plain_frames() -> None:
    out = io.StringIO()
    view = LiveView(out, tty=False)
    view.draw(["a", "b"], now=0.0)
    view.note("something happened")
    view.draw(["c", "d"], now=1.0)
    assert out.getvalue() == "a\nb\nsomething happened\n\nc\nd\n"
    assert view.frames == 2


def test_view_pacing_uses_the_time_it_is_given() -> None:
    view = LiveView(io.StringIO(), tty=False)
    assert view.interval == 1.0
    assert view.due(100.0)  # the first frame is always due
    view.draw(["x"], now=100.0)
    assert not view.due(100.5)
    assert view.due(101.0)
    assert LiveView(io.StringIO(), tty=True).interval == 0.2
    assert LiveView(io.StringIO(), tty=True, interval=0.5).interval == 0.5


def test_view_on_a_tty_redraws_in_place() -> None:
    out = io.StringIO()
    view = LiveView(out, tty=True)
    view.draw(["one", "two", "three"], now=0.0)
    assert out.getvalue() == "one\ntwo\nthree\n"  # nothing to erase yet
    out.seek(0)
    out.truncate()
    view.draw(["uno", "dos", "tres"], now=1.0)
    assert out.getvalue() == "\x1b[3A\r\x1b[Juno\ndos\ntres\n"
    out.seek(0)
    out.truncate()
    view.note("a note")  # above the frame, which is drawn again below it
    assert out.getvalue() == "\x1b[3A\r\x1b[Ja note\nuno\ndos\ntres\n"


def test_view_on_a_tty_cuts_lines_to_the_width() -> None:
    out = io.StringIO()
    view = LiveView(out, tty=True, width=6)
    view.draw(["0123456789", "ab"], now=0.0)
    assert out.getvalue() == "01234\nab\n"


# --- a whole run, not on a terminal --------------------------------------------------------------


def test_run_not_on_a_tty_prints_table_and_final_frame() -> None:
    out = io.StringIO()
    assert run(events=300, workers=2, manual=True, out=out) == 0
    text = out.getvalue()
    assert "\x1b" not in text
    lines = text.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["subscriber", "delivered"])
    frames = [i for i, line in enumerate(lines) if line == header]
    assert 2 <= len(frames) <= 10  # start, end of publishing, about one a second, final
    # The final frame comes right before the summary and shows everything done.
    last = frames[-1]
    thumbs, audit, cost, footer, blank, summary = lines[last + 1 : last + 7]
    assert audit.split()[:6] == ["audit", "300", "0", "0", "0", "300"]
    assert thumbs.split()[2:5] == ["0", "0", "0"]
    assert thumbs.split()[1] == thumbs.split()[5]  # every thumbnail published was made
    assert cost.split()[1] == cost.split()[5]
    assert footer.startswith("  elapsed ")
    assert "published 300/300" in footer
    assert blank == ""
    assert summary.startswith("summary: 300 events")
    assert lines[-1] == "every event accounted for"


def test_run_forced_tty_uses_ansi(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert run(events=100, workers=2, manual=True, out=out, tty=True) == 0
    assert "\x1b[5A\r\x1b[J" in out.getvalue()
    assert capsys.readouterr().out == ""  # everything went to *out*


def test_demo_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "(default: 2000)" in out
    assert "(default: 4)" in out


def test_summary_counts_use_plurals_and_separators() -> None:
    assert demo._times(1) == "1 time"
    assert demo._times(2) == "2 times"
    assert demo._times(1_500) == "1,500 times"


def test_run_shows_the_poison_message_in_the_dlq_column() -> None:
    out = io.StringIO()
    assert run(events=300, workers=2, manual=True, out=out) == 0
    lines = out.getvalue().splitlines()
    dlq_cells = [
        line.split()[6]
        for line in lines
        if line.split()[:1] == ["thumbnails"] and len(line.split()) == 7
    ]
    assert "1" in dlq_cells
