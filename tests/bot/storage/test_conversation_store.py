"""The SQL conversation store on SQLite and PostgreSQL: inbox, outbox, conversation state, schema.

Every test runs once per database through the ``database_url`` fixture, so a behaviour that only
holds on one of them (locking, conflict handling, time zones) shows up as a failure of the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.engine import Outcome, PendingInbound
from bot.messages import (
    Attachment,
    Author,
    Channel,
    Choice,
    ConversationState,
    Delivery,
    DeliveryStatus,
    InboundMessage,
    MessageKind,
    NluResult,
    Reply,
)
from bot.storage.conversation_store import SqlConversationStore, StaleConversation
from bot.storage.database import Database, alembic_config, upgrade, upgrade_sync
from bot.storage.models import Base, Conversation, Customer, Handoff, Message
from tests.fixtures.databases import fresh_postgres_database

pytestmark = pytest.mark.timeout(60)

TINY = timedelta(microseconds=1)


# ------------------------------------------------------------------------------------------ helpers


def inbound(
    message_id: str,
    *,
    sender: str = "c1",
    text: str = "hello",
    channel: Channel = Channel.WEB,
    **extra: Any,
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        sender_id=sender,
        message_id=message_id,
        text=text,
        received_at=datetime.now(UTC),
        **extra,
    )


def outcome(
    *replies: Reply | str,
    state: ConversationState = ConversationState.BOT,
    language: str = "en",
    **extra: Any,
) -> Outcome:
    return Outcome(
        language=language,
        replies=tuple(Reply(r) if isinstance(r, str) else r for r in replies),
        state=state,
        fallback_streak=extra.pop("fallback_streak", 0),
        awaiting=extra.pop("awaiting", None),
        **extra,
    )


async def next_pending(store: SqlConversationStore, conversation_id: int) -> PendingInbound:
    pending = await store.next_pending(conversation_id)
    assert pending is not None
    return pending


async def answer(
    store: SqlConversationStore, conversation_id: int, *replies: Reply | str, **extra: Any
) -> list[int]:
    """Complete the conversation's oldest pending message with ``replies``."""
    pending = await next_pending(store, conversation_id)
    return (await store.complete(pending, outcome(*replies, **extra))).reply_ids


async def count(database: Database, model: type[Base], *where: Any) -> int:
    async with database.read() as session:
        found = await session.scalar(select(func.count()).select_from(model).where(*where))
    return int(found or 0)


async def get(database: Database, model: type[Any], id_: int) -> Any:
    async with database.read() as session:
        return await session.get(model, id_)


@pytest.fixture
def store(database: Database) -> SqlConversationStore:
    return SqlConversationStore(database)


# ------------------------------------------------------------------------------------------ inbox


async def test_accept_stores_customer_conversation_and_message(
    store: SqlConversationStore, database: Database
) -> None:
    message = inbound(
        "m1",
        text="",
        sender_name="Ada",
        language_hint="it-IT",
        payload="handoff:yes",
        attachments=(Attachment("location", latitude=45.46, longitude=9.19),),
    )

    accepted = await store.accept(message)

    assert accepted is not None
    customer = await get(database, Customer, accepted.customer_id)
    assert (customer.channel, customer.platform_id) == ("web", "c1")
    assert (customer.display_name, customer.language_hint) == ("Ada", "it-IT")
    assert customer.last_inbound_at is not None
    conversation = await get(database, Conversation, accepted.conversation_id)
    assert conversation.customer_id == customer.id
    assert conversation.state == ConversationState.BOT.value
    assert conversation.closed_at is None
    row = await get(database, Message, accepted.message_id)
    assert (row.direction, row.author, row.kind) == ("in", "customer", "text")
    assert row.platform_message_id == "m1"
    assert row.processed_at is None
    assert row.payload["button"] == "handoff:yes"
    pending = await next_pending(store, accepted.conversation_id)
    assert pending.payload == "handoff:yes"
    assert pending.attachments == (Attachment("location", latitude=45.46, longitude=9.19),)
    assert pending.customer.language_hint == "it-IT"


async def test_a_redelivered_message_is_dropped(
    store: SqlConversationStore, database: Database
) -> None:
    first = await store.accept(inbound("m1", text="hello"))
    again = await store.accept(inbound("m1", text="hello"))

    assert first is not None
    assert again is None
    assert await count(database, Message) == 1
    # The same platform id on another channel is another message.
    assert await store.accept(inbound("m1", channel=Channel.TELEGRAM)) is not None


