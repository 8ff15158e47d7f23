"""When people are at work: a weekly schedule in the business's time zone, with holidays.

A customer handed off at night should be told when someone will be back, in the time the business
keeps, whatever the server's clock or the customer's zone. The schedule is pure (no clock, no I/O):
callers pass the instant they ask about, so DST changes, overnight shifts and closed days are tested
with plain values.

Opening hours are written per weekday as ``"09:00-18:00"``, several ranges separated by commas
(``"09:00-13:00, 14:00-18:00"``), ``"closed"`` (or nothing) for a closed day. A range that ends
before it starts runs overnight (``"22:00-02:00"``) and belongs to the day it starts on, so a
holiday closes the ranges starting that day and not a night shift that began the day before.
Times are wall-clock times in the zone; the instants are computed per date, so a shift is as long as
the clocks say it is on a DST change day (a start in the spring-forward gap opens an hour later).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOSED = "closed"
# How far ahead the next opening is looked for; a schedule closed longer than this never reopens.
HORIZON_DAYS = 400

_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_YEARLY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class OpeningRange:
    """One range of a day: from ``start`` for ``length`` of wall-clock time (overnight allowed)."""

    start: time
    length: timedelta

    def instants(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The aware UTC start and end of this range on ``day``."""
        start_local = datetime.combine(day, self.start, tzinfo=zone)
        end_wall = datetime.combine(day, self.start) + self.length
        end_local = end_wall.replace(tzinfo=zone)
        return start_local.astimezone(UTC), end_local.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """A weekly schedule in one time zone, with dated and yearly holidays.

    Attributes:
        zone: the business's time zone.
        week: the ranges of each weekday, Monday first.
        holidays: dates closed once (``2025-12-26``).
        yearly_holidays: ``(month, day)`` pairs closed every year (``12-25``).
    """

    zone: ZoneInfo
    week: tuple[tuple[OpeningRange, ...], ...]
    holidays: frozenset[date] = frozenset()
    yearly_holidays: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def parse(
        cls, timezone: str, days: Mapping[str, str | None], holidays: Iterable[str] = ()
    ) -> BusinessHours:
        """Build a schedule from its configuration; a ValueError names the wrong entry."""
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {timezone!r}") from None
        unknown = sorted(set(days) - set(WEEKDAYS))
        if unknown:
            raise ValueError(f"unknown day {unknown[0]!r}; use {', '.join(WEEKDAYS)}")
        week = tuple(parse_day(name, days.get(name)) for name in WEEKDAYS)
        if not any(week):
            raise ValueError("no day has opening hours")
        dated: set[date] = set()
        yearly: set[tuple[int, int]] = set()
        for entry in holidays:
            parsed = parse_holiday(str(entry))
            if isinstance(parsed, date):
                dated.add(parsed)
            else:
                yearly.add(parsed)
        return cls(zone, week, frozenset(dated), frozenset(yearly))

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays or (day.month, day.day) in self.yearly_holidays

    def is_open(self, at: datetime) -> bool:
        """Whether someone is at work at the aware instant ``at``."""
        return any(start <= at < end for start, end in self._ranges_around(at, days_after=0))

    def next_opening(self, at: datetime) -> datetime | None:
        """The first instant at or after ``at`` when the business is open, in its zone.

        ``at`` itself when open now; None when the schedule never opens within the horizon.
        """
        for start, end in self._ranges_around(at, days_after=HORIZON_DAYS):
            if end <= at:
                continue
            return max(start, at).astimezone(self.zone)
        return None

    def _ranges_around(
        self, at: datetime, *, days_after: int
    ) -> Iterator[tuple[datetime, datetime]]:
        """The ranges starting from the day before ``at``'s local date on, in order of start."""
        if at.tzinfo is None:
            raise ValueError("business hours need an aware datetime")
        first = at.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(days_after + 2):
            day = first + timedelta(days=offset)
            if self.is_holiday(day):
                continue
            ranges = sorted(self.week[day.weekday()], key=lambda r: r.start)
            for opening in ranges:
                yield opening.instants(day, self.zone)


def parse_day(name: str, spec: str | None) -> tuple[OpeningRange, ...]:
    """``"09:00-13:00, 14:00-18:00"`` → two ranges; ``"closed"`` or nothing → none."""
    if spec is None or not str(spec).strip() or str(spec).strip().casefold() == CLOSED:
        return ()
    ranges = []
    for part in str(spec).split(","):
        match = _RANGE.match(part.strip())
        if not match:
            raise ValueError(f"{name}: {part.strip()!r} is not a range like 09:00-18:00 or closed")
        start = _minutes(name, int(match[1]), int(match[2]), allow_end_of_day=False)
        end = _minutes(name, int(match[3]), int(match[4]), allow_end_of_day=True)
        if start == end:
            raise ValueError(f"{name}: {part.strip()!r} opens and closes at the same time")
        length = end - start if end > start else end + 24 * 60 - start
        ranges.append(OpeningRange(time(start // 60, start % 60), timedelta(minutes=length)))
    return tuple(ranges)


def parse_holiday(entry: str) -> date | tuple[int, int]:
    """``"2025-12-26"`` → that date; ``"12-25"`` → every 25 December."""
    text = entry.strip()
    yearly = _YEARLY.match(text)
    try:
        if yearly:
            month, day = int(yearly[1]), int(yearly[2])
            date(2000, month, day)  # a leap year, so 02-29 is accepted
            return (month, day)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"holidays: {entry!r} is not YYYY-MM-DD or MM-DD") from None


def _minutes(name: str, hours: int, minutes: int, *, allow_end_of_day: bool) -> int:
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_end_of_day)):
        raise ValueError(f"{name}: {hours:02d}:{minutes:02d} is not a time of day")
    return hours * 60 + minutes
