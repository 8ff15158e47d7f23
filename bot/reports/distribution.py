"""Count, mean and percentiles of many samples, computed by the database.

Percentiles are interpolated linearly between the two nearest ranks (PostgreSQL's
``percentile_cont``, NumPy's default): for ``n`` sorted values ``v1..vn`` the ``p`` percentile sits
at position ``1 + p(n-1)``. SQLite has no percentile function, so the query numbers each group's
samples with ``ROW_NUMBER()`` and returns only the rows at the ranks the percentiles need (at most
five per group); the interpolation over those few rows is done here. Nothing per sample crosses
into Python, whatever the number of samples.

A sample is a row ``(metric, dim, grp, v)``: ``metric`` names the figure (``rt``), ``dim`` the
breakdown it belongs to (a channel, a day, ``""`` for the total) and ``grp`` the group within it
(``bot``, ``agent``, ``all``).
"""

from __future__ import annotations

from collections.abc import Iterable
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
        """The same figures over values held in Python (the business-hours path, tests)."""
        ordered = sorted(values)
        if not ordered:
            return EMPTY
        ranks = dict(enumerate(ordered, start=1))
        return cls(
            len(ordered),
            sum(ordered) / len(ordered),
            _percentile(ranks, len(ordered), P50),
            _percentile(ranks, len(ordered), P90),
        )


EMPTY = Stats(0, None, None, None)


@dataclass
class _Group:
    count: int = 0
    mean: float | None = None
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
    ranked = select(
        *partition,
        samples.c.v,
        func.row_number().over(partition_by=partition, order_by=samples.c.v).label("rn"),
        func.count().over(partition_by=partition).label("n"),
        func.count(samples.c.v).over(partition_by=partition).label("nv"),
        func.avg(samples.c.v).over(partition_by=partition).label("mean"),
    ).subquery("ranked")
    rn, nv = ranked.c.rn, ranked.c.nv
    # NULLs sort first on SQLite and last on PostgreSQL: only groups without NULLs get ranks.
    query = select(ranked).where(
        or_(rn == 1, (ranked.c.n == nv) & or_(_near(rn, nv, P50), _near(rn, nv, P90)))
    )
    groups: dict[Key, _Group] = {}
    for row in connection.execute(query):
        group = groups.setdefault((row.metric, row.dim, row.grp), _Group())
        group.count = int(row.n)
        group.mean = None if row.mean is None else float(row.mean)
        if row.v is not None and row.n == row.nv:
            group.ranks[int(row.rn)] = float(row.v)
    result: dict[Key, Stats] = {}
    for key, group in groups.items():
        if group.mean is None or not group.ranks:
            result[key] = Stats(group.count, None, None, None)
            continue
        result[key] = Stats(
            group.count,
            group.mean,
            _percentile(group.ranks, group.count, P50),
            _percentile(group.ranks, group.count, P90),
        )
    return result


def _percentile(ranks: dict[int, float], count: int, p: Fraction) -> float:
    position = 1 + p * (count - 1)
    low = int(position)  # floor: position is positive
    fraction = position - low
    below = ranks[low]
    if fraction == 0:
        return below
    return below + float(fraction) * (ranks[low + 1] - below)


def _r(value: float | None) -> float | None:
    """Seconds to the millisecond: SQLite's date arithmetic keeps no more."""
    return None if value is None else round(value, 3)
