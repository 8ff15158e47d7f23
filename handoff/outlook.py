"""The handoff outlook on SQL: how long the queue is, how long people wait, whether anyone is in.

The engine asks it once per handoff (never per message), so two small reads are fine: the count of
waiting conversations and the waits of the last claimed handoffs. The median of those waits is the
estimate: recent, so it follows how busy the desk is today, and robust to the one conversation left
waiting overnight. Outside business hours no read is made at all: the customer is told when someone
is back instead.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.interfaces import HandoffForecast, HandoffOutlook
from bot.messages import ConversationState
from bot.settings import Behaviour
from bot.storage.database import Database
from bot.storage.models import Conversation, Handoff
from handoff.business_hours import BusinessHours


class SqlHandoffOutlook(HandoffOutlook):
    """:class:`~bot.interfaces.HandoffOutlook` over the ``handoffs`` and ``conversations`` tables.

    Args:
        database: read sessions only.
        schedule: business hours; None is always open.
        wait_sample: how many of the latest claimed handoffs the estimate is the median of.
        wait_window: only handoffs requested this recently count.
        min_samples: fewer claimed handoffs than this give no estimate.
    """

    def __init__(
        self,
        database: Database,
        *,
        schedule: BusinessHours | None = None,
        wait_sample: int = 20,
        wait_window: timedelta = timedelta(days=1),
        min_samples: int = 3,
    ) -> None:
        self._database = database
        self._schedule = schedule
        self._wait_sample = wait_sample
        self._wait_window = wait_window
        self._min_samples = min_samples

    @classmethod
    def from_behaviour(cls, database: Database, behaviour: Behaviour) -> SqlHandoffOutlook:
        """The outlook ``config/carebot.yml`` describes (``handoff.queue``, ``business_hours``)."""
        queue = behaviour.handoff.queue
        hours = behaviour.business_hours
        return cls(
            database,
            schedule=hours.schedule() if hours is not None else None,
            wait_sample=queue.wait_sample,
            wait_window=queue.wait_window,
            min_samples=queue.min_samples,
        )

    async def forecast(self, now: datetime) -> HandoffForecast:
        if self._schedule is not None and not self._schedule.is_open(now):
            return HandoffForecast(
                waiting=0, open_now=False, next_opening=self._schedule.next_opening(now)
            )
        async with self._database.read() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(Conversation)
                .where(
                    Conversation.state == ConversationState.WAITING.value,
                    Conversation.closed_at.is_(None),
                )
            )
            recent = (
                await session.execute(
                    select(Handoff.requested_at, Handoff.claimed_at)
                    .where(
                        Handoff.requested_at >= now - self._wait_window,
                        Handoff.claimed_at.is_not(None),
                    )
                    .order_by(Handoff.requested_at.desc())
                    .limit(self._wait_sample)
                )
            ).all()
        return HandoffForecast(waiting=waiting or 0, expected_wait=self._median_wait(recent))

    def _median_wait(self, rows: Iterable[tuple[datetime, datetime | None]]) -> timedelta | None:
        waits = [
            max(0.0, (claimed - requested).total_seconds())
            for requested, claimed in rows
            if claimed is not None
        ]
        if len(waits) < self._min_samples:
            return None
        return timedelta(seconds=statistics.median(waits))
