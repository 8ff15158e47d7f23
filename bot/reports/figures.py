"""The report figures: the summary of ``carebot report`` and ``/api/v1/reports/*``.

Every figure is computed by the database: the summary is one statement whose rows are samples
``(metric, dim, grp, v)`` (turns, response times, handoffs and their waits, ratings, closings) fed
to :func:`bot.reports.distribution.distribution`, so a month of a busy bot costs one pass over its
messages and returns a few dozen rows. Only ``--business-hours`` reads one row per answered turn
(never per message), because working time between two instants needs the schedule.

Rates are rounded to four decimals and seconds to the millisecond; a figure without data is None.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Float,
    Select,
    String,
    case,
    cast,
    exists,
    null,
    select,
    union_all,
)

from bot.reports.distribution import EMPTY, Key, Stats, distribution
from bot.reports.sql_functions import seconds_between
from bot.reports.turns import ReportScope, const, conversation_clauses, turns_cte
from bot.reports.working_time import open_seconds
from bot.storage.models import Agent, Conversation, Feedback, Handoff

T = TypeVar("T")
RESPONDERS = ("bot", "agent", "all")
TIME_METRICS = ("rt", "frt", "wait")
MAX_BUCKETS = 2000


def _none() -> Any:
    return cast(null(), Float)


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _period_of(column: Any, scope: ReportScope) -> list[Any]:
    return [column >= scope.period.since, column < scope.period.until]


def _handoff_rows(scope: ReportScope) -> Select[Any]:
    h, c = Handoff.__table__.c, Conversation.__table__.c
    return (
        select(
            c.channel,
            h.agent_id,
            h.requested_at,
            h.first_agent_message_at,
            seconds_between(h.first_agent_message_at, h.requested_at).label("wait"),
        )
        .select_from(Handoff.__table__.join(Conversation.__table__, c.id == h.conversation_id))
        .where(*_period_of(h.requested_at, scope), *conversation_clauses(scope, h.conversation_id))
    )


def _feedback_rows(scope: ReportScope) -> Select[Any]:
    f = Feedback.__table__.c
    query = select(f.channel, f.agent_id, f.rating, f.kind, f.faq_key, f.created_at).where(
        *_period_of(f.created_at, scope)
    )
    for column, wanted in (
        (f.channel, scope.channel),
        (f.language, scope.language),
        (f.agent_id, scope.agent_id),
        (f.faq_key, scope.faq_key),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    return query


def _closed_rows(scope: ReportScope) -> Select[Any]:
    c, h = Conversation.__table__.c, Handoff.__table__.c
    handed_off = exists().where(h.conversation_id == c.id)
    return select(
        c.channel,
        case((handed_off, const("handed_off")), else_=const("contained")).label("outcome"),
    ).where(*_period_of(c.closed_at, scope), *conversation_clauses(scope, c.id))


def _sample(source: Any, metric: str, dim: Any, grp: Any, v: Any, *where: Any) -> Select[Any]:
    """One branch of the samples UNION: ``(metric, dim, grp, v)`` rows of ``source``."""
    values = [const(metric), dim, grp, _none() if v is None else v]
    values = [const(x) if isinstance(x, str) else x for x in values]
    columns = [value.label(name) for value, name in zip(values, _COLUMNS, strict=True)]
    return select(*columns).select_from(source).where(*where)


_COLUMNS = ("metric", "dim", "grp", "v")


def _summary_samples(scope: ReportScope, *, with_times: bool) -> Any:
    turns = turns_cte(scope)
    t = turns.c
    answered = t.status == "answered"
    by_agent = (answered, t.responder == "agent")
    agent_t = cast(t.reply_agent_id, String)
    parts: list[Select[Any]] = [
        _sample(turns, "turn", "", t.status, None),
        _sample(turns, "turn", t.channel, t.status, None),
        _sample(turns, "agent_turn", agent_t, "agent", t.rt if with_times else None, *by_agent),
    ]
    if with_times:
        for metric, condition in (("rt", (answered,)), ("frt", (answered, t.first == 1))):
            parts += [
                _sample(turns, metric, "", t.responder, t.rt, *condition),
                _sample(turns, metric, "", "all", t.rt, *condition),
            ]
        parts.append(_sample(turns, "rt", t.channel, "all", t.rt, answered))

    handoffs = _handoff_rows(scope).subquery("handoffs")
    h = handoffs.c
    agent_h = cast(h.agent_id, String)
    owned = h.agent_id.is_not(None)
    parts += [
        _sample(handoffs, "handoff", "", "count", None),
        _sample(handoffs, "handoff", h.channel, "count", None),
        _sample(handoffs, "handoff_agent", agent_h, "count", None, owned),
    ]
    if with_times:
        waited = h.first_agent_message_at.is_not(None)
        parts += [
            _sample(handoffs, "wait", "", "all", h.wait, waited),
            _sample(handoffs, "wait", h.channel, "all", h.wait, waited),
            _sample(handoffs, "wait_agent", agent_h, "all", h.wait, waited, owned),
        ]

    feedback = _feedback_rows(scope).subquery("feedback_rows")
    f = feedback.c
    good = case((f.rating >= 4, const("good")), else_=const("bad"))
    rated = f.rating.is_not(None)
    agent_f = cast(f.agent_id, String)
    parts += [
        _sample(feedback, "feedback", "", "count", None),
        _sample(feedback, "rating", "", good, None, rated),
        _sample(feedback, "rating", f.channel, good, None, rated),
        _sample(feedback, "rating_agent", agent_f, good, None, rated, f.agent_id.is_not(None)),
    ]
    closed = _closed_rows(scope).subquery("closed")
    parts += [
        _sample(closed, "closed", "", closed.c.outcome, None),
        _sample(closed, "closed", closed.c.channel, closed.c.outcome, None),
    ]
    return union_all(*parts).subquery("samples")


def _working_time_samples(connection: Connection, scope: ReportScope) -> dict[Key, Stats]:
    """Response times and waits with agents' time counted in business hours only (in Python,
    over one row per answered turn and per handoff)."""
    schedule = scope.business_hours
    assert schedule is not None
    t = turns_cte(scope).c
    samples: dict[Key, list[float]] = defaultdict(list)
    rows = connection.execute(
        select(
            t.responder, t.reply_agent_id, t.first, t.channel, t.started_at, t.replied_at, t.rt
        ).where(t.status == "answered")
    )
    for row in rows:
        value = float(row.rt)
        if row.responder == "agent":
            value = open_seconds(schedule, row.started_at, row.replied_at)
        keys = [("rt", "", row.responder), ("rt", "", "all"), ("rt", row.channel, "all")]
        if row.responder == "agent":
            keys.append(("agent_turn", str(row.reply_agent_id), "agent"))
        if row.first:
            keys += [("frt", "", row.responder), ("frt", "", "all")]
        for key in keys:
            samples[key].append(value)
    handoffs = connection.execute(
        _handoff_rows(scope).where(Handoff.__table__.c.first_agent_message_at.is_not(None))
    )
    for row in handoffs:
        value = open_seconds(schedule, row.requested_at, row.first_agent_message_at)
        samples[("wait", "", "all")].append(value)
        samples[("wait", row.channel, "all")].append(value)
        if row.agent_id is not None:
            samples[("wait_agent", str(row.agent_id), "all")].append(value)
    return {key: Stats.of(values) for key, values in samples.items()}


def summary(connection: Connection, scope: ReportScope) -> dict[str, Any]:
    """The figures of CONTRACT.md section 2 plus per-channel and per-agent breakdowns."""
    working_time = scope.business_hours is not None
    stats = distribution(connection, _summary_samples(scope, with_times=not working_time))
    if working_time:
        stats.update(_working_time_samples(connection, scope))

    def count(metric: str, dim: str, grp: str) -> int:
        return stats.get((metric, dim, grp), EMPTY).count

    def times(metric: str, dim: str = "") -> dict[str, Any]:
        return {grp: stats.get((metric, dim, grp), EMPTY).as_json() for grp in RESPONDERS}

    def figures_of(dim: str) -> dict[str, Any]:
        answered, unanswered = count("turn", dim, "answered"), count("turn", dim, "unanswered")
        good, bad = count("rating", dim, "good"), count("rating", dim, "bad")
        return {
            "turns": answered + unanswered,
            "answered_turns": answered,
            "response_rate": _rate(answered, answered + unanswered),
            "handoffs": count("handoff", dim, "count"),
            "handoff_wait_s": stats.get(("wait", dim, "all"), EMPTY).as_json(),
            "csat": _rate(good, good + bad),
            "ratings": good + bad,
        }

    contained, handed_off = count("closed", "", "contained"), count("closed", "", "handed_off")
    overall = figures_of("")
    result: dict[str, Any] = {
        "period": scope.period.as_json(),
        "filters": scope.filters_json(),
        "response_window_s": scope.response_window.total_seconds(),
        **{k: overall[k] for k in ("turns", "answered_turns", "response_rate")},
        "response_time_s": times("rt"),
        "first_response_time_s": times("frt"),
        "handoffs": overall["handoffs"],
        "handoff_wait_s": overall["handoff_wait_s"],
        "conversations_closed": contained + handed_off,
        "containment_rate": _rate(contained, contained + handed_off),
        "csat": overall["csat"],
        "ratings": overall["ratings"],
        "feedback_count": count("feedback", "", "count"),
    }
    channels = sorted({dim for (metric, dim, _) in stats if dim and metric in _CHANNEL_METRICS})
    result["by_channel"] = [
        {
            "channel": channel,
            **figures_of(channel),
            "response_time_s": stats.get(("rt", channel, "all"), EMPTY).as_json(),
            "conversations_closed": count("closed", channel, "contained")
            + count("closed", channel, "handed_off"),
            "containment_rate": _rate(
                count("closed", channel, "contained"),
                count("closed", channel, "contained") + count("closed", channel, "handed_off"),
            ),
        }
        for channel in channels
    ]
    result["by_agent"] = _by_agent(connection, stats)
    return result


_CHANNEL_METRICS = frozenset({"turn", "rt", "handoff", "wait", "rating", "closed"})


def _by_agent(connection: Connection, stats: dict[Key, Stats]) -> list[dict[str, Any]]:
    ids = sorted(
        {
            int(dim)
            for (metric, dim, _) in stats
            if metric.endswith("_agent") or metric == "agent_turn"
        }
    )
    if not ids:
        return []
    a = Agent.__table__.c
    names = dict(connection.execute(select(a.id, a.username).where(a.id.in_(ids))).all())
    rows = []
    for agent_id in ids:
        dim = str(agent_id)
        good = stats.get(("rating_agent", dim, "good"), EMPTY).count
        bad = stats.get(("rating_agent", dim, "bad"), EMPTY).count
        answered = stats.get(("agent_turn", dim, "agent"), EMPTY)
        rows.append(
            {
                "agent_id": agent_id,
                "username": names.get(agent_id),
                "answered_turns": answered.count,
                "response_time_s": answered.as_json(),
                "handoffs": stats.get(("handoff_agent", dim, "count"), EMPTY).count,
                "handoff_wait_s": stats.get(("wait_agent", dim, "all"), EMPTY).as_json(),
                "csat": _rate(good, good + bad),
                "ratings": good + bad,
            }
        )
    return rows
