"""The review queue: customer questions the bot failed (fallback, low rating, handoff).

Items are written by :mod:`bot.storage.feedback_records` with the outcome; this module lists them
for admins, records an admin's decision ("add to FAQ X", "new FAQ", dismiss) and reads the decided
ones for ``carebot nlu export-review``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from bot.storage.database import Database
from bot.storage.models import ReviewItem

STATUSES = ("open", "added", "dismissed")
REASONS = ("fallback", "low_rating", "handoff")
NEW_FAQ = "new"


class ReviewDecisionError(ValueError):
    """An admin's decision that does not make sense (unknown status, "added" with no target)."""


@dataclass(frozen=True, slots=True)
class ReviewItemView:
    id: int
    message_id: int
    conversation_id: int
    channel: str
    language: str | None
    text: str
    reason: str
    intent: str | None
    intent_confidence: float | None
    faq_key: str | None
    faq_confidence: float | None
    status: str
    target_faq: str | None
    marked_by: int | None
    marked_at: datetime | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {k: getattr(self, k) for k in self.__slots__}
        for key in ("marked_at", "created_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


class SqlReviewQueue:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def items(
        self,
        *,
        status: str | None = None,
        reason: str | None = None,
        language: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[ReviewItemView]:
        """Newest first; ``before_id`` pages on."""
        query = select(ReviewItem).order_by(ReviewItem.id.desc()).limit(limit)
        if status:
            query = query.where(ReviewItem.status == status)
        if reason:
            query = query.where(ReviewItem.reason == reason)
        if language:
            query = query.where(ReviewItem.language == language)
        if before_id:
            query = query.where(ReviewItem.id < before_id)
        async with self._db.read() as session:
            return [_view(row) for row in (await session.scalars(query)).all()]

    async def mark(
        self, item_id: int, *, status: str, target_faq: str | None, agent_id: int | None
    ) -> ReviewItemView | None:
        """Record an admin's decision; None if there is no such item."""
        if status not in STATUSES:
            raise ReviewDecisionError(f"status: one of {', '.join(STATUSES)}")
        if status == "added":
            if not target_faq or not (target_faq == NEW_FAQ or target_faq.startswith("faq/")):
                raise ReviewDecisionError("target_faq: an FAQ key (faq/...) or 'new'")
        else:
            target_faq = None
        now = datetime.now(UTC)
        async with self._db.write() as session:
            changed = await session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id)
                .values(
                    status=status,
                    target_faq=target_faq,
                    marked_by=agent_id,
                    marked_at=None if status == "open" else now,
                    updated_at=now,
                )
            )
            if changed.rowcount == 0:  # type: ignore[attr-defined]
                return None
            row = await session.get(ReviewItem, item_id)
            assert row is not None
            return _view(row)


def _view(row: ReviewItem) -> ReviewItemView:
    return ReviewItemView(
        id=row.id,
        message_id=row.message_id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        language=row.language,
        text=row.text,
        reason=row.reason,
        intent=row.intent,
        intent_confidence=row.intent_confidence,
        faq_key=row.faq_key,
        faq_confidence=row.faq_confidence,
        status=row.status,
        target_faq=row.target_faq,
        marked_by=row.marked_by,
        marked_at=row.marked_at,
        created_at=row.created_at,
    )
