"""The inbox worker through the real pipeline: order, concurrency, restarts and engine failures.

Stored customer messages go through the real store, worker, engine and sender; only the NLU
(recorded answers with scripted timing) and the output channel (recording) are doubles.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select, update

from bot.engine import HandoffReason
from bot.messages import Channel, ConversationState, MessageKind
from bot.storage.models import Conversation, Handoff
from tests.bot.pipeline_support import (
    BEHAVIOUR,
    PlatformOutput,
    ScriptedNlu,
    inbound,
    inbound_rows,
    outbound_rows,
    pipeline_for,
    quick_behaviour,
)
from tests.fixtures.doubles import faq, intent

pytestmark = pytest.mark.timeout(60)

# Sweeps this rare never happen during a test: what it shows is driven by wake-ups alone.
NO_SWEEP = quick_behaviour(sweep=600)


async def test_a_conversation_is_processed_in_order_even_when_its_first_message_is_slow(
    database_url: str,
) -> None:
    nlu = ScriptedNlu(
        {
            "first": faq("first", "faq/shipping_cost"),
            "second": intent("second", "greet"),
            "third": intent("third", "thanks"),
        },
        delays={"first": 0.3},
    )
    output = PlatformOutput()
    async with pipeline_for(database_url, output, nlu, NO_SWEEP) as pipeline:
        for text in ("first", "second", "third"):
            assert await pipeline.inbox.accept(inbound(text))

        sent = await output.wait_for(3)
        replies = await outbound_rows(pipeline.database)
        messages = await inbound_rows(pipeline.database)

    # Each call ended before the next began, in the order the customer wrote.
    assert nlu.log == [
        ("start", "first"),
        ("end", "first"),
        ("start", "second"),
        ("end", "second"),
        ("start", "third"),
        ("end", "third"),
    ]
    assert [r.reply_to_id for r in replies] == [m.id for m in messages]
    assert [m.id for m in sent] == [r.id for r in replies]
    assert [m.reply.text for m in sent][1:] == [
        BEHAVIOUR.text("greet", "en"),
        BEHAVIOUR.text("thanks", "en"),
    ]


async def test_a_message_left_by_a_crash_is_processed_before_a_new_one(
    database_url: str,
) -> None:
    nlu = ScriptedNlu(delays={"left behind": 0.1})
    output = PlatformOutput()
    async with pipeline_for(database_url, output, nlu, NO_SWEEP) as pipeline:
        # Stored, but the process stopped before the worker saw it (and no sweep runs here).
        assert await pipeline.store.accept(inbound("left behind")) is not None
        assert await pipeline.inbox.accept(inbound("new one"))

        sent = await output.wait_for(2)
        replies = await outbound_rows(pipeline.database)
        messages = await inbound_rows(pipeline.database)

    assert nlu.calls == ["left behind", "new one"]
    assert [r.reply_to_id for r in replies] == [m.id for m in messages]
    assert [m.id for m in sent] == [r.id for r in replies]


async def test_messages_arriving_while_the_first_is_in_the_nlu_wait_their_turn(
    database_url: str,
) -> None:
    gate = asyncio.Event()
    nlu = ScriptedNlu(gates={"first": gate})
    output = PlatformOutput()
    async with pipeline_for(database_url, output, nlu, NO_SWEEP) as pipeline:
        assert await pipeline.inbox.accept(inbound("first"))
        await nlu.changes.wait_until(lambda: nlu.started("first") == 1)
        assert await pipeline.inbox.accept(inbound("second"))
        assert await pipeline.inbox.accept(inbound("third"))
        gate.set()

        sent = await output.wait_for(3)
        replies = await outbound_rows(pipeline.database)
        messages = await inbound_rows(pipeline.database)

    assert nlu.calls == ["first", "second", "third"]
    assert nlu.max_in_flight == 1
    assert [r.reply_to_id for r in replies] == [m.id for m in messages]
    assert [m.id for m in sent] == [r.id for r in replies]


async def test_many_conversations_progress_at_once(sqlite_url: str) -> None:
    customers = 8
    # Every call waits until all eight are in flight: processing one at a time would time out.
    nlu = ScriptedNlu(barrier=asyncio.Barrier(customers))
    output = PlatformOutput()
    async with pipeline_for(sqlite_url, output, nlu, NO_SWEEP) as pipeline:
        for n in range(customers):
            assert await pipeline.inbox.accept(inbound(f"question {n}", sender=f"c{n}"))

        sent = await output.wait_for(customers)

    assert nlu.max_in_flight == customers
    assert sorted(m.recipient_id for m in sent) == sorted(f"c{n}" for n in range(customers))


async def test_a_redelivered_message_is_answered_once(sqlite_url: str) -> None:
    nlu = ScriptedNlu()
    output = PlatformOutput()
    async with pipeline_for(sqlite_url, output, nlu) as pipeline:
        message = inbound("hello there")
        assert await pipeline.inbox.accept(message) is True
        assert await pipeline.inbox.accept(message) is False
        await pipeline.idle()
        assert await pipeline.inbox.accept(message) is False
        await pipeline.idle()

    assert nlu.calls == ["hello there"]
    assert len(output.sent) == 1


async def test_a_restart_processes_each_stored_message_once_and_sends_each_reply_once(
    database_url: str,
) -> None:
    never = asyncio.Event()
    first_nlu = ScriptedNlu(gates={"b1": never, "c1": never})
    first_output = PlatformOutput()
    async with pipeline_for(database_url, first_output, first_nlu) as pipeline:
        for sender, text in (("a", "a1"), ("b", "b1"), ("b", "b2"), ("c", "c1")):
            assert await pipeline.inbox.accept(inbound(text, sender=sender))
        await first_output.wait_for(1)  # a1 answered...
        await first_nlu.changes.wait_until(lambda: first_nlu.in_flight == 2)  # ...b1, c1 stuck
    # The pipeline stopped with b1 and c1 in the NLU and b2 never looked at.
    assert [m.recipient_id for m in first_output.sent] == ["a"]

    second_nlu = ScriptedNlu()
    second_output = PlatformOutput()
    async with pipeline_for(database_url, second_output, second_nlu) as pipeline:
        await second_output.wait_for(3)
        # Nothing more turns up, however often the stored work is looked for.
        await pipeline.worker.sweep()
        await pipeline.sender.sweep()
        await pipeline.idle()
        messages = await inbound_rows(pipeline.database)
        replies = await outbound_rows(pipeline.database)

    assert sorted(second_nlu.calls) == ["b1", "b2", "c1"]
    assert second_nlu.calls.index("b1") < second_nlu.calls.index("b2")
    assert sorted(m.recipient_id for m in second_output.sent) == ["b", "b", "c"]
    assert all(m.processed_at is not None for m in messages)
    assert Counter(r.reply_to_id for r in replies) == Counter({m.id: 1 for m in messages})
    assert {r.status for r in replies} == {"sent"}
    everything_sent = first_output.received + second_output.received
    assert sorted(m.id for m in everything_sent) == [r.id for r in replies]


async def test_an_engine_failing_three_times_hands_off_with_a_notice(sqlite_url: str) -> None:
    nlu = ScriptedNlu(errors={"boom": RuntimeError("engine bug")})
    output = PlatformOutput()
    async with pipeline_for(sqlite_url, output, nlu) as pipeline:
        first = await pipeline.store.accept(inbound("boom"))
        second = await pipeline.store.accept(inbound("and now?"))
        assert first is not None and second is not None
        pipeline.worker.wake(first.conversation_id)

        (notice,) = await output.wait_for(1)
        await pipeline.idle()
        messages = await inbound_rows(pipeline.database)
        replies = await outbound_rows(pipeline.database)
        async with pipeline.database.read() as session:
            handoffs = list(await session.scalars(select(Handoff)))
            conversation = await session.get(Conversation, first.conversation_id)

    assert nlu.started("boom") == 3
    assert notice.reply.kind == MessageKind.NOTICE
    assert notice.reply.text == BEHAVIOUR.text("nlu_unavailable", notice.language)
    assert [(h.conversation_id, h.reason) for h in handoffs] == [
        (first.conversation_id, HandoffReason.ENGINE_ERROR)
    ]
    assert conversation is not None and conversation.state == ConversationState.WAITING.value
    # Neither message is lost; the one behind the failure waited, then met a silent bot.
    assert [m.processed_at is not None for m in messages] == [True, True]
    assert [r.reply_to_id for r in replies] == [first.message_id]
    assert nlu.started("and now?") == 0


async def test_an_agent_taking_over_while_the_engine_thinks_silences_the_bot(
    sqlite_url: str,
) -> None:
    gate = asyncio.Event()
    nlu = ScriptedNlu(
        {"shipping?": faq("shipping?", "faq/shipping_cost")}, gates={"shipping?": gate}
    )
    output = PlatformOutput()
    async with pipeline_for(sqlite_url, output, nlu) as pipeline:
        accepted = await pipeline.store.accept(inbound("shipping?"))
        assert accepted is not None
        pipeline.worker.wake(accepted.conversation_id)
        await nlu.changes.wait_until(lambda: nlu.started("shipping?") == 1)
        async with pipeline.database.write() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == accepted.conversation_id)
                .values(state=ConversationState.AGENT.value)
            )
        gate.set()
        await pipeline.idle()
        messages = await inbound_rows(pipeline.database)
        replies = await outbound_rows(pipeline.database)
        async with pipeline.database.read() as session:
            conversation = await session.get(Conversation, accepted.conversation_id)

    assert replies == [] and output.attempts == 0
    assert messages[0].processed_at is not None
    assert conversation is not None and conversation.state == ConversationState.AGENT.value


async def test_only_the_hosted_channels_are_processed(sqlite_url: str) -> None:
    nlu = ScriptedNlu()
    output = PlatformOutput()
    async with pipeline_for(sqlite_url, output, nlu) as pipeline:
        assert await pipeline.inbox.accept(inbound("from telegram", channel=Channel.TELEGRAM))
        assert await pipeline.inbox.accept(inbound("from the web"))
        await output.wait_for(1)
        await pipeline.worker.sweep()
        await pipeline.idle()
        pending = await pipeline.store.pending_conversation_ids([Channel.TELEGRAM])

    assert nlu.calls == ["from the web"]
    assert len(pending) == 1  # left for the process that hosts Telegram


async def test_a_sweep_leaves_conversations_being_drained_alone(database_url: str) -> None:
    nlu = ScriptedNlu(delays={"slow": 0.5})
    output = PlatformOutput()
    async with pipeline_for(database_url, output, nlu, NO_SWEEP) as pipeline:
        assert await pipeline.inbox.accept(inbound("slow", sender="a"))
        assert await pipeline.inbox.accept(inbound("next", sender="a"))
        await nlu.changes.wait_until(lambda: nlu.in_flight == 1)
        # Both messages are unprocessed, but their conversation's drain will reach them in order.
        assert await pipeline.worker.sweep() == 0
        await output.wait_for(2)
        await pipeline.idle()
    assert nlu.calls == ["slow", "next"]  # each looked at once, in order
