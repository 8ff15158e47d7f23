"""Telegram end to end: webhook and polling updates → real Rasa → replies via the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.settings import Settings
from bot.storage.database import Database
from bot.storage.models import Customer
from tests.fakes.telegram_bot_api import TOKEN, FakeTelegram, TelegramUpdates
from tests.fixtures.gateway import (
    SHIPPED_BEHAVIOUR,
    SHIPPED_FAQS,
    gateway_client,
    settings_for,
)

pytestmark = [pytest.mark.rasa, pytest.mark.timeout(300)]

SECRET = "s3cret-Token_for-tests"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
BEHAVIOUR = SHIPPED_BEHAVIOUR
CATALOG = SHIPPED_FAQS


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def telegram_settings(sqlite_url: str, rasa_url: str, fake: FakeTelegram, mode: str) -> Settings:
    return settings_for(
        sqlite_url,
        rasa_url=rasa_url,
        telegram_token=TOKEN,
        telegram_webhook_secret=SECRET,
        telegram_api_url=fake.api_url,
        telegram_mode=mode,
    )


@pytest.fixture
async def gateway(
    telegram: FakeTelegram, rasa_url: str, sqlite_url: str
) -> AsyncIterator[TestClient]:
    async with gateway_client(
        telegram_settings(sqlite_url, rasa_url, telegram, "webhook")
    ) as client:
        yield client


async def post_update(
    client: TestClient, update: dict[str, Any], secret: str | None = SECRET
) -> int:
    headers = {HEADER: secret} if secret is not None else {}
    response = await client.post("/webhooks/telegram", json=update, headers=headers)
    return response.status


async def test_an_english_question_gets_the_english_faq(
    gateway: TestClient, telegram: FakeTelegram
) -> None:
    updates = TelegramUpdates()
    assert await post_update(gateway, updates.text(1001, "How much is shipping?")) == 200
    [sent] = await telegram.wait_for_messages(1, 30)
    assert sent["chat"]["id"] == 1001
    assert sent["text"] == CATALOG.answer("faq/shipping_cost", "en")


async def test_wrong_or_missing_secret_is_refused(
    gateway: TestClient, telegram: FakeTelegram, sqlite_url: str
) -> None:
    updates = TelegramUpdates()
    assert await post_update(gateway, updates.text(1002, "hello"), secret="wrong") == 403
    assert await post_update(gateway, updates.text(1002, "hello"), secret=None) == 403
    await asyncio.sleep(0.5)
    assert telegram.sent_messages == []
    database = Database.connect(sqlite_url)
    try:
        async with database.read() as session:
            assert (await session.scalars(select(Customer))).all() == []
    finally:
        await database.dispose()


async def test_the_same_update_three_times_concurrently_gets_one_reply(
    gateway: TestClient, telegram: FakeTelegram
) -> None:
    update = TelegramUpdates().text(1003, "Quanto costa la spedizione?", language_code="it")
    statuses = await asyncio.gather(*(post_update(gateway, update) for _ in range(3)))
    assert statuses == [200, 200, 200]
    [sent] = await telegram.wait_for_messages(1, 30)
    assert sent["text"] == CATALOG.answer("faq/shipping_cost", "it")
    await asyncio.sleep(1.0)
    assert len(telegram.sent_messages) == 1


async def test_a_blocked_bot_marks_the_customer_unreachable_without_a_retry_storm(
    gateway: TestClient, telegram: FakeTelegram, sqlite_url: str
) -> None:
    telegram.block(1004)
    assert await post_update(gateway, TelegramUpdates().text(1004, "How much is shipping?")) == 200
    await telegram.wait_for_calls("sendMessage", 1, 30)
    await asyncio.sleep(1.5)
    assert len(telegram.calls_to("sendMessage")) == 1
    database = Database.connect(sqlite_url)
    try:
        async with database.read() as session:
            customer = await session.scalar(select(Customer).where(Customer.platform_id == "1004"))
    finally:
        await database.dispose()
    assert customer is not None and customer.unreachable_at is not None


async def test_the_offer_of_a_person_uses_inline_buttons_and_the_callback_is_answered(
    gateway: TestClient, telegram: FakeTelegram
) -> None:
    updates = TelegramUpdates()
    await post_update(gateway, updates.text(1005, "what's the weather like in Paris tomorrow?"))
    await telegram.wait_for_messages(1, 30)
    await post_update(gateway, updates.text(1005, "who won the football match yesterday?"))
    [_, offer] = await telegram.wait_for_messages(2, 30)
    keyboard = offer["reply_markup"]["inline_keyboard"]
    payloads = [button["callback_data"] for row in keyboard for button in row]
    assert payloads == ["handoff:yes", "handoff:no"]
    buttons = [(button["text"], button["callback_data"]) for row in keyboard for button in row]
    await post_update(gateway, updates.callback_query(1005, "handoff:yes", buttons=buttons))
    [*_, notice] = await telegram.wait_for_messages(3, 30)
    assert notice["text"] == BEHAVIOUR.text("handoff_requested", "en")
    await telegram.wait_for_calls("answerCallbackQuery", 1, 10)


async def test_polling_mode_answers_like_webhook_mode(
    telegram: FakeTelegram, rasa_url: str, sqlite_url: str
) -> None:
    settings = telegram_settings(sqlite_url, rasa_url, telegram, "polling")
    async with gateway_client(settings):
        await telegram.push_update(TelegramUpdates().text(1006, "How much is shipping?"))
        [sent] = await telegram.wait_for_messages(1, 30)
        assert sent["text"] == CATALOG.answer("faq/shipping_cost", "en")
