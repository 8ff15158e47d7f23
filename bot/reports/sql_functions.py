"""Two SQL expressions whose spelling differs between SQLite and PostgreSQL.

The report queries are one piece of SQLAlchemy Core for both databases; only the arithmetic on
timestamps and the truncation to an hour or a day need a dialect of their own. Timestamps are
stored as naive UTC (:class:`bot.storage.models.UtcDateTime`), so neither needs a time zone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


class seconds_between(FunctionElement[float]):
    """``later - earlier`` in seconds, as a float (millisecond precision on SQLite)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"

    def __init__(self, later: ColumnElement[Any], earlier: ColumnElement[Any]) -> None:
        super().__init__(later, earlier)


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS DOUBLE PRECISION)"


class _Bucket(FunctionElement[str]):
    """The UTC hour or day a timestamp falls in, as ISO text (``2026-11-24T09:00:00Z``)."""

    type = String()
    inherit_cache = True
    unit = "day"

    def __init__(self, moment: ColumnElement[Any]) -> None:
        super().__init__(moment)


class _HourBucket(_Bucket):
    inherit_cache = True
    name = "hour_bucket"
    unit = "hour"


class _DayBucket(_Bucket):
    inherit_cache = True
    name = "day_bucket"
    unit = "day"


def time_bucket(moment: ColumnElement[Any], unit: str) -> ColumnElement[str]:
    """``moment`` truncated to its UTC ``unit`` (``hour`` or ``day``), as ISO text."""
    if unit == "hour":
        return _HourBucket(moment)
    if unit == "day":
        return _DayBucket(moment)
    raise ValueError(f"unknown bucket {unit!r}; use hour or day")


@compiles(_Bucket, "sqlite")
def _bucket_sqlite(element: _Bucket, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    pattern = "%Y-%m-%dT%H:00:00Z" if element.unit == "hour" else "%Y-%m-%dT00:00:00Z"
    return f"strftime('{pattern}', {moment})"


@compiles(_Bucket, "postgresql")
def _bucket_postgresql(element: _Bucket, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    hour = "HH24" if element.unit == "hour" else "00"
    return f'to_char({moment}, \'YYYY-MM-DD"T"{hour}:00:00"Z"\')'
