"""The report figures: the summary of ``carebot report`` and ``/api/v1/reports/*``.

Counts, means and percentiles of handoffs, feedback and closings are computed by the database: one
statement whose rows are samples ``(metric, dim, grp, v)`` fed to
:func:`bot.reports.distribution.distribution`, which returns a few dozen rows. The turns, by far
the most numerous (a month of a busy bot: 400,000), are read once, one row per turn (never per
message), and counted and timed here: ranking every turn once for each group it belongs to (total,
channel, responder, agent, first turns) in SQL cost seconds, one sort per group in Python costs a
fraction of one, with the same figures. ``--business-hours`` needs that per-turn read anyway,
because working time between two instants needs the schedule.

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
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from bot.reports.distribution import EMPTY, P50, P90, Key, Stats, distribution, percentile
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
    """Handoffs, feedback and closings as samples (a few rows per handoff or rating); the turns,
    by far the most numerous, are counted and timed apart by :func:`_turn_stats`."""
    parts: list[Select[Any]] = []
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


def _turn_stats(connection: Connection, scope: ReportScope) -> dict[Key, Stats]:
    """Turn counts and response times (total, per responder, channel and agent; first turns).

    Ranking each turn once per group it belongs to (a UNION of ~6 copies of every turn, then
    window functions over it) is what made a month of a busy bot take seconds. On PostgreSQL one
    GROUPING SETS aggregate does it all in the database (:func:`_turn_stats_postgresql`). Elsewhere
    (SQLite) the counted turns are read once (one row per turn, never per message), counted, and
    their response times sorted once per group in Python and interpolated exactly as before
    (:meth:`Stats.of`). With ``--business-hours`` an agent's time is the working time between the
    turn and its reply, which needs the schedule, so that read is the way on both databases.
    """
    if scope.business_hours is None and connection.dialect.name == "postgresql":
        return _turn_stats_postgresql(connection, scope)
    t = turns_cte(scope).c
    schedule = scope.business_hours
    columns = [t.status, t.channel, t.responder, t.reply_agent_id, t.first, t.rt]
    if schedule is not None:
        columns += [t.started_at, t.replied_at]
    unanswered: dict[str, int] = defaultdict(int)
    every: list[float] = []
    by_responder: dict[str, list[float]] = defaultdict(list)
    by_channel: dict[str, list[float]] = defaultdict(list)
    by_agent: dict[Any, list[float]] = defaultdict(list)
    first_by_responder: dict[str, list[float]] = defaultdict(list)
    # One read of the counted turns, one row each, grouped with as little per-row work as can be.
    for row in connection.execute(select(*columns)).all():
        status, channel, responder, agent_id, first, rt = row[:6]
        if status != "answered":
            unanswered[channel] += 1
            continue
        value = float(rt)
        if responder == "agent":
            if schedule is not None:
                value = open_seconds(schedule, row[6], row[7])
            by_agent[agent_id].append(value)
        every.append(value)
        by_responder[responder].append(value)
        by_channel[channel].append(value)
        if first:
            first_by_responder[responder].append(value)

    stats: dict[Key, Stats] = {}
    for channel in by_channel.keys() | unanswered.keys():
        stats[("turn", channel, "answered")] = Stats(len(by_channel[channel]), None, None, None)
        stats[("turn", channel, "unanswered")] = Stats(unanswered[channel], None, None, None)
        if by_channel[channel]:
            stats[("rt", channel, "all")] = Stats.of(by_channel[channel])
    if every or unanswered:
        stats[("turn", "", "answered")] = Stats(len(every), None, None, None)
        stats[("turn", "", "unanswered")] = Stats(sum(unanswered.values()), None, None, None)
    if every:
        stats[("rt", "", "all")] = Stats.of(every)
    for responder, values in by_responder.items():
        stats[("rt", "", responder)] = Stats.of(values)
    for responder, values in first_by_responder.items():
        stats[("frt", "", responder)] = Stats.of(values)
    if first_by_responder:
        stats[("frt", "", "all")] = Stats.of(
            [value for values in first_by_responder.values() for value in values]
        )
    for agent_id, values in by_agent.items():
        stats[("agent_turn", str(agent_id), "agent")] = Stats.of(values)
    return stats


def _turn_stats_postgresql(connection: Connection, scope: ReportScope) -> dict[Key, Stats]:
    """:func:`_turn_stats` as one PostgreSQL statement returning a few dozen rows.

    Each group's count and mean, and the two values each percentile interpolates between, picked
    by exact integer rank from the group's sorted response times (``array_agg(rt ORDER BY rt)``);
    ``percentile_cont`` would interpolate with a float fraction, a last bit away from the figures
    of SQLite and of the hand computation. One aggregate per breakdown, each with its own WHERE,
    joined by UNION ALL: GROUPING SETS would also sort the groups no figure needs (bot turns by
    agent, later turns by first-ness). Reading 400,000 turns through the driver costs more than
    the whole statement.
    """
    t = turns_cte(scope).c
    answered = t.status == "answered"
    n = func.count()
    ordered = func.array_agg(aggregate_order_by(t.rt, t.rt), type_=ARRAY(Float))
    picks = []
    for p in (P50, P90):
        low = literal(p.numerator) * (n - 1) // p.denominator + 1  # integer division: the floor
        picks += [low, ordered[low], ordered[low + 1]]

    def branch(metric: str, dim: Any, grp: Any, *where: Any) -> Select[Any]:
        """``(metric, dim, grp, n, mean, ranks and their values)``, grouped by the columns among
        ``dim`` and ``grp`` (strings are constants, which PostgreSQL will not group by)."""
        columns = [c for c in (dim, grp) if not isinstance(c, str)]
        keys = [const(metric), const(dim) if isinstance(dim, str) else cast(dim, String)]
        keys.append(const(grp) if isinstance(grp, str) else grp)
        labels = ("metric", "dim", "grp")
        return (
            select(*(key.label(name) for key, name in zip(keys, labels, strict=True)))
            .add_columns(n, func.avg(t.rt), *picks)
            .where(*where)
            .group_by(*columns)
        )

    first = (answered, t.first == 1)
    query = union_all(
        branch("turn", t.channel, t.status),
        branch("rt", "", "all", answered),
        branch("rt", "", t.responder, answered),
        branch("agent_turn", t.reply_agent_id, "agent", answered, t.responder == "agent"),
        branch("frt", "", t.responder, *first),
        branch("frt", "", "all", *first),
    )
    stats: dict[Key, Stats] = {}
    turn_totals: dict[str, int] = defaultdict(int)
    for row in connection.execute(query):
        metric, dim, grp, count, mean = row[:5]
        if count == 0:  # an ungrouped branch over no turns
            continue
        if metric == "turn":
            stats[("turn", dim, grp)] = Stats(count, None, None, None)
            turn_totals[grp] += count
            if grp != "answered":
                continue
            metric, grp = "rt", "all"
        ranks: dict[int, float] = {}
        for low, below, above in (row[5:8], row[8:11]):
            ranks[int(low)] = float(below)
            if above is not None:
                ranks[int(low) + 1] = float(above)
        stats[(metric, dim, grp)] = Stats(
            count,
            float(mean),
            percentile(ranks.__getitem__, count, P50),
            percentile(ranks.__getitem__, count, P90),
        )
    for status, count in turn_totals.items():
        stats[("turn", "", status)] = Stats(count, None, None, None)
    return stats


def _working_time_waits(connection: Connection, scope: ReportScope) -> dict[Key, Stats]:
    """Handoff waits with agents' time counted in business hours only (in Python, over one row
    per handoff)."""
    schedule = scope.business_hours
    assert schedule is not None
    samples: dict[Key, list[float]] = defaultdict(list)
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
    if connection.dialect.name == "postgresql":
        # The planner's estimates for these aggregates are high enough to switch JIT compilation
        # on, which costs more (~0.5 s per statement on the bench) than running them interpreted.
        connection.exec_driver_sql("SET LOCAL jit = off")
        # The turn aggregates sort every answered turn's response time once per breakdown; with
        # the default 4 MB those sorts (and the materialized turns) spill to temporary files.
        connection.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    stats = distribution(connection, _summary_samples(scope, with_times=not working_time))
    stats.update(_turn_stats(connection, scope))
    if working_time:
        stats.update(_working_time_waits(connection, scope))

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
