"""``carebot report``: CSV and table output of the hand-computed conversation set, and bad input
as one line on stderr with exit code 2."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.storage.database import Database
from tests.bot.reports.conversation_set import load_conversation_set, whole_seconds_now

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


async def run_report(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, *args: str
) -> str:
    monkeypatch.setenv("CAREBOT_DATABASE_URL", url)
    code = await asyncio.to_thread(main, ["report", "--since", "3d", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


async def test_csv_has_one_row_per_figure(
    database: Database,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await load_conversation_set(database, whole_seconds_now())
    out = await run_report(capsys, monkeypatch, database_url, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["figure", "value"]
    values = dict(rows[1:])
    assert len(values) == len(rows) - 1  # every name once
    # The figures of test_report_figures.py, flattened; no data is an empty cell.
    assert values["turns"] == "9"
    assert values["response_rate"] == "0.8889"
    assert values["response_time_s.bot.p90"] == "16.8"
    assert values["first_response_time_s.all.mean"] == "163.2"
    assert values["handoff_wait_s.p50"] == "390.0"
    assert values["filters.channel"] == ""
    assert values["channel.web.response_time_s.p50"] == "8.0"
    assert values["channel.telegram.turns"] == "5"
    assert values["channel.web.handoff_wait_s.mean"] == ""
    agent = next(
        name for name in values if name.startswith("agent.") and name.endswith(".username")
    )
    assert values[agent] == "giulia"


async def test_table_shows_the_figures(
    database: Database,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await load_conversation_set(database, whole_seconds_now())
    out = await run_report(capsys, monkeypatch, database_url)
    assert out.startswith("carebot report ")
    assert "Traceback" not in out
    for label, value in (
        ("turns", "9"),
        ("answered turns", "8"),
        ("response rate", "88.9%"),
        ("CSAT", "42.9%"),
    ):
        line = next((line for line in out.splitlines() if f" {label} " in line), None)
        assert line is not None, (label, out)
        assert value in line, (label, line)
    assert "giulia" in out
    assert "telegram" in out


def carebot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")} | env
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "yesterday"], "is not a date"),
        (["--until", "2026-13-40"], "is not a date"),
        (["--since", "now"], "the period is empty"),
        (["--since", "2026-11-02", "--until", "2026-11-01"], "the period is empty"),
        (["--language", "xx"], "language 'xx'"),
        (["--channel", "fax"], "fax"),
        (["--format", "xml"], "xml"),
        (["--agent", "giulia"], "giulia"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], says: str, sqlite_url: str) -> None:
    result = carebot("report", *args, env={"CAREBOT_DATABASE_URL": sqlite_url})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("carebot")
    assert says in lines[0]
    assert result.stdout == ""
