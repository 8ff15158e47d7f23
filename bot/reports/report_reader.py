"""The reports as coroutines over the gateway's :class:`~bot.storage.database.Database`.

The queries are synchronous SQLAlchemy Core; they run on the reader pool through ``run_sync`` so
the event loop is never blocked by a long report. Each report first folds the messages stored
since the last refresh into ``report_turns`` (on a gateway, at most a minute's worth: its
background refresh keeps up), so the figures include every message stored before it was asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from bot.reports.charts import faq_figures, timeseries
from bot.reports.figures import summary
from bot.reports.turn_folding import refresh_turns
from bot.reports.turns import ReportScope
from bot.storage.database import Database

T = TypeVar("T")


class ReportReader:
    """Summary, time series and FAQ figures of a :class:`ReportScope`, as JSON-ready dicts."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        await refresh_turns(self._db)
        async with self._db.read() as session:
            return await session.run_sync(lambda s: fn(s.connection()))

    async def summary(self, scope: ReportScope) -> dict[str, Any]:
        return await self._read(lambda c: summary(c, scope))

    async def timeseries(self, scope: ReportScope, unit: str = "day") -> dict[str, Any]:
        return await self._read(lambda c: timeseries(c, scope, unit))

    async def faqs(self, scope: ReportScope, limit: int = 50) -> dict[str, Any]:
        return await self._read(lambda c: faq_figures(c, scope, limit))