async def test_concurrent_redeliveries_store_exactly_one_row(
    store: SqlConversationStore, database: Database
) -> None:
    results = await asyncio.gather(*(store.accept(inbound("same")) for _ in range(20)))

    assert sum(result is not None for result in results) == 1
    assert await count(database, Message) == 1
    assert await count(database, Customer) == 1
    assert await count(database, Conversation) == 1


async def test_concurrent_first_messages_of_a_new_customer_share_one_conversation(
    store: SqlConversationStore, database: Database
) -> None:
    results = await asyncio.gather(*(store.accept(inbound(f"m{i}")) for i in range(10)))

    assert all(result is not None for result in results)
    assert len({r.conversation_id for r in results if r}) == 1
    assert len({r.customer_id for r in results if r}) == 1
    assert await count(database, Customer) == 1
    assert await count(database, Conversation, Conversation.closed_at.is_(None)) == 1
    assert await count(database, Message) == 10


async def test_a_second_message_joins_the_open_conversation(
    store: SqlConversationStore, database: Database
) -> None:
    first = await store.accept(inbound("m1"))
    assert first is not None
    await answer(store, first.conversation_id, "hi!")
    second = await store.accept(inbound("m2", sender_name="Ada"))
    other = await store.accept(inbound("m3", sender="c2"))

    assert second is not None and other is not None
    assert second.conversation_id == first.conversation_id
    assert second.customer_id == first.customer_id
    assert other.conversation_id != first.conversation_id
    customer = await get(database, Customer, first.customer_id)
    assert customer.display_name == "Ada"  # learnt from the later message


async def test_an_idle_bot_conversation_is_closed_and_a_new_one_opened(
    database: Database,
) -> None:
    store = SqlConversationStore(database, inactivity_close=TINY)
    first = await store.accept(inbound("m1"))
    assert first is not None
    await answer(store, first.conversation_id, "hi!")

    second = await store.accept(inbound("m2"))

    assert second is not None
    assert second.conversation_id != first.conversation_id
    old = await get(database, Conversation, first.conversation_id)
    assert old.state == ConversationState.CLOSED.value
    assert (old.close_reason, old.closed_at is not None) == ("inactive", True)
    new = await get(database, Conversation, second.conversation_id)
    assert (new.state, new.closed_at) == (ConversationState.BOT.value, None)
    assert await count(database, Conversation, Conversation.closed_at.is_(None)) == 1


async def test_idleness_never_closes_a_handed_off_or_unprocessed_conversation(
    database: Database,
) -> None:
    store = SqlConversationStore(database, inactivity_close=TINY)
    waiting = await store.accept(inbound("w1", sender="waiting"))
    backlog = await store.accept(inbound("b1", sender="backlog"))
    assert waiting is not None and backlog is not None
    await answer(
        store, waiting.conversation_id, "an agent will answer", state=ConversationState.WAITING
    )

    waiting_again = await store.accept(inbound("w2", sender="waiting"))
    backlog_again = await store.accept(inbound("b2", sender="backlog"))

    assert waiting_again is not None and backlog_again is not None
    assert waiting_again.conversation_id == waiting.conversation_id
    # The worker has not processed b1 yet: b2 must queue behind it in the same conversation.
    assert backlog_again.conversation_id == backlog.conversation_id
    assert await count(database, Conversation, Conversation.closed_at.is_not(None)) == 0


async def test_accept_and_complete_hand_over_what_the_worker_and_sender_need_next(
    store: SqlConversationStore,
) -> None:
    first = await store.accept(
        inbound("m1", text="one", payload="b1", attachments=(Attachment("image", url="u"),))
    )
    second = await store.accept(inbound("m2", text="two"))
    assert first is not None and second is not None
    # Exactly what reading the inbox back would give, and whether an older message waits.
    assert (first.earlier_pending, second.earlier_pending) == (False, True)
    assert first.pending == await store.next_pending(first.conversation_id)

    done = await store.complete(first.pending, outcome("a", "b"))

    assert done.applied and not done.older_queued
    assert done.next_pending is not None and done.next_pending.message_id == second.message_id
    assert done.next_pending == await store.next_pending(first.conversation_id)
    assert done.replies[0] == await store.next_outbound(first.conversation_id)
    later = await store.complete(done.next_pending, outcome("c"))
    # The first two replies are still queued: the third must wait for them.
    assert later.older_queued and later.next_pending is None
    assert await store.mark_sent(done.replies[0].message.id, Delivery(("p1",))) == done.replies[1]
    assert await store.mark_sent(done.replies[1].message.id, Delivery(("p2",))) == later.replies[0]
    assert await store.mark_sent(later.replies[0].message.id, Delivery(("p3",))) is None


