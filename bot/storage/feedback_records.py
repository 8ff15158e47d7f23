"""Storing what the engine read as feedback, and the review queue, inside the outcome's transaction.

:meth:`SqlConversationStore._complete` calls :func:`record_feedback_and_review` after the message is
marked processed and the conversation updated, on the same connection: a rating, its review item
and the reply thanking for it are applied together or not at all.

Targets (``feedback.target``, unique per conversation and kind, so a second rating replaces the
first): ``message:<id>`` of the FAQ answer rated with 👍/👎, ``handoff:<id>`` of the resolved
handoff rated 1-5, ``message:<id>`` of the customer's own message for a comment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import aliased

from bot.engine import Outcome, PendingInbound
from bot.feedback_rules import AWAITING_COMMENT, FeedbackKind, ReviewReason
from bot.messages import Author, MessageKind
from bot.storage.models import Feedback, Handoff, Message, ReviewItem

_Question = aliased(Message)


@dataclass(frozen=True, slots=True)
class _Target:
    key: str
    message_id: int | None = None
    question_id: int | None = None  # the customer question behind what is rated
    faq_key: str | None = None
    agent_id: int | None = None
    handoff_id: int | None = None


def record_feedback_and_review(
    connection: Connection,
    insert: Callable[[Any], Any],
    pending: PendingInbound,
    outcome: Outcome,
    now: datetime,
) -> None:
    """Upsert ``outcome.feedback`` and add ``outcome.review_reason``'s question to the queue.

    Args:
        insert: the dialect's ``insert`` (SQLite or PostgreSQL), for ON CONFLICT clauses.
    """
    question_id: int | None = None
    entry = outcome.feedback
    if entry is not None:
        target = _target_of(connection, pending, entry.kind)
        question_id = target.question_id
        statement = insert(Feedback).values(
            conversation_id=pending.conversation.id,
            kind=entry.kind,
            target=target.key,
            message_id=target.message_id,
            handoff_id=target.handoff_id,
            agent_id=target.agent_id,
            faq_key=target.faq_key,
            channel=pending.conversation.channel.value,
            language=outcome.language,
            rating=entry.rating,
            comment=entry.comment,
            created_at=now,
            updated_at=now,
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["conversation_id", "kind", "target"],
                set_={
                    "rating": statement.excluded.rating,
                    "comment": statement.excluded.comment,
                    "language": statement.excluded.language,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )
    reason = outcome.review_reason
    if reason is None:
        return
    if reason != ReviewReason.LOW_RATING:
        question_id = pending.message_id
    if question_id is None:
        return
    columns = select(
        Message.id,
        Message.conversation_id,
        Message.channel,
        Message.language,
        Message.text,
        Message.intent,
        Message.intent_confidence,
        Message.faq_key,
        Message.faq_confidence,
    ).where(Message.id == question_id)
    row = connection.execute(columns).one_or_none()
    if row is None:
        return
    connection.execute(
        insert(ReviewItem)
        .values(
            message_id=row.id,
            conversation_id=row.conversation_id,
            channel=row.channel,
            language=row.language,
            text=row.text,
            reason=reason,
            intent=row.intent,
            intent_confidence=row.intent_confidence,
            faq_key=row.faq_key,
            faq_confidence=row.faq_confidence,
            status="open",
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["message_id"])
    )


def _target_of(connection: Connection, pending: PendingInbound, kind: str) -> _Target:
    conversation_id = pending.conversation.id
    if kind == FeedbackKind.HELPFUL:
        answer = connection.execute(
            select(Message.id, _Question.id.label("question_id"), _Question.faq_key)
            .join(_Question, _Question.id == Message.reply_to_id)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == "out",
                Message.author == Author.BOT.value,
                Message.kind == MessageKind.REPLY.value,
                Message.id < pending.message_id,
                _Question.faq_key.is_not(None),
            )
            .order_by(Message.id.desc())
            .limit(1)
        ).one_or_none()
        if answer is None:
            return _Target("helpful")
        return _Target(
            f"message:{answer.id}",
            message_id=answer.id,
            question_id=answer.question_id,
            faq_key=answer.faq_key,
        )
    if kind == FeedbackKind.RATING or pending.conversation.awaiting == AWAITING_COMMENT:
        handoff = connection.execute(
            select(Handoff.id, Handoff.agent_id, Handoff.requested_at)
            .where(Handoff.conversation_id == conversation_id, Handoff.resolved_at.is_not(None))
            .order_by(Handoff.id.desc())
            .limit(1)
        ).one_or_none()
        if kind == FeedbackKind.COMMENT:
            return _Target(
                f"message:{pending.message_id}",
                message_id=pending.message_id,
                agent_id=handoff.agent_id if handoff else None,
                handoff_id=handoff.id if handoff else None,
            )
        if handoff is None:
            return _Target("rating", message_id=pending.message_id)
        # The question behind the handoff: the last customer message handled before it was asked.
        question = connection.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == "in",
                Message.processed_at <= handoff.requested_at,
                Message.text != "",
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        return _Target(
            f"handoff:{handoff.id}",
            question_id=question,
            agent_id=handoff.agent_id,
            handoff_id=handoff.id,
        )
    return _Target(f"message:{pending.message_id}", message_id=pending.message_id)
