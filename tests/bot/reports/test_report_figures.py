"""Every figure of ``carebot report --format json`` on the conversation set of conversation_set.py,
against numbers computed by hand, through the real entry point, on SQLite and PostgreSQL.

Percentiles interpolate linearly: the p of n sorted values sits at position 1 + p(n-1).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.cli import main
from bot.storage.database import Database
from tests.bot.reports.conversation_set import load_conversation_set, whole_seconds_now

pytestmark = pytest.mark.timeout(120)
_S = timedelta(seconds=1)


async def report(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("CAREBOT_DATABASE_URL", url)
    code = await asyncio.to_thread(main, ["report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
async def loaded(database: Database) -> dict[str, Any]:
    now = whole_seconds_now()
    ids = await load_conversation_set(database, now)
    return {"now": now, **ids}


async def test_every_figure_equals_the_hand_computation(
    database_url: str,
    loaded: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = await report(
        capsys, monkeypatch, database_url, "--since", "3d", "--format", "json"
    )
    assert code == 0, err
    figures = json.loads(out)
    assert list(figures)[:3] == ["period", "filters", "response_window_s"]
    assert figures["response_window_s"] == 86400.0
    # Turns started in the last 3 days: c1 2, c2 3 ("/human"+"hello?" is one turn), c3 1,
    # c4 1 (its "hello?" is younger than 24 h and unanswered: left out), c5 1, c6 1 = 9.
    assert figures["turns"] == 9
    # All but c3's, never answered: 8.  8 / 9 = 0.88888...
    assert figures["answered_turns"] == 8
    assert figures["response_rate"] == 0.8889
    # bot: c1 12 s (burst: from "hi"), 3 s; c2 1 s; c4 4 s; c5 20 s -> [1, 3, 4, 12, 20]
    #   mean 40/5 = 8; p50 at 3 -> 4; p90 at 4.6 -> 12 + 0.6 * (20 - 12) = 16.8
    # agent: c2 180 s (not the notice at 1 s), 60 s; c6 600 s -> [60, 180, 600]
    #   mean 840/3 = 280; p50 at 2 -> 180; p90 at 2.8 -> 180 + 0.8 * 420 = 516
    # all: [1, 3, 4, 12, 20, 60, 180, 600] mean 880/8 = 110; p50 at 4.5 -> 12 + 0.5 * 8 = 16;
    #   p90 at 7.3 -> 180 + 0.3 * 420 = 306
    assert figures["response_time_s"] == {
        "bot": {"mean": 8.0, "p50": 4.0, "p90": 16.8},
        "agent": {"mean": 280.0, "p50": 180.0, "p90": 516.0},
        "all": {"mean": 110.0, "p50": 16.0, "p90": 306.0},
    }
    # First turns: c1 12 (bot), c2 180 (agent), c3 unanswered, c4 4 (bot), c5 20 (bot),
    # c6 600 (agent). bot [4, 12, 20]: mean 12, p50 12, p90 at 2.8 -> 12 + 0.8 * 8 = 18.4;
    # agent [180, 600]: mean 390, p50 at 1.5 -> 390, p90 at 1.9 -> 180 + 0.9 * 420 = 558;
    # all [4, 12, 20, 180, 600]: mean 816/5 = 163.2, p50 20, p90 at 4.6 -> 180 + 0.6 * 420 = 432
    assert figures["first_response_time_s"] == {
        "bot": {"mean": 12.0, "p50": 12.0, "p90": 18.4},
        "agent": {"mean": 390.0, "p50": 390.0, "p90": 558.0},
        "all": {"mean": 163.2, "p50": 20.0, "p90": 432.0},
    }
    # c2 (3 minutes) and c6 (10 minutes): [180, 600]
    assert figures["handoffs"] == 2
    assert figures["handoff_wait_s"] == {"mean": 390.0, "p50": 390.0, "p90": 558.0}
    # Closed in the period: c1 and c5 without a handoff, c2 with one: 2/3 (c0 closed 5 days ago)
    assert figures["conversations_closed"] == 3
    assert figures["containment_rate"] == 0.6667
    # Ratings 5 (thumbs up), 4, 3, 2, 1, 1 (thumbs down), 5: 3 of 7 are 4 or 5 = 0.42857...
    assert figures["ratings"] == 7
    assert figures["csat"] == 0.4286
    # ... and c3's comment
    assert figures["feedback_count"] == 8

    by_channel = {row["channel"]: row for row in figures["by_channel"]}
    # telegram: c2 3 + c3 1 + c6 1 turns, c3's unanswered; times [1, 60, 180, 600]:
    # mean 841/4 = 210.25, p50 at 2.5 -> 120, p90 at 3.7 -> 180 + 0.7 * 420 = 474;
    # ratings 4, 3, 5 -> 2/3; closed: c2, handed off
    assert by_channel["telegram"] == {
        "channel": "telegram",
        "turns": 5,
        "answered_turns": 4,
        "response_rate": 0.8,
        "handoffs": 2,
        "handoff_wait_s": {"mean": 390.0, "p50": 390.0, "p90": 558.0},
        "csat": 0.6667,
        "ratings": 3,
        "response_time_s": {"mean": 210.25, "p50": 120.0, "p90": 474.0},
        "conversations_closed": 1,
        "containment_rate": 0.0,
    }
    # web: c1 2 + c4 1 + c5 1, all answered; [3, 4, 12, 20]: mean 9.75, p50 8, p90 at 3.7 ->
    # 12 + 0.7 * 8 = 17.6; ratings 5, 2, 1, 1 -> 1/4; closed c1, c5 without a handoff
    assert by_channel["web"] == {
        "channel": "web",
        "turns": 4,
        "answered_turns": 4,
        "response_rate": 1.0,
        "handoffs": 0,
        "handoff_wait_s": {"mean": None, "p50": None, "p90": None},
        "csat": 0.25,
        "ratings": 4,
        "response_time_s": {"mean": 9.75, "p50": 8.0, "p90": 17.6},
        "conversations_closed": 2,
        "containment_rate": 1.0,
    }
    # giulia answered c2's two agent turns and c6's: [60, 180, 600]; rated 4 and 5
    assert figures["by_agent"] == [
        {
            "agent_id": loaded["agent"],
            "username": "giulia",
            "answered_turns": 3,
            "response_time_s": {"mean": 280.0, "p50": 180.0, "p90": 516.0},
            "handoffs": 2,
            "handoff_wait_s": {"mean": 390.0, "p50": 390.0, "p90": 558.0},
            "csat": 1.0,
            "ratings": 2,
        }
    ]


async def test_channel_filter(
    database_url: str,
    loaded: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = await report(
        capsys, monkeypatch, database_url, "--since", "3d", "--channel", "web", "--format", "json"
    )
    assert code == 0, err
    figures = json.loads(out)
    assert figures["filters"]["channel"] == "web"
    # The web row above: 4 turns, [3, 4, 12, 20]; no handoff; 2 of 2 closings contained
    assert (figures["turns"], figures["answered_turns"], figures["handoffs"]) == (4, 4, 0)
    assert figures["response_time_s"]["agent"] == {"mean": None, "p50": None, "p90": None}
    assert figures["response_time_s"]["all"] == {"mean": 9.75, "p50": 8.0, "p90": 17.6}
    assert figures["containment_rate"] == 1.0
    assert (figures["csat"], figures["feedback_count"]) == (0.25, 4)


async def test_period_bounds_and_an_empty_period(
    database_url: str,
    loaded: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now: datetime = loaded["now"]
    # Only c0, five days ago: its one turn, answered by the bot after 7 s, and its closing.
    since = (now - 6 * 86400 * _S).isoformat()
    until = (now - 4 * 86400 * _S).isoformat()
    code, out, err = await report(
        capsys, monkeypatch, database_url, "--since", since, "--until", until, "--format", "json"
    )
    assert code == 0, err
    figures = json.loads(out)
    assert (figures["turns"], figures["answered_turns"]) == (1, 1)
    assert figures["response_time_s"]["bot"] == {"mean": 7.0, "p50": 7.0, "p90": 7.0}
    assert figures["containment_rate"] == 1.0
    # Nothing at all in the last minute: zeros and nulls, never an error.
    code, out, err = await report(
        capsys, monkeypatch, database_url, "--since", "1m", "--format", "json"
    )
    assert code == 0, err
    empty = json.loads(out)
    assert (empty["turns"], empty["handoffs"], empty["feedback_count"]) == (0, 0, 0)
    for key in ("response_rate", "containment_rate", "csat"):
        assert empty[key] is None
    assert empty["response_time_s"]["all"] == {"mean": None, "p50": None, "p90": None}
