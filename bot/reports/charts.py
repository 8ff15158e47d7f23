"""What the dashboard draws: figures per hour or day, and the FAQs that fail customers.

Same definitions as the summary (:mod:`bot.reports.figures`), grouped by the UTC hour or day a turn,
handoff or rating started in (``dim`` of the samples), in one statement.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select, union_all

from bot.reports.distribution import EMPTY, distribution
from bot.reports.figures import _feedback_rows, _handoff_rows, _rate, _sample
from bot.reports.periods import PeriodError
from bot.reports.sql_functions import time_bucket
from bot.reports.turns import ReportScope, const, conversation_clauses, turns_cte
from bot.storage.models import Feedback, Message

MAX_BUCKETS = 2000
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


def bucket_starts(scope: ReportScope, unit: str) -> list[datetime]:
    """Every bucket of the period, empty ones included, so a chart has no gaps."""
    step = _STEP[unit]
    since = scope.period.since.astimezone(UTC)
    first = since.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        first = first.replace(hour=0)
    count = int((scope.period.until - first) / step) + 1
    if count > MAX_BUCKETS:
        raise PeriodError(f"{count} {unit}s are too many buckets (at most {MAX_BUCKETS})")
    starts = [first + i * step for i in range(count)]
    return [start for start in starts if start < scope.period.until]


def timeseries(connection: Connection, scope: ReportScope, unit: str) -> dict[str, Any]:
    """Per bucket: turns, answered, response rate, response time p50/p90, handoffs, CSAT and
    turns per channel."""
    starts = bucket_starts(scope, unit)
    turns = turns_cte(scope)
    t = turns.c
    tb = time_bucket(t.started_at, unit)
    handoffs = _handoff_rows(scope).subquery("handoffs")
    hb = time_bucket(handoffs.c.requested_at, unit)
    feedback = _feedback_rows(scope).subquery("feedback_rows")
    fb = time_bucket(feedback.c.created_at, unit)
    good = case((feedback.c.rating >= 4, const("good")), else_=const("bad"))
    samples = union_all(
        _sample(turns, "turn", tb, t.status, None),
        _sample(turns, "rt", tb, "all", t.rt, t.status == "answered"),
        _sample(turns, "volume", tb, t.channel, None),
        _sample(handoffs, "handoff", hb, "count", None),
        _sample(feedback, "rating", fb, good, None, feedback.c.rating.is_not(None)),
    ).subquery("samples")
    stats = distribution(connection, samples)
    channels = sorted({grp for (metric, _, grp) in stats if metric == "volume"})
    buckets = []
    for start in starts:
        dim = start.strftime("%Y-%m-%dT%H:00:00Z")

        def count(metric: str, grp: str, dim: str = dim) -> int:
            return stats.get((metric, dim, grp), EMPTY).count

        answered, unanswered = count("turn", "answered"), count("turn", "unanswered")
        good_n, bad_n = count("rating", "good"), count("rating", "bad")
        rt = stats.get(("rt", dim, "all"), EMPTY).as_json()
        buckets.append(
            {
                "start": dim,
                "turns": answered + unanswered,
                "answered_turns": answered,
                "response_rate": _rate(answered, answered + unanswered),
                "response_time_p50_s": rt["p50"],
                "response_time_p90_s": rt["p90"],
                "handoffs": count("handoff", "count"),
                "csat": _rate(good_n, good_n + bad_n),
                "ratings": good_n + bad_n,
                "turns_by_channel": {channel: count("volume", channel) for channel in channels},
            }
        )
    return {
        "period": scope.period.as_json(),
        "filters": scope.filters_json(),
        "bucket": unit,
        "channels": channels,
        "buckets": buckets,
    }


def faq_figures(connection: Connection, scope: ReportScope, limit: int = 50) -> dict[str, Any]:
    """Per FAQ: how often customers asked it, its ratings and thumbs; worst rated first.

    "Asked" counts customer messages the NLU matched to the FAQ in the period. ``csat`` is over its
    1-5 ratings and thumbs (thumbs up 5, down 1), ``helpful`` the share of thumbs up alone.
    """
    m, f = Message.__table__.c, Feedback.__table__.c
    asked: dict[str, int] = dict(
        connection.execute(
            select(m.faq_key, func.count())
            .where(
                m.direction == "in",
                m.faq_key.is_not(None),
                m.created_at >= scope.period.since,
                m.created_at < scope.period.until,
                *conversation_clauses(scope, m.conversation_id),
            )
            .group_by(m.faq_key)
        ).all()
    )
    rated = _feedback_rows(scope).where(f.faq_key.is_not(None), f.rating.is_not(None)).subquery()
    ratings: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    query = select(
        rated.c.faq_key,
        rated.c.kind,
        func.count(),
        func.sum(case((rated.c.rating >= 4, 1), else_=0)),
    ).group_by(rated.c.faq_key, rated.c.kind)
    for faq_key, kind, total, good in connection.execute(query):
        ratings[faq_key][kind] = [int(total), int(good or 0)]
    rows: list[dict[str, Any]] = []
    for key in set(asked) | set(ratings):
        kinds = ratings.get(key, {})
        total = sum(pair[0] for pair in kinds.values())
        good = sum(pair[1] for pair in kinds.values())
        helpful_total, helpful_good = kinds.get("helpful", [0, 0])
        rows.append(
            {
                "faq": key,
                "asked": int(asked.get(key, 0)),
                "ratings": total,
                "csat": _rate(good, total),
                "helpful": _rate(helpful_good, helpful_total),
            }
        )
    # Worst first: the lowest CSAT, unrated ones after the rated, the most asked first in a tie.
    rows.sort(key=lambda r: (r["csat"] is None, r["csat"] or 0.0, -int(r["asked"] or 0), r["faq"]))
    return {"period": scope.period.as_json(), "filters": scope.filters_json(), "faqs": rows[:limit]}