async def test_accept_after_a_crash_reports_the_message_left_unprocessed(
    store: SqlConversationStore,
) -> None:
    left = await store.accept(inbound("m1"))
    assert left is not None and not left.earlier_pending
    # The process died before the worker got to m1; the customer writes again.
    again = await store.accept(inbound("m2"))
    assert again is not None and again.earlier_pending
    assert (await next_pending(store, again.conversation_id)).message_id == left.message_id


async def test_next_pending_returns_a_conversations_messages_in_order(
    store: SqlConversationStore,
) -> None:
    accepted = [await store.accept(inbound(f"m{i}", text=f"text {i}")) for i in range(3)]
    conversation_id = accepted[0].conversation_id if accepted[0] else 0

    seen = []
    while (pending := await store.next_pending(conversation_id)) is not None:
        seen.append(pending.text)
        assert (await store.complete(pending, outcome("ok"))).reply_ids != []

    assert seen == ["text 0", "text 1", "text 2"]
    assert await store.pending_conversation_ids([Channel.WEB]) == []


async def test_pending_conversation_ids_filter_by_channel_oldest_first(
    store: SqlConversationStore,
) -> None:
    web_b = await store.accept(inbound("b1", sender="b"))
    web_a = await store.accept(inbound("a1", sender="a"))
    telegram = await store.accept(inbound("t1", channel=Channel.TELEGRAM))
    await store.accept(inbound("b2", sender="b"))
    assert web_a and web_b and telegram

    assert await store.pending_conversation_ids([Channel.WEB]) == [
        web_b.conversation_id,
        web_a.conversation_id,
    ]
    assert await store.pending_conversation_ids([Channel.TELEGRAM]) == [telegram.conversation_id]
    assert await store.pending_conversation_ids([]) == []


async def test_complete_applies_the_outcome_atomically_and_only_once(
    store: SqlConversationStore, database: Database
) -> None:
    accepted = await store.accept(inbound("m1", text="I want a person"))
    assert accepted is not None
    pending = await next_pending(store, accepted.conversation_id)
    choices = (Choice("Yes", "handoff:yes"), Choice("No", "handoff:no"))
    result = outcome(
        Reply("One moment", kind=MessageKind.NOTICE),
        Reply("Anything else?", choices),
        state=ConversationState.WAITING,
        language="it",
        nlu=NluResult("I want a person", "ask_human", 0.93),
        handoff_reason="customer_request",
        handoff_detail="asked for a person",
        decision="handoff",
    )

    reply_ids = (await store.complete(pending, result)).reply_ids

    assert len(reply_ids) == 2
    message = await get(database, Message, accepted.message_id)
    assert message.processed_at is not None
    assert (message.intent, message.intent_confidence, message.language) == (
        "ask_human",
        0.93,
        "it",
    )
    replies = [await get(database, Message, id_) for id_ in reply_ids]
    assert [r.text for r in replies] == ["One moment", "Anything else?"]
    assert [r.kind for r in replies] == ["notice", "reply"]
    assert {(r.direction, r.author, r.status, r.reply_to_id) for r in replies} == {
        ("out", "bot", "queued", accepted.message_id)
    }
    conversation = await get(database, Conversation, accepted.conversation_id)
    assert (conversation.state, conversation.language) == ("waiting", "it")
    customer = await get(database, Customer, accepted.customer_id)
    assert customer.language == "it"
    async with database.read() as session:
        handoffs = list(await session.scalars(select(Handoff)))
    assert [(h.conversation_id, h.reason, h.detail) for h in handoffs] == [
        (accepted.conversation_id, "customer_request", "asked for a person")
    ]
    queued = await store.next_outbound(accepted.conversation_id)
    assert queued is not None and queued.message.reply.kind == MessageKind.NOTICE

    # A second worker finishing the same message changes nothing.
    again = await store.complete(pending, result)
    assert (again.applied, again.reply_ids) == (False, [])
    assert await count(database, Message, Message.direction == "out") == 2
    assert await count(database, Handoff) == 1


