"""Long polling feeds the same processing as the webhook, and survives failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from channels.telegram.output import TelegramOutput
from channels.telegram.polling import TelegramPolling
from channels.telegram.routes import TelegramWebhook
from channels.telegram.updates import HANDLED_UPDATE_TYPES
from tests.channels.telegram.recording import RecordingSink
from tests.fakes.telegram_bot_api import FakeTelegram

pytestmark = pytest.mark.timeout(60)

CHAT = 5150


@asynccontextmanager
async def polling(
    output: TelegramOutput, webhook: TelegramWebhook
) -> AsyncIterator[TelegramPolling]:
    poller = TelegramPolling(output, webhook.process_update, timeout=1, backoff_initial=0.05)
    task = asyncio.create_task(poller.run())
    try:
        yield poller
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await webhook.close()


async def test_a_pushed_update_reaches_the_same_sink_as_the_webhook(
    fake: FakeTelegram, output: TelegramOutput, webhook: TelegramWebhook, sink: RecordingSink
) -> None:
    fake.webhook = {"url": "https://old.example.com/webhooks/telegram"}
    async with polling(output, webhook) as poller:
        update = fake.updates.text(CHAT, "How much is shipping?")
        await fake.push_update(update)
        (message,) = await sink.wait_for(1)
        assert message.message_id == f"u{update['update_id']}"
        assert message.text == "How much is shipping?"

        press = fake.updates.callback_query(CHAT, "feedback:5", buttons=[("Great", "feedback:5")])
        await fake.push_update(press)
        _, button = await sink.wait_for(2)
        assert (button.payload, button.text) == ("feedback:5", "Great")
        await fake.wait_for_calls("answerCallbackQuery")
        assert poller.offset == press["update_id"] + 1

    assert fake.webhook is None
    methods = [call.method for call in fake.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    polls = fake.calls_to("getUpdates")
    assert polls[0].params["allowed_updates"] == list(HANDLED_UPDATE_TYPES)
    assert [p.params.get("offset") for p in polls[:2]] == [None, update["update_id"] + 1]


async def test_a_redelivered_update_is_processed_once(
    fake: FakeTelegram, output: TelegramOutput, webhook: TelegramWebhook, sink: RecordingSink
) -> None:
    update = fake.updates.text(CHAT, "once")
    async with polling(output, webhook) as poller:
        await fake.push_update(update)
        await sink.wait_for(1)
        await fake.push_update(update)  # as if our offset confirmation had been lost
        later = fake.updates.text(CHAT, "later")
        await fake.push_update(later)
        await sink.wait_for(2)
        assert poller.offset == later["update_id"] + 1
    assert [m.text for m in sink.messages] == ["once", "later"]


async def test_errors_are_waited_out_and_nothing_is_lost(
    fake: FakeTelegram, output: TelegramOutput, webhook: TelegramWebhook, sink: RecordingSink
) -> None:
    fake.fail_next(1, 429, retry_after=1, method="deleteWebhook")
    fake.fail_next(2, 502, method="getUpdates")
    sink.fail = True  # the database is down when the first update arrives
    async with polling(output, webhook):
        first = fake.updates.text(CHAT, "while the database was down")
        await fake.push_update(first)
        await fake.push_update({"update_id": fake.updates.next_update_id(), "message": "junk"})
        await fake.wait_for_calls("getUpdates", count=3, timeout=10)
        await asyncio.sleep(0.2)
        assert sink.messages == [] and sink.accept_calls >= 1
        sink.fail = False
        (message,) = await sink.wait_for(1, timeout=10)
        assert message.text == "while the database was down"
        after = fake.updates.text(CHAT, "after the junk")
        await fake.push_update(after)
        await sink.wait_for(2, timeout=10)
    assert [m.text for m in sink.messages] == ["while the database was down", "after the junk"]
    assert [call.status for call in fake.calls_to("deleteWebhook")] == [429, 200]
    assert [call.status for call in fake.calls_to("getUpdates")][:3] == [502, 502, 200]
    wait = fake.calls_to("deleteWebhook")[1].at - fake.calls_to("deleteWebhook")[0].at
    assert wait >= 1.0  # Telegram's retry_after, not the 0.05 s backoff
