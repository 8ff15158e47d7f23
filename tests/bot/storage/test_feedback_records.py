"""Feedback and the review queue stored with the outcome (bot.storage.feedback_records), on SQLite
and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from bot.feedback_rules import (
    AWAITING_HELPFUL,
    HELPFUL_CHOICES,
    FeedbackEntry,
    FeedbackKind,
    ReviewReason,
)
from bot.messages import MessageKind, NluResult, Reply
from bot.storage.conversation_store import SqlConversationStore
from bot.storage.database import Database
from bot.storage.models import Conversation, Feedback, Handoff, ReviewItem
from tests.bot.storage.test_conversation_store import inbound, next_pending, outcome

pytestmark = pytest.mark.timeout(60)

SHIPPING = NluResult("How much is shipping?", "faq", 0.97, "faq/shipping_cost", 0.95)


@pytest.fixture
def store(database: Database) -> SqlConversationStore:
    return SqlConversationStore(database)


async def rows(database: Database, model: type) -> list:  # type: ignore[type-arg]
    async with database.read() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def test_thumbs_down_rates_the_faq_answer_last_one_wins_and_queues_the_question(
    store: SqlConversationStore, database: Database
) -> None:
    accepted = await store.accept(inbound("q1", text="How much is shipping?"))
    assert accepted is not None
    conversation_id = accepted.conversation_id
    asked = outcome(
        "Shipping is free over 50 EUR.",
        Reply("Was this answer helpful?", kind=MessageKind.NOTICE),
        nlu=SHIPPING,
        awaiting=AWAITING_HELPFUL,
        asks_helpful=True,
    )
    answer_id = (await store.complete(await next_pending(store, conversation_id), asked)).reply_ids[
        0
    ]
    assert (await next_pending_after(store, "r1")).conversation.helpful_asked

    thumbs_down = outcome(
        "Thanks for your feedback!",
        feedback=FeedbackEntry(FeedbackKind.HELPFUL, rating=1),
        review_reason=ReviewReason.LOW_RATING,
    )
    await store.complete(await next_pending(store, conversation_id), thumbs_down)
    await store.accept(inbound("r2", payload="helpful:yes"))
    pending = await next_pending(store, conversation_id)
    await store.complete(
        pending, replace(thumbs_down, feedback=FeedbackEntry(FeedbackKind.HELPFUL, rating=5))
    )

    (stored,) = await rows(database, Feedback)
    assert (stored.kind, stored.rating, stored.message_id) == ("helpful", 5, answer_id)
    assert stored.faq_key == "faq/shipping_cost" and stored.channel == "web"
    assert stored.updated_at >= stored.created_at
    (item,) = await rows(database, ReviewItem)
    assert (item.reason, item.status, item.text) == ("low_rating", "open", "How much is shipping?")
    assert (item.faq_key, item.faq_confidence) == ("faq/shipping_cost", 0.95)


async def next_pending_after(store: SqlConversationStore, message: str):  # type: ignore[no-untyped-def]
    accepted = await store.accept(inbound(message, text="1"))
    assert accepted is not None
    return await next_pending(store, accepted.conversation_id)


async def test_a_handoff_rating_names_the_agent_and_a_comment_follows(
    store: SqlConversationStore, database: Database
) -> None:
    accepted = await store.accept(inbound("q1", text="I want to complain"))
    assert accepted is not None
    conversation_id = accepted.conversation_id
    await store.complete(
        await next_pending(store, conversation_id),
        outcome(
            "A person will answer",
            handoff_reason="rule",
            review_reason=ReviewReason.HANDOFF,
            nlu=NluResult("I want to complain", "faq", 0.9, "faq/complaint", 0.9),
        ),
    )
    now = datetime.now(UTC)
    async with database.write() as session:
        await session.execute(
            update(Handoff).values(agent_id=42, resolved_at=now, ended_reason="resolved")
        )
        await session.execute(update(Conversation).values(awaiting="feedback"))
    await store.accept(inbound("r1", text="2"))
    await store.complete(
        await next_pending(store, conversation_id),
        outcome(
            "Thanks",
            feedback=FeedbackEntry(FeedbackKind.RATING, rating=2),
            review_reason=ReviewReason.LOW_RATING,
            awaiting="feedback_comment",
        ),
    )
    await store.accept(inbound("c1", text="too slow"))
    await store.complete(
        await next_pending(store, conversation_id),
        outcome("Noted", feedback=FeedbackEntry(FeedbackKind.COMMENT, comment="too slow")),
    )

    rating, comment = await rows(database, Feedback)
    assert (rating.kind, rating.rating, rating.agent_id) == ("rating", 2, 42)
    assert rating.target.startswith("handoff:") and rating.handoff_id is not None
    assert (comment.kind, comment.comment, comment.agent_id) == ("comment", "too slow", 42)
    # One item per question: the handoff queued it, the low rating finds it already there.
    (item,) = await rows(database, ReviewItem)
    assert (item.reason, item.text) == ("handoff", "I want to complain")


async def test_no_helpful_request_while_the_customer_is_still_writing(
    store: SqlConversationStore, database: Database
) -> None:
    accepted = await store.accept(inbound("q1", text="How much is shipping?"))
    assert accepted is not None
    await store.accept(inbound("q2", text="and returns?"))
    asked = outcome(
        "Shipping is free over 50 EUR.",
        Reply("Was this answer helpful?", HELPFUL_CHOICES, kind=MessageKind.NOTICE),
        nlu=SHIPPING,
        awaiting=AWAITING_HELPFUL,
        asks_helpful=True,
    )
    done = await store.complete(await next_pending(store, accepted.conversation_id), asked)
    assert len(done.replies) == 1  # only the answer
    assert done.next_pending is not None
    assert done.next_pending.conversation.awaiting is None
    assert not done.next_pending.conversation.helpful_asked  # the next answer may ask