async def test_a_failing_complete_leaves_no_trace(
    store: SqlConversationStore, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = await store.accept(inbound("m1"))
    assert accepted is not None
    pending = await next_pending(store, accepted.conversation_id)
    queue_replies = store._queue_replies

    def queue_then_fail(*args: Any, **kwargs: Any) -> list[int]:
        queue_replies(*args, **kwargs)  # the replies are written to the database...
        raise RuntimeError("crash")  # ...then the transaction dies

    monkeypatch.setattr(store, "_queue_replies", queue_then_fail)
    with pytest.raises(RuntimeError, match="crash"):
        await store.complete(
            pending, outcome("hi", state=ConversationState.WAITING, handoff_reason="fallback")
        )
    monkeypatch.undo()

    assert await count(database, Message, Message.direction == "out") == 0
    assert await count(database, Handoff) == 0
    conversation = await get(database, Conversation, accepted.conversation_id)
    assert conversation.state == ConversationState.BOT.value
    again = await next_pending(store, accepted.conversation_id)
    assert again.message_id == accepted.message_id
    assert (await store.complete(again, outcome("hi"))).reply_ids != []


async def test_completing_while_the_same_customer_writes_again_never_deadlocks(
    store: SqlConversationStore,
) -> None:
    first = await store.accept(inbound("m0"))
    assert first is not None
    for n in range(1, 41):
        pending = await next_pending(store, first.conversation_id)
        # A language change makes complete() update the customer row that accept() updates too.
        language = "en" if pending.customer.language == "it" else "it"
        accepted, completed = await asyncio.gather(
            store.accept(inbound(f"m{n}")),
            store.complete(pending, outcome("ok", language=language)),
        )
        assert accepted is not None and accepted.conversation_id == first.conversation_id
        assert len(completed.replies) == 1


async def test_complete_refuses_an_outcome_decided_on_a_stale_conversation(
    store: SqlConversationStore, database: Database
) -> None:
    accepted = await store.accept(inbound("m1", text="how much is shipping?"))
    assert accepted is not None
    pending = await next_pending(store, accepted.conversation_id)
    # While the engine thinks, an agent takes the conversation over.
    async with database.write() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == accepted.conversation_id)
            .values(state=ConversationState.AGENT.value)
        )

    with pytest.raises(StaleConversation):
        await store.complete(pending, outcome("Shipping is free", decision="faq"))

    conversation = await get(database, Conversation, accepted.conversation_id)
    assert conversation.state == ConversationState.AGENT.value
    assert await count(database, Message, Message.direction == "out") == 0
    again = await next_pending(store, accepted.conversation_id)
    assert (again.message_id, again.conversation.state) == (
        accepted.message_id,
        ConversationState.AGENT,
    )
    assert (await store.complete(again, outcome(state=ConversationState.AGENT))).reply_ids == []
    assert await store.next_pending(accepted.conversation_id) is None


# ------------------------------------------------------------------------------------------ outbox


async def test_next_outbound_is_the_oldest_queued_reply_of_the_conversation(
    store: SqlConversationStore, database: Database
) -> None:
    one = await store.accept(inbound("m1", sender="one"))
    two = await store.accept(inbound("m2", sender="two"))
    assert one and two
    choices = (Choice("Yes", "y"),)
    first, second = await answer(store, one.conversation_id, "first", Reply("second", choices))
    (other,) = await answer(store, two.conversation_id, "other")

    queued = await store.next_outbound(one.conversation_id)

    assert queued is not None
    assert queued.message.id == first
    assert (queued.message.recipient_id, queued.message.channel) == ("one", Channel.WEB)
    assert (queued.message.reply.text, queued.message.language) == ("first", "en")
    assert (queued.attempts, queued.next_attempt_at, queued.customer_unreachable) == (
        0,
        None,
        False,
    )
    assert queued.customer_id == one.customer_id
    customer = await get(database, Customer, one.customer_id)
    assert queued.last_inbound_at == customer.last_inbound_at is not None
    assert await store.queued_conversation_ids([Channel.WEB]) == [
        one.conversation_id,
        two.conversation_id,
    ]
    assert await store.queued_conversation_ids([Channel.TELEGRAM]) == []

    await store.mark_sent(first, Delivery(("p-1", "p-2")))
    queued = await store.next_outbound(one.conversation_id)
    assert queued is not None
    assert (queued.message.id, queued.message.reply.choices) == (second, choices)
    assert (await store.next_outbound(two.conversation_id) or queued).message.id == other


