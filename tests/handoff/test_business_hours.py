"""The weekly schedule: open or closed at an instant, and when it opens next, in its own zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handoff.business_hours import BusinessHours, parse_day, parse_holiday

ROME = ZoneInfo("Europe/Rome")
OFFICE = {
    "mon": "09:00-18:00",
    "tue": "09:00-18:00",
    "wed": "09:00-13:00, 14:00-18:00",
    "thu": "09:00-18:00",
    "fri": "09:00-18:00",
    "sat": "closed",
}


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


@pytest.fixture
def office() -> BusinessHours:
    return BusinessHours.parse("Europe/Rome", OFFICE, holidays=["12-25", "2025-12-26"])


def test_open_inside_the_days_range_and_closed_outside(office: BusinessHours) -> None:
    # 2025-06-02 is a Monday.
    assert office.is_open(rome(2025, 6, 2, 9, 0))
    assert office.is_open(rome(2025, 6, 2, 17, 59))
    assert not office.is_open(rome(2025, 6, 2, 18, 0))
    assert not office.is_open(rome(2025, 6, 2, 8, 59))


def test_the_zone_counts_not_the_callers_clock(office: BusinessHours) -> None:
    # 07:30 UTC is 09:30 in Rome in summer.
    assert office.is_open(datetime(2025, 6, 2, 7, 30, tzinfo=UTC))
    assert not office.is_open(datetime(2025, 6, 2, 6, 30, tzinfo=UTC))


def test_lunch_break_reopens_the_same_day(office: BusinessHours) -> None:
    assert not office.is_open(rome(2025, 6, 4, 13, 30))  # Wednesday
    assert office.next_opening(rome(2025, 6, 4, 13, 30)) == rome(2025, 6, 4, 14, 0)


def test_open_now_is_its_own_next_opening(office: BusinessHours) -> None:
    at = rome(2025, 6, 2, 10, 15)
    assert office.next_opening(at) == at


def test_friday_evening_reopens_on_monday_morning(office: BusinessHours) -> None:
    back = office.next_opening(rome(2025, 6, 6, 18, 30))
    assert back == rome(2025, 6, 9, 9, 0)
    assert back is not None and back.tzinfo == ROME


def test_days_not_listed_are_closed(office: BusinessHours) -> None:
    assert not office.is_open(rome(2025, 6, 8, 11, 0))  # a Sunday, absent from the schedule


def test_holidays_yearly_and_dated(office: BusinessHours) -> None:
    # 25 Dec 2025 is a Thursday (yearly holiday), 26 Dec a Friday (dated): back on Monday 29th.
    assert not office.is_open(rome(2025, 12, 25, 10, 0))
    assert office.next_opening(rome(2025, 12, 24, 19, 0)) == rome(2025, 12, 29, 9, 0)
    # The dated holiday is that year's only; 26 Dec 2024 (a Thursday) is a working day.
    assert office.is_open(rome(2024, 12, 26, 10, 0))


def test_overnight_range_runs_into_the_next_day() -> None:
    night = BusinessHours.parse("Europe/Rome", {"fri": "22:00-02:00"})
    assert night.is_open(rome(2025, 6, 6, 23, 0))
    assert night.is_open(rome(2025, 6, 7, 1, 59))  # Saturday, still Friday's shift
    assert not night.is_open(rome(2025, 6, 7, 2, 0))
    assert night.next_opening(rome(2025, 6, 7, 3, 0)) == rome(2025, 6, 13, 22, 0)


def test_holiday_closes_the_shift_starting_that_day_not_the_one_before() -> None:
    night = BusinessHours.parse(
        "Europe/Rome", {"thu": "22:00-02:00", "fri": "22:00-02:00"}, holidays=["2025-06-06"]
    )
    assert night.is_open(rome(2025, 6, 6, 1, 0))  # Thursday's shift, into the holiday
    assert not night.is_open(rome(2025, 6, 6, 23, 0))  # Friday's shift is off


def test_all_day_range() -> None:
    always = BusinessHours.parse("UTC", {"mon": "00:00-24:00", "tue": "00:00-24:00"})
    monday = datetime(2025, 6, 2, tzinfo=UTC)
    assert always.is_open(monday) and always.is_open(monday + timedelta(hours=47, minutes=59))
    assert not always.is_open(monday + timedelta(hours=48))


def test_spring_forward_day_keeps_wall_clock_hours() -> None:
    # 2025-03-30, Sunday: Rome's clocks jump from 02:00 to 03:00.
    sunday = BusinessHours.parse("Europe/Rome", {"sun": "09:00-18:00"})
    assert sunday.next_opening(datetime(2025, 3, 29, 23, 0, tzinfo=UTC)) == rome(2025, 3, 30, 9, 0)
    assert sunday.is_open(datetime(2025, 3, 30, 7, 0, tzinfo=UTC))  # 09:00 CEST
    assert not sunday.is_open(datetime(2025, 3, 30, 7, 59, tzinfo=UTC) - timedelta(hours=1))
    assert not sunday.is_open(datetime(2025, 3, 30, 16, 0, tzinfo=UTC))  # 18:00 CEST


def test_start_in_the_spring_forward_gap_opens_when_the_clocks_get_there() -> None:
    early = BusinessHours.parse("Europe/Rome", {"sun": "02:30-05:00"})
    opening = early.next_opening(datetime(2025, 3, 29, 12, 0, tzinfo=UTC))
    assert opening is not None
    assert opening.astimezone(UTC) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)  # 03:30 CEST


def test_overnight_shift_on_fall_back_night_lasts_an_hour_longer() -> None:
    # 2025-10-26: Rome's clocks go back from 03:00 to 02:00; a 22:00-06:00 shift lasts 9 hours.
    night = BusinessHours.parse("Europe/Rome", {"sat": "22:00-06:00"})
    start = datetime(2025, 10, 25, 20, 0, tzinfo=UTC)  # 22:00 CEST
    assert night.is_open(start)
    assert night.is_open(start + timedelta(hours=8, minutes=59))
    assert not night.is_open(start + timedelta(hours=9))  # 06:00 CET


def test_naive_datetimes_are_refused(office: BusinessHours) -> None:
    with pytest.raises(ValueError, match="aware"):
        office.is_open(datetime(2025, 6, 2, 10, 0))


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ({"mon": "9-18"}, "mon: '9-18' is not a range"),
        ({"mon": "09:00-25:00"}, "mon: 25:00 is not a time of day"),
        ({"mon": "24:00-02:00"}, "mon: 24:00 is not a time of day"),
        ({"mon": "09:00-09:00"}, "opens and closes at the same time"),
        ({"monday": "09:00-18:00"}, "unknown day 'monday'"),
        ({"mon": "closed"}, "no day has opening hours"),
    ],
)
def test_bad_schedules_are_named(days: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessHours.parse("Europe/Rome", days)


def test_unknown_time_zone_is_named() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Roma'"):
        BusinessHours.parse("Europe/Roma", {"mon": "09:00-18:00"})


def test_day_and_holiday_parsing() -> None:
    assert parse_day("mon", None) == parse_day("mon", "Closed") == ()
    assert len(parse_day("wed", "09:00-13:00,14:00-18:00")) == 2
    assert parse_holiday("12-25") == (12, 25)
    assert parse_holiday("2025-08-15") == date(2025, 8, 15)
    with pytest.raises(ValueError, match="holidays: 'Christmas'"):
        parse_holiday("Christmas")
