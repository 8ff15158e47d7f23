"""What the customer is told when handed to a person: the notice, the wait, when someone is back.

The wording lives in ``config/carebot.yml`` (``texts:``) so that every language, weekday names
included, is the operator's to write; this module only picks the texts and fills them in. The
times are the business's (the forecast's ``next_opening`` carries its zone), never the server's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.interfaces import HandoffForecast
from bot.settings import Behaviour

# Waits up to this many minutes are told in minutes, longer ones in hours.
MINUTES_UP_TO = 90


def handoff_notice(
    behaviour: Behaviour,
    language: str,
    base_key: str,
    forecast: HandoffForecast | None,
    now: datetime,
) -> str:
    """The ``base_key`` notice, followed by when someone is back or, if the queue is long, the
    expected wait. Without a forecast (none wired, or it failed) it is the plain notice."""
    parts = [behaviour.text(base_key, language)]
    if forecast is None:
        return parts[0]
    if not forecast.open_now:
        if forecast.next_opening is not None:
            when = describe_return(behaviour, language, forecast.next_opening, now)
            parts.append(behaviour.text("handoff_closed", language, when=when))
    elif forecast.waiting >= behaviour.handoff.queue.long_queue:
        if forecast.waiting > 0:
            parts.append(behaviour.text("handoff_queue", language, waiting=forecast.waiting))
        if forecast.expected_wait is not None:
            wait = describe_wait(behaviour, language, forecast.expected_wait)
            parts.append(behaviour.text("handoff_expected_wait", language, wait=wait))
    return " ".join(parts)


def describe_wait(behaviour: Behaviour, language: str, wait: timedelta) -> str:
    """``about 5 minutes`` / ``circa 2 ore``: rounded as a person would say it.

    Never under two minutes (an estimate is not a promise) nor "1 hours": from 90 minutes on it is
    told in whole hours, from two.
    """
    minutes = max(2, round(wait.total_seconds() / 60))
    if minutes > 15:
        minutes = 5 * round(minutes / 5)
    if minutes <= MINUTES_UP_TO:
        return behaviour.text("wait_minutes", language, minutes=minutes)
    return behaviour.text("wait_hours", language, hours=max(2, round(minutes / 60)))


def describe_return(behaviour: Behaviour, language: str, back: datetime, now: datetime) -> str:
    """``today at 14:00``, ``tomorrow at 09:00``, ``Monday at 09:00`` or ``Monday 29/12 at 09:00``
    (a week or more ahead), in ``back``'s time zone."""
    today = now.astimezone(back.tzinfo).date()
    days = (back.date() - today).days
    time = f"{back:%H:%M}"
    if days <= 0:
        return behaviour.text("back_today", language, time=time)
    if days == 1:
        return behaviour.text("back_tomorrow", language, time=time)
    day = weekday_name(behaviour, language, back.weekday())
    if days < 7:
        return behaviour.text("back_on_day", language, day=day, time=time)
    return behaviour.text("back_on_date", language, day=day, date=f"{back:%d/%m}", time=time)


def weekday_name(behaviour: Behaviour, language: str, weekday: int) -> str:
    """The configured name of ``weekday`` (0 is Monday) in ``language``."""
    names = [name.strip() for name in behaviour.text("weekdays", language).split(",")]
    return names[weekday]