async def test_mark_retry_keeps_the_reply_at_the_head_with_its_next_attempt(
    store: SqlConversationStore, database: Database
) -> None:
    accepted = await store.accept(inbound("m1"))
    assert accepted is not None
    first, second = await answer(store, accepted.conversation_id, "first", "second")
    later = datetime.now(UTC) + timedelta(seconds=30)

    await store.mark_retry(first, next_attempt_at=later, code="429", detail="slow down")
    queued = await store.next_outbound(accepted.conversation_id)

    assert queued is not None
    assert (queued.message.id, queued.attempts, queued.next_attempt_at) == (first, 1, later)
    row = await get(database, Message, first)
    assert (row.status, row.error_code, row.error_detail) == ("queued", "429", "slow down")

    await store.mark_sent(first, Delivery(("p-1",)))
    row = await get(database, Message, first)
    assert (row.status, row.attempts, row.next_attempt_at) == ("sent", 2, None)
    assert row.platform_message_id == "p-1"
    assert row.sent_at is not None
    queued = await store.next_outbound(accepted.conversation_id)
    assert queued is not None and queued.message.id == second


async def test_mark_failed_can_mark_the_customer_unreachable(
    store: SqlConversationStore, database: Database
) -> None:
    accepted = await store.accept(inbound("m1"))
    assert accepted is not None
    first, second = await answer(store, accepted.conversation_id, "first", "second")

    await store.mark_failed(
        first, code="403", detail="bot was blocked", customer_unreachable=accepted.customer_id
    )

    row = await get(database, Message, first)
    assert (row.status, row.attempts, row.error_code) == ("failed", 1, "403")
    customer = await get(database, Customer, accepted.customer_id)
    assert customer.unreachable_at is not None
    queued = await store.next_outbound(accepted.conversation_id)
    assert queued is not None
    assert (queued.message.id, queued.customer_unreachable) == (second, True)
    await store.mark_failed(second, code="unreachable", detail="-")
    assert await store.next_outbound(accepted.conversation_id) is None
    assert await store.queued_conversation_ids([Channel.WEB]) == []


async def test_mark_held_takes_a_reply_out_of_the_queue(
    store: SqlConversationStore, database: Database
) -> None:
    accepted = await store.accept(inbound("m1"))
    assert accepted is not None
    first, second = await answer(store, accepted.conversation_id, "first", "second")

    await store.mark_held(first, code="outside_window", detail="too late")

    row = await get(database, Message, first)
    assert (row.status, row.error_code, row.attempts) == ("held", "outside_window", 0)
    queued = await store.next_outbound(accepted.conversation_id)
    assert queued is not None and queued.message.id == second


async def test_two_chats_may_get_the_same_platform_message_id(
    store: SqlConversationStore, database: Database
) -> None:
    # Telegram numbers messages per chat: two customers' replies can both be message 42.
    one = await store.accept(inbound("m1", sender="one", channel=Channel.TELEGRAM))
    two = await store.accept(inbound("m2", sender="two", channel=Channel.TELEGRAM))
    assert one and two
    (a,) = await answer(store, one.conversation_id, "a")
    (b,) = await answer(store, two.conversation_id, "b")

    await store.mark_sent(a, Delivery(("42",)))
    await store.mark_sent(b, Delivery(("42",)))

    assert [(await get(database, Message, id_)).status for id_ in (a, b)] == ["sent", "sent"]
    # ...while inbound redeliveries are still dropped by their platform id.
    assert await store.accept(inbound("m1", sender="one", channel=Channel.TELEGRAM)) is None


# ---------------------------------------------------------------------------------- housekeeping


async def test_close_idle_closes_only_idle_bot_conversations_with_nothing_pending(
    database: Database,
) -> None:
    store = SqlConversationStore(database, inactivity_close=TINY)
    idle = await store.accept(inbound("i1", sender="idle"))
    waiting = await store.accept(inbound("w1", sender="waiting"))
    backlog = await store.accept(inbound("b1", sender="backlog"))
    assert idle and waiting and backlog
    await answer(store, idle.conversation_id, "bye")
    await answer(store, waiting.conversation_id, "wait", state=ConversationState.WAITING)

    assert await store.close_idle() == 1

    closed = await get(database, Conversation, idle.conversation_id)
    assert (closed.state, closed.close_reason) == ("closed", "inactive")
    assert closed.closed_at is not None
    for still_open in (waiting, backlog):
        conversation = await get(database, Conversation, still_open.conversation_id)
        assert conversation.closed_at is None
    assert await SqlConversationStore(database).close_idle() == 0


