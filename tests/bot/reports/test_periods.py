"""WHEN values of ``--since``/``--until`` and the periods they make."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.reports.periods import DEFAULT_SPAN, Period, PeriodError, parse_period, parse_when

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("30m", NOW - timedelta(minutes=30)),
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("1.5h", NOW - timedelta(minutes=90)),
        (" 7d ", NOW - timedelta(days=7)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T09:30", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),  # naive is UTC
        ("2026-11-01 09:30", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
        ("2026-11-01T09:30:00Z", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
        ("2026-11-01T10:30:00+01:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_when_forms(text: str, expected: datetime) -> None:
    moment = parse_when(text, NOW)
    assert moment == expected
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "7 days", "2026-13-01", "-7d", "7y", ""])
def test_bad_when_names_the_accepted_forms(text: str) -> None:
    with pytest.raises(PeriodError, match=r"is not a date .* or now"):
        parse_when(text, NOW)


def test_default_period_is_the_last_seven_days() -> None:
    assert parse_period(None, None, NOW) == Period(NOW - DEFAULT_SPAN, NOW)
    assert parse_period("2026-11-01", "2026-11-02", NOW) == Period(
        datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    )
    # --until alone: the seven days before it
    until = datetime(2026, 11, 10, tzinfo=UTC)
    assert parse_period(None, "2026-11-10", NOW) == Period(until - DEFAULT_SPAN, until)


@pytest.mark.parametrize(("since", "until"), [("now", None), ("2026-11-02", "2026-11-01")])
def test_an_empty_period_is_refused(since: str, until: str | None) -> None:
    with pytest.raises(PeriodError, match="the period is empty"):
        parse_period(since, until, NOW)


def test_period_json_is_utc_with_z() -> None:
    period = parse_period("2026-11-01T10:30:00+01:00", "2026-11-02", NOW)
    assert period.as_json() == {"since": "2026-11-01T09:30:00Z", "until": "2026-11-02T00:00:00Z"}
