"""Feedback end to end on Telegram with the real Rasa: an FAQ answer asks "Was this helpful?" with
inline buttons, 👎 is stored and puts the question in the admins' review queue; a resolved handoff
is rated ⭐⭐⭐⭐⭐ with a button and the rating is stored with the agent's id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.storage.database import Database
from bot.storage.models import Feedback
from bot.web.app import PIPELINE
from tests.e2e.test_agent_handoff import WAIT, AgentClient
from tests.fakes.telegram_bot_api import TOKEN, FakeTelegram, TelegramUpdates
from tests.fixtures.gateway import SHIPPED_BEHAVIOUR, SHIPPED_FAQS, gateway_client, settings_for

pytestmark = [pytest.mark.rasa, pytest.mark.timeout(300)]

SECRET = "s3cret-Token_for-tests"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def gateway(
    telegram: FakeTelegram, rasa_url: str, sqlite_url: str
) -> AsyncIterator[TestClient]:
    settings = settings_for(
        sqlite_url,
        rasa_url=rasa_url,
        telegram_token=TOKEN,
        telegram_webhook_secret=SECRET,
        telegram_api_url=telegram.api_url,
    )
    async with gateway_client(settings) as client:
        yield client


async def post(client: TestClient, update: dict[str, Any]) -> None:
    response = await client.post(
        "/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert response.status == 200


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = message["reply_markup"]["inline_keyboard"]
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


async def feedback_rows(database: Database, kind: str) -> list[Feedback]:
    """The stored ratings of ``kind``, once there is one (the worker stores asynchronously)."""
    async with asyncio.timeout(WAIT):
        while True:
            async with database.read() as session:
                rows = list(await session.scalars(select(Feedback).where(Feedback.kind == kind)))
            if rows:
                return rows
            await asyncio.sleep(0.1)


async def test_a_thumbs_down_is_stored_and_the_question_reviewed(
    gateway: TestClient, telegram: FakeTelegram
) -> None:
    chat_id, updates = 5151, TelegramUpdates()
    await post(gateway, updates.text(chat_id, "How much is shipping?"))
    answer, request = await telegram.wait_for_messages(2, WAIT)
    assert answer["text"] == SHIPPED_FAQS.answer("faq/shipping_cost", "en")
    assert request["text"].startswith(SHIPPED_BEHAVIOUR.text("helpful_request", "en"))
    choices = buttons(request)
    assert [data for _, data in choices] == ["helpful:yes", "helpful:no"]

    await post(gateway, updates.callback_query(chat_id, "helpful:no", buttons=choices))
    [rating] = await feedback_rows(gateway.app[PIPELINE].database, "helpful")
    assert (rating.rating, rating.faq_key, rating.channel) == (1, "faq/shipping_cost", "telegram")
    assert rating.language == "en"

    agents = gateway.app[PIPELINE].desk.agents
    root = await agents.add_agent("root", "correct horse battery", is_admin=True)
    admin = AgentClient(gateway, (await agents.issue_token(root)).token)
    # The review item is written in the same transaction as the rating.
    [item] = (await admin.call("GET", "/api/v1/review?reason=low_rating"))["items"]
    assert (item["text"], item["status"], item["channel"]) == (
        "How much is shipping?",
        "open",
        "telegram",
    )
    assert item["faq_key"] == "faq/shipping_cost"
    assert item["conversation_id"] == rating.conversation_id


async def test_a_resolved_handoff_is_rated_with_the_agents_id(
    gateway: TestClient, telegram: FakeTelegram
) -> None:
    chat_id, updates = 6262, TelegramUpdates()
    agent = await AgentClient.create(gateway, "giulia")
    me = await agent.call("GET", "/api/v1/me")

    await post(
        gateway, updates.text(chat_id, "voglio parlare con un operatore", language_code="it")
    )
    await telegram.wait_for_messages(1, WAIT)
    conversation_id = (await agent.wait_for_waiting())["id"]
    await agent.call("POST", f"/api/v1/conversations/{conversation_id}/claim")
    await agent.call(
        "POST",
        f"/api/v1/conversations/{conversation_id}/messages",
        expect=201,
        json={"text": "Ecco fatto, ordine aggiornato."},
    )
    await agent.call("POST", f"/api/v1/conversations/{conversation_id}/resolve")
    request = (await telegram.wait_for_messages(3, WAIT))[2]
    assert request["text"].startswith(SHIPPED_BEHAVIOUR.text("feedback_request", "it"))
    choices = buttons(request)
    assert [data for _, data in choices] == [f"feedback:{n}" for n in range(1, 6)]

    await post(gateway, updates.callback_query(chat_id, "feedback:5", buttons=choices))
    [rating] = await feedback_rows(gateway.app[PIPELINE].database, "rating")
    assert (rating.rating, rating.agent_id, rating.conversation_id) == (
        5,
        me["id"],
        conversation_id,
    )
    assert (rating.channel, rating.language) == ("telegram", "it")