async def test_history_shows_a_customers_messages_without_notes(
    store: SqlConversationStore, database: Database
) -> None:
    accepted = await store.accept(inbound("m1", text="hello"))
    await store.accept(inbound("x1", sender="someone else"))
    assert accepted is not None
    choices = (Choice("Yes", "handoff:yes"),)
    (reply_id,) = await answer(store, accepted.conversation_id, Reply("hi! a person?", choices))
    async with database.write() as session:
        session.add(
            Message(
                conversation_id=accepted.conversation_id,
                customer_id=accepted.customer_id,
                channel="web",
                direction="out",
                author=Author.AGENT.value,
                kind=MessageKind.NOTE.value,
                text="private: grumpy customer",
                created_at=datetime.now(UTC),
                attempts=0,
            )
        )
    later = await store.accept(inbound("m2", text="yes"))
    assert later is not None

    history = await store.history(Channel.WEB, "c1")

    assert [(e.direction, e.author, e.kind, e.text) for e in history] == [
        ("in", "customer", "text", "hello"),
        ("out", "bot", "reply", "hi! a person?"),
        ("in", "customer", "text", "yes"),
    ]
    assert history[1].choices == choices
    assert history[1].status == DeliveryStatus.QUEUED.value
    after = await store.history(Channel.WEB, "c1", after_id=reply_id)
    assert [e.text for e in after] == ["yes"]
    assert [e.text for e in await store.history(Channel.WEB, "c1", limit=1)] == ["hello"]
    assert await store.history(Channel.TELEGRAM, "c1") == []


async def test_timestamps_come_back_aware_utc(
    store: SqlConversationStore, database: Database
) -> None:
    accepted = await store.accept(inbound("m1"))
    assert accepted is not None
    pending = await next_pending(store, accepted.conversation_id)
    (reply_id,) = (await store.complete(pending, outcome("hi"))).reply_ids
    rome = timezone(timedelta(hours=2))
    retry_at = datetime(2030, 5, 1, 12, 30, 15, 123456, tzinfo=rome)
    await store.mark_retry(reply_id, next_attempt_at=retry_at, code=None, detail="")

    queued = await store.next_outbound(accepted.conversation_id)
    message = await get(database, Message, accepted.message_id)
    conversation = await get(database, Conversation, accepted.conversation_id)
    customer = await get(database, Customer, accepted.customer_id)
    (entry, *_) = await store.history(Channel.WEB, "c1")
    assert queued is not None and queued.next_attempt_at is not None

    values = [
        pending.created_at,
        queued.next_attempt_at,
        message.created_at,
        message.processed_at,
        conversation.created_at,
        conversation.updated_at,
        customer.last_inbound_at,
        entry.created_at,
    ]
    assert all(value.tzinfo is UTC for value in values), values
    assert queued.next_attempt_at == retry_at  # the same instant, microseconds included
    assert abs(datetime.now(UTC) - message.created_at) < timedelta(minutes=1)


async def test_naive_datetimes_are_refused(
    store: SqlConversationStore,
) -> None:
    accepted = await store.accept(inbound("m1"))
    assert accepted is not None
    (reply_id,) = await answer(store, accepted.conversation_id, "hi")
    naive = datetime.now()  # the point of the test

    with pytest.raises(StatementError, match="naive datetime"):
        await store.mark_retry(reply_id, next_attempt_at=naive, code=None, detail="")


# ------------------------------------------------------------------------------------------ schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database_url(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[str]:
    """A database with no tables at all, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url
        return
    async with fresh_postgres_database() as url:
        yield url


def _schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_migrations_build_exactly_the_models_schema(empty_database_url: str) -> None:
    await upgrade(empty_database_url)

    engine = create_async_engine(empty_database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_schema_differences)
            revision = await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()

    assert differences == []
    head = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
    assert revision == head


async def test_migrations_downgrade_to_nothing_and_upgrade_again(empty_database_url: str) -> None:
    from alembic import command

    await upgrade(empty_database_url)
    await asyncio.to_thread(command.downgrade, alembic_config(empty_database_url), "base")

    engine = create_async_engine(empty_database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(
                lambda sync: sorted(
                    name for name in sync.dialect.get_table_names(sync) if name != "alembic_version"
                )
            )
    finally:
        await engine.dispose()
    assert tables == []

    await asyncio.to_thread(upgrade_sync, empty_database_url)
    database = Database.connect(empty_database_url)
    try:
        assert await SqlConversationStore(database).accept(inbound("m1")) is not None
    finally:
        await database.dispose()
