"""The outbox sender through the real pipeline: retries, order, failures and a stop mid-send."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.interfaces import DeliveryError
from bot.messages import Channel
from bot.storage.models import Customer, Message
from tests.bot.pipeline_support import (
    PlatformOutput,
    ScriptedNlu,
    inbound,
    outbound_rows,
    pipeline_for,
    quick_behaviour,
)

pytestmark = pytest.mark.timeout(60)


def too_many_requests(retry_after: float) -> DeliveryError:
    return DeliveryError("Too Many Requests", code="429", retry_after=retry_after)


async def test_a_reply_is_retried_after_the_platforms_wait_and_delivered_once(
    database_url: str,
) -> None:
    output = PlatformOutput()
    output.failures = [too_many_requests(0.2), too_many_requests(0.2)]
    loop = asyncio.get_running_loop()
    async with pipeline_for(database_url, output, ScriptedNlu()) as pipeline:
        started = loop.time()
        assert await pipeline.inbox.accept(inbound("hello"))
        await output.wait_for(1)
        elapsed = loop.time() - started
        await pipeline.idle()
        (reply,) = await outbound_rows(pipeline.database)

    assert elapsed >= 0.39  # two waits of 0.2 s, as the platform asked
    assert elapsed < 2.0
    assert output.attempts == 3
    assert len(output.sent) == 1
    assert (reply.status, reply.attempts, reply.error_code) == ("sent", 3, "429")


async def test_replies_leave_in_order_even_when_the_first_needs_retries(
    database_url: str,
) -> None:
    output = PlatformOutput()
    output.failures = [too_many_requests(0.3)]
    async with pipeline_for(database_url, output, ScriptedNlu()) as pipeline:
        assert await pipeline.inbox.accept(inbound("first"))
        assert await pipeline.inbox.accept(inbound("second"))
        sent = await output.wait_for(2)
        await pipeline.idle()
        first, second = await outbound_rows(pipeline.database)

    assert [m.id for m in sent] == [first.id, second.id]
    assert [m.id for m in output.received] == [first.id, first.id, second.id]
    # The second reply was ready long before the first got through, and waited for it.
    assert first.sent_at is not None and second.sent_at is not None
    assert second.created_at < first.sent_at <= second.sent_at


async def test_a_reply_queued_behind_a_retrying_one_waits_for_it(database_url: str) -> None:
    output = PlatformOutput()
    output.failures = [too_many_requests(0.3)]
    async with pipeline_for(database_url, output, ScriptedNlu()) as pipeline:
        assert await pipeline.inbox.accept(inbound("first"))
        await output.wait_for_attempts(1)
        await asyncio.sleep(0.05)  # the failure is recorded: the first reply waits for its retry
        assert output.sent == []
        assert await pipeline.inbox.accept(inbound("second"))
        sent = await output.wait_for(2)
        await pipeline.idle()
        first, second = await outbound_rows(pipeline.database)

    assert [m.id for m in output.received] == [first.id, first.id, second.id]
    assert [m.id for m in sent] == [first.id, second.id]
    assert first.sent_at is not None and second.sent_at is not None
    assert first.sent_at <= second.sent_at


async def test_a_permanent_error_fails_that_reply_and_the_next_still_goes(
    sqlite_url: str,
) -> None:
    output = PlatformOutput()
    output.failures = [
        DeliveryError("Bad Request: message is too long", code="400", permanent=True)
    ]
    async with pipeline_for(sqlite_url, output, ScriptedNlu()) as pipeline:
        assert await pipeline.inbox.accept(inbound("first"))
        assert await pipeline.inbox.accept(inbound("second"))
        (sent,) = await output.wait_for(1)
        await pipeline.idle()
        first, second = await outbound_rows(pipeline.database)

    assert (first.status, first.attempts, first.error_code) == ("failed", 1, "400")
    assert first.error_detail == "Bad Request: message is too long"
    assert (second.status, sent.id) == ("sent", second.id)
    assert output.attempts == 2


async def test_an_unreachable_customer_is_marked_and_not_tried_again(sqlite_url: str) -> None:
    output = PlatformOutput()
    output.failures = [
        DeliveryError(
            "Forbidden: bot was blocked by the user", code="403", permanent=True, unreachable=True
        )
    ]
    async with pipeline_for(sqlite_url, output, ScriptedNlu()) as pipeline:
        assert await pipeline.inbox.accept(inbound("first"))
        await pipeline.idle()
        assert await pipeline.inbox.accept(inbound("second"))
        assert await pipeline.inbox.accept(inbound("hi", sender="someone else"))
        await pipeline.idle()
        first, second, other = await outbound_rows(pipeline.database)
        async with pipeline.database.read() as session:
            customer = await session.get(Customer, first.customer_id)

    assert customer is not None and customer.unreachable_at is not None
    assert (first.status, first.error_code) == ("failed", "403")
    assert (second.status, second.error_code) == ("failed", "unreachable")
    assert other.status == "sent"
    assert [m.recipient_id for m in output.received] == ["c1", "someone else"]


async def test_a_reply_fails_once_its_attempts_run_out(sqlite_url: str) -> None:
    output = PlatformOutput()
    output.failures = [DeliveryError("Bad Gateway", code="502") for _ in range(3)]
    behaviour = quick_behaviour(max_attempts=3)
    async with pipeline_for(sqlite_url, output, ScriptedNlu(), behaviour) as pipeline:
        assert await pipeline.inbox.accept(inbound("first"))
        await output.wait_for_attempts(3)
        await pipeline.idle()  # the third failure is being recorded
        assert await pipeline.inbox.accept(inbound("second"))
        await output.wait_for(1)
        await pipeline.idle()
        first, second = await outbound_rows(pipeline.database)

    assert (first.status, first.attempts, first.error_code) == ("failed", 3, "502")
    assert first.next_attempt_at is None
    assert second.status == "sent"
    assert output.attempts == 4


async def test_an_adapter_bug_is_retried_like_a_server_error(sqlite_url: str) -> None:
    output = PlatformOutput()
    output.failures = [KeyError("chat")]  # type: ignore[list-item]
    async with pipeline_for(sqlite_url, output, ScriptedNlu()) as pipeline:
        assert await pipeline.inbox.accept(inbound("hello"))
        await output.wait_for(1)
        await pipeline.idle()
        (reply,) = await outbound_rows(pipeline.database)

    assert (reply.status, reply.attempts) == ("sent", 2)


async def test_a_send_in_flight_when_stopping_is_finished_not_repeated(
    database_url: str,
) -> None:
    slow = PlatformOutput(latency=0.3)
    async with pipeline_for(database_url, slow, ScriptedNlu()) as pipeline:
        assert await pipeline.inbox.accept(inbound("hello"))
        # The platform has the message; its answer is on the way when we stop.
        await slow.changes.wait_until(lambda: len(slow.received) == 1)

    after_restart = PlatformOutput()
    async with pipeline_for(database_url, after_restart, ScriptedNlu()) as pipeline:
        await pipeline.sender.sweep()
        await pipeline.idle()
        (reply,) = await outbound_rows(pipeline.database)

    assert len(slow.sent) == 1
    assert after_restart.received == []
    assert (reply.status, reply.platform_message_id) == ("sent", f"rec-{reply.id}")


async def test_a_reply_outside_the_channels_window_is_held_for_a_person(sqlite_url: str) -> None:
    closed_window = PlatformOutput(window=timedelta(0))
    async with pipeline_for(sqlite_url, closed_window, ScriptedNlu()) as pipeline:
        assert await pipeline.inbox.accept(inbound("hello"))
        await pipeline.idle()
        (reply,) = await outbound_rows(pipeline.database)
    assert (reply.status, reply.error_code) == ("held", "outside_window")
    assert closed_window.attempts == 0

    open_window = PlatformOutput(window=timedelta(hours=24))
    async with pipeline_for(sqlite_url, open_window, ScriptedNlu()) as pipeline:
        assert await pipeline.inbox.accept(inbound("hello again"))
        await open_window.wait_for(1)


async def test_a_reply_for_a_channel_not_hosted_here_stays_queued(sqlite_url: str) -> None:
    output = PlatformOutput()
    async with pipeline_for(sqlite_url, output, ScriptedNlu()) as pipeline:
        accepted = await pipeline.store.accept(inbound("hi", channel=Channel.TELEGRAM))
        assert accepted is not None
        pending = await pipeline.store.next_pending(accepted.conversation_id)
        assert pending is not None
        outcome = await pipeline.engine.handle(pending)
        await pipeline.store.complete(pending, outcome)

        pipeline.sender.wake(accepted.conversation_id)  # e.g. an agent replied from this process
        await asyncio.wait_for(pipeline.sender.idle(), 5)
        async with pipeline.database.read() as session:
            statuses = list(
                await session.scalars(select(Message.status).where(Message.direction == "out"))
            )

    assert statuses == ["queued"]
    assert output.attempts == 0
