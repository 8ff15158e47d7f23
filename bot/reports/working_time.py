"""Time within business hours between two instants, for ``--business-hours`` reports.

An agent cannot be blamed for the night: with business hours configured, a customer who wrote at
17:55 and was answered at 09:05 the next working day waited ten minutes of working time, not
fifteen hours. Only agent response times (and handoff waits) are measured this way; the bot works
around the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from handoff.business_hours import BusinessHours


def open_seconds(schedule: BusinessHours, start: datetime, end: datetime) -> float:
    """Seconds of ``[start, end)`` during which the business is open (0 if ``end <= start``)."""
    if end <= start:
        return 0.0
    total = 0.0
    # Ranges belong to the day they start on, so an overnight range begun the day before counts.
    day = start.astimezone(schedule.zone).date() - timedelta(days=1)
    last = end.astimezone(schedule.zone).date()
    while day <= last:
        if not schedule.is_holiday(day):
            for opening in schedule.week[day.weekday()]:
                opens, closes = opening.instants(day, schedule.zone)
                overlap = (min(closes, end) - max(opens, start)).total_seconds()
                if overlap > 0:
                    total += overlap
        day += timedelta(days=1)
    return total
