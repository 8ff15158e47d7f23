"""Report periods: ``--since``/``--until`` values and the half-open interval they make.

People ask for "the last 7 days" far more often than for a date, so a WHEN is either an ISO-8601
date or date-time (naive ones are UTC: the database keeps UTC and a report must not depend on the
server's zone) or a span back from now (``30m``, ``24h``, ``7d``, ``2w``), or ``now``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.durations import parse_duration

DEFAULT_SPAN = timedelta(days=7)
_SPAN = re.compile(r"^\d+(?:\.\d+)?(?:s|m|h|d|w)$")


class PeriodError(ValueError):
    """A WHEN or a period that cannot be used; the message names the accepted forms."""


@dataclass(frozen=True, slots=True)
class Period:
    """The half-open interval ``[since, until)`` of aware UTC instants."""

    since: datetime
    until: datetime

    def as_json(self) -> dict[str, str]:
        return {"since": _iso(self.since), "until": _iso(self.until)}


def parse_when(text: str, now: datetime) -> datetime:
    """An aware UTC instant from ``2026-11-01``, ``2026-11-01T09:30``, ``7d``, ``24h`` or ``now``.

    Raises:
        PeriodError: naming the accepted forms.
    """
    value = text.strip()
    if value.lower() == "now":
        return now
    if _SPAN.match(value):
        return now - parse_duration(value)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise PeriodError(
            f"{text!r} is not a date (2026-11-01), a date-time (2026-11-01T09:30), "
            "a span (30m, 24h, 7d, 2w) or now"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_period(since: str | None, until: str | None, now: datetime) -> Period:
    """The period of ``--since``/``--until``; by default the last 7 days up to now."""
    end = parse_when(until, now) if until else now
    start = parse_when(since, now) if since else end - DEFAULT_SPAN
    if start >= end:
        raise PeriodError(
            f"the period is empty: since {_iso(start)} is not before until {_iso(end)}"
        )
    return Period(start, end)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
