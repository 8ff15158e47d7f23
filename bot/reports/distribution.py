"""Count, mean and percentiles of many samples, computed by the database.

Percentiles are interpolated linearly between the two nearest ranks (PostgreSQL's
``percentile_cont``, NumPy's default): for ``n`` sorted values ``v1..vn`` the ``p`` percentile sits
at position ``1 + p(n-1)``. SQLite has no percentile function, so the query numbers each group's
samples with ``ROW_NUMBER()`` and returns only the rows at the ranks the percentiles need (at most
four per group), counts and means coming from a plain GROUP BY; the interpolation over those few
rows is done here. Nothing per sample crosses into Python, whatever the number of samples.

A sample is a row ``(metric, dim, grp, v)``: ``metric`` names the figure (``rt``), ``dim`` the
breakdown it belongs to (a channel, a day, ``""`` for the total) and ``grp`` the group within it
(``bot``, ``agent``, ``all``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, Subquery, func, or_, select

P50 = Fraction(1, 2)
P90 = Fraction(9, 10)
Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Stats:
    """What is known of one group of samples."""

    count: int
    mean: float | None
    p50: float | None
    p90: float | None

    def as_json(self) -> dict[str, float | None]:
        return {"mean": _r(self.mean), "p50": _r(self.p50), "p90": _r(self.p90)}

    @classmethod
    def of(cls, values: Iterable[float]) -> Stats:
        """The same figures over values held in Python (per-turn response times, business hours,
        tests): one sort, then the interpolation on the list itself."""
        ordered = sorted(values)
        if not ordered:
            return EMPTY
        return cls(
            len(ordered),
            math.fsum(ordered) / len(ordered),
            percentile(ordered.__getitem__, len(ordered), P50, base=0),
            percentile(ordered.__getitem__, len(ordered), P90, base=0),
        )


EMPTY = Stats(0, None, None, None)


@dataclass
class _Group:
    count: int = 0
    mean: float | None = None
    nv: int = 0
    ranks: dict[int, float] = field(default_factory=dict)


def _near(rank: Any, count: Any, p: Fraction) -> Any:
    """SQL: ``rank`` is ``floor(1 + p(count-1))`` or the rank after it (integers only)."""
    a, b = p.numerator, p.denominator
    return (b * (rank - 2) <= a * (count - 1)) & (a * (count - 1) < b * rank)


def distribution(connection: Connection, samples: Subquery) -> dict[Key, Stats]:
    """Stats per ``(metric, dim, grp)`` of ``samples`` (columns metric, dim, grp, v).

    Rows whose ``v`` is NULL count (``Stats.count``) but have no mean or percentiles: counts of
    events share the query with the times measured on them.
    """
    partition = (samples.c.metric, samples.c.dim, samples.c.grp)
    # Counts and means by plain GROUP BY: most samples are events without a value (turns,
    # ratings, closings), and ranking them too was most of the cost.
    counted = select(
        *partition,
        func.count().label("n"),
        func.count(samples.c.v).label("nv"),
        func.avg(samples.c.v).label("mean"),
    ).group_by(*partition)
    groups: dict[Key, _Group] = {}
    for row in connection.execute(counted):
        groups[(row.metric, row.dim, row.grp)] = _Group(
            int(row.n), None if row.mean is None else float(row.mean), nv=int(row.nv)
        )
    # Only the samples with a value are ranked, and only the ranks percentiles need come back.
    ranked = (
        select(
            *partition,
            samples.c.v,
            func.row_number().over(partition_by=partition, order_by=samples.c.v).label("rn"),
            func.count().over(partition_by=partition).label("nv"),
        )
        .where(samples.c.v.is_not(None))
        .subquery("ranked")
    )
    rn, nv = ranked.c.rn, ranked.c.nv
    query = select(ranked).where(or_(_near(rn, nv, P50), _near(rn, nv, P90)))
    for row in connection.execute(query):
        groups[(row.metric, row.dim, row.grp)].ranks[int(row.rn)] = float(row.v)
    result: dict[Key, Stats] = {}
    for key, group in groups.items():
        # A group mixing samples with and without a value has a mean but no percentiles.
        if group.mean is None or group.nv != group.count:
            result[key] = Stats(group.count, None, None, None)
            continue
        result[key] = Stats(
            group.count,
            group.mean,
            percentile(group.ranks.__getitem__, group.count, P50),
            percentile(group.ranks.__getitem__, group.count, P90),
        )
    return result


def percentile(at: Callable[[int], float], count: int, p: Fraction, base: int = 1) -> float:
    """The ``p`` percentile of ``count`` sorted values; ``at(i)`` is the value of rank ``i`` when
    ranks start at ``base`` (1 for SQL's ROW_NUMBER, 0 for a Python list)."""
    position = 1 + p * (count - 1)
    low = int(position)  # floor: position is positive
    fraction = position - low
    below = at(low - 1 + base)
    if fraction == 0:
        return below
    return below + float(fraction) * (at(low + base) - below)


def _r(value: float | None) -> float | None:
    """Seconds to the millisecond: SQLite's date arithmetic keeps no more."""
    return None if value is None else round(value, 3)
