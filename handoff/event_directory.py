"""What the live event hub reads from the database, answered from the desk's store.

The hub (:mod:`bot.event_hub`) resolves events whose publisher did not know everything (who owns a
conversation, the ``Conversation`` of a new handoff, the waiting count); this adapter answers with
the same views the API returns, so a live event and a ``GET`` never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from handoff.desk_store import SqlDeskStore


class DeskEventDirectory:
    """Implements ``bot.event_hub.EventDirectory`` over :class:`SqlDeskStore`."""

    def __init__(self, store: SqlDeskStore) -> None:
        self._store = store

    async def owner_of(self, conversation_id: int) -> int | None:
        return await self._store.owner_of(conversation_id)

    async def conversation(self, conversation_id: int) -> Mapping[str, Any] | None:
        view = await self._store.conversation(conversation_id)
        return None if view is None else view.as_json()

    async def queue_stats(self) -> tuple[int, float | None]:
        summary = (await self._store.queue_summary()).as_json(datetime.now(UTC))
        return summary["count"], summary["oldest_wait_s"]
