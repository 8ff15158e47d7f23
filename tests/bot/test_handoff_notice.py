"""The handoff notice's wording: expected waits and "back on Monday at 09:00", in each language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.handoff_notice import describe_return, describe_wait, handoff_notice
from bot.interfaces import HandoffForecast
from bot.settings import Behaviour, ConfigError, load_behaviour

ROOT = Path(__file__).resolve().parents[2]
ROME = ZoneInfo("Europe/Rome")
# Friday 6 June 2025, 19:30 in Rome (17:30 UTC).
NOW = datetime(2025, 6, 6, 17, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def behaviour() -> Behaviour:
    return load_behaviour(ROOT / "config" / "carebot.yml")


@pytest.mark.parametrize(
    ("wait", "en", "it"),
    [
        (timedelta(seconds=20), "about 2 minutes", "circa 2 minuti"),
        (timedelta(minutes=5, seconds=20), "about 5 minutes", "circa 5 minuti"),
        (timedelta(minutes=23), "about 25 minutes", "circa 25 minuti"),
        (timedelta(minutes=88), "about 90 minutes", "circa 90 minuti"),
        (timedelta(minutes=100), "about 2 hours", "circa 2 ore"),
        (timedelta(hours=5, minutes=10), "about 5 hours", "circa 5 ore"),
    ],
)
def test_waits_are_rounded_as_people_say_them(
    behaviour: Behaviour, wait: timedelta, en: str, it: str
) -> None:
    assert describe_wait(behaviour, "en", wait) == en
    assert describe_wait(behaviour, "it", wait) == it


@pytest.mark.parametrize(
    ("back", "en", "it"),
    [
        (datetime(2025, 6, 6, 21, 0, tzinfo=ROME), "today at 21:00", "oggi alle 21:00"),
        (datetime(2025, 6, 7, 9, 0, tzinfo=ROME), "tomorrow at 09:00", "domani alle 09:00"),
        (datetime(2025, 6, 9, 9, 0, tzinfo=ROME), "Monday at 09:00", "lunedì alle 09:00"),
        (datetime(2025, 6, 12, 14, 30, tzinfo=ROME), "Thursday at 14:30", "giovedì alle 14:30"),
        (
            datetime(2025, 6, 16, 9, 0, tzinfo=ROME),
            "Monday 16/06 at 09:00",
            "lunedì 16/06 alle 09:00",
        ),
    ],
)
def test_return_time_in_the_customers_language(
    behaviour: Behaviour, back: datetime, en: str, it: str
) -> None:
    assert describe_return(behaviour, "en", back, NOW) == en
    assert describe_return(behaviour, "it", back, NOW) == it


def test_today_and_tomorrow_are_the_business_days_not_utc_ones(behaviour: Behaviour) -> None:
    # 23:30 UTC on Friday is already Saturday 01:30 in Rome: Saturday 09:00 is "today" there.
    late = datetime(2025, 6, 6, 23, 30, tzinfo=UTC)
    back = datetime(2025, 6, 7, 9, 0, tzinfo=ROME)
    assert describe_return(behaviour, "en", back, late) == "today at 09:00"


def test_notice_without_forecast_is_the_plain_text(behaviour: Behaviour) -> None:
    assert handoff_notice(behaviour, "en", "handoff_requested", None, NOW) == behaviour.text(
        "handoff_requested", "en"
    )


def test_long_queue_without_estimate_tells_only_the_queue(behaviour: Behaviour) -> None:
    text = handoff_notice(behaviour, "en", "handoff_requested", HandoffForecast(waiting=7), NOW)
    assert text == (
        behaviour.text("handoff_requested", "en")
        + " There are 7 customers waiting ahead of you right now."
    )


def test_long_queue_threshold_zero_tells_the_wait_even_with_no_queue(
    behaviour: Behaviour,
) -> None:
    queue = behaviour.handoff.queue.model_copy(update={"long_queue": 0})
    always = behaviour.model_copy(
        update={"handoff": behaviour.handoff.model_copy(update={"queue": queue})}
    )
    forecast = HandoffForecast(waiting=0, expected_wait=timedelta(minutes=4))
    text = handoff_notice(always, "it", "handoff_requested", forecast, NOW)
    assert (
        text == behaviour.text("handoff_requested", "it") + " L'attesa stimata è di circa 4 minuti."
    )


def test_closed_without_a_next_opening_is_the_plain_text(behaviour: Behaviour) -> None:
    forecast = HandoffForecast(waiting=0, open_now=False, next_opening=None)
    assert handoff_notice(behaviour, "en", "handoff_requested", forecast, NOW) == behaviour.text(
        "handoff_requested", "en"
    )


# --- the behaviour file's new keys fail with one line ------------------------------------------

SHIPPED = (ROOT / "config" / "carebot.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        (
            "business_hours: {timezone: Europe/Roma, mon: '09:00-18:00'}\n",
            "business_hours: timezone: unknown time zone 'Europe/Roma'",
        ),
        (
            "business_hours: {timezone: Europe/Rome, mon: '9-18'}\n",
            "business_hours: mon: '9-18' is not a range like 09:00-18:00 or closed",
        ),
        (
            "business_hours: {timezone: Europe/Rome, mon: '09:00-18:00', holidays: [xmas]}\n",
            "business_hours: holidays: 'xmas' is not YYYY-MM-DD or MM-DD",
        ),
        ("business_hours: {mon: '09:00-18:00'}\n", "business_hours.timezone: Field required"),
    ],
)
def test_bad_business_hours_are_one_line_errors(
    tmp_path: Path, addition: str, message: str
) -> None:
    path = tmp_path / "carebot.yml"
    path.write_text(SHIPPED + "\n" + addition, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_behaviour(path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_business_hours_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "carebot.yml"
    path.write_text(
        SHIPPED + "\nbusiness_hours:\n  timezone: Europe/Rome\n  mon: 09:00-18:00\n"
        "  sat: closed\n  holidays: ['12-25']\n",
        encoding="utf-8",
    )
    hours = load_behaviour(path).business_hours
    assert hours is not None
    assert hours.schedule().is_open(datetime(2025, 6, 9, 9, 30, tzinfo=ROME))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("keywords_action: handoff", "keywords_action: sometimes", "keywords_action"),
        ("rules: [faq/complaint]", "rules: ['']", "handoff.rules: an empty rule"),
        (
            'en: "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday"',
            'en: "Monday, Tuesday"',
            "texts.weekdays.en: 7 names",
        ),
        ("offer_human_after: 2", "offer_human_after: -1", "fallback.offer_human_after"),
    ],
)
def test_bad_handoff_settings_are_one_line_errors(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in SHIPPED
    path = tmp_path / "carebot.yml"
    path.write_text(SHIPPED.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_behaviour(path)
