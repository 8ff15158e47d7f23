"""A customer asks for a person on WhatsApp and on Telegram, an agent works the conversation
through the API, resolves it, and the bot takes over again: real Rasa, platform fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.web.app import PIPELINE
from tests.fakes.telegram_bot_api import TOKEN, FakeTelegram, TelegramUpdates
from tests.fakes.twilio_api import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, WHATSAPP_SANDBOX, FakeTwilio
from tests.fixtures.gateway import SHIPPED_BEHAVIOUR, SHIPPED_FAQS, gateway_client, settings_for

pytestmark = [pytest.mark.rasa, pytest.mark.timeout(300)]

PUBLIC_URL = "https://support.aurora.example"
TELEGRAM_SECRET = "s3cret-Token_for-tests"
WAIT = 30.0


class AgentClient:
    """An agent using the API with a bearer token, as an integration or the console would."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    async def create(cls, client: TestClient, username: str) -> AgentClient:
        agents = client.app[PIPELINE].desk.agents
        agent = await agents.add_agent(
            username, "correct horse battery", display_name="Giulia", languages=["it"]
        )
        return cls(client, (await agents.issue_token(agent)).token)

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, headers=self.headers, **kwargs)
        assert response.status == expect, await response.text()
        return await response.json()

    async def wait_for_waiting(self) -> dict[str, Any]:
        async with asyncio.timeout(WAIT):
            while True:
                queue = await self.call("GET", "/api/v1/queue")
                if queue["waiting"]:
                    [conversation] = queue["waiting"]
                    return dict(conversation)
                await asyncio.sleep(0.1)

    async def wait_for_customer_message(self, conversation_id: int, text: str) -> dict[str, Any]:
        async with asyncio.timeout(WAIT):
            while True:
                body = await self.call("GET", f"/api/v1/conversations/{conversation_id}/messages")
                found = [
                    m for m in body["messages"] if m["direction"] == "in" and m["text"] == text
                ]
                if found:
                    return dict(found[0])
                await asyncio.sleep(0.1)


async def work_the_handoff(
    client: TestClient,
    say: Callable[[str], Awaitable[None]],
    sent: Callable[[int], Awaitable[list[str]]],
) -> list[str]:
    """The scenario, whatever the channel: ``say`` posts a customer message, ``sent(n)`` waits
    until the customer got ``n`` messages and returns their texts."""
    agent = await AgentClient.create(client, "giulia")

    await say("voglio parlare con un operatore")
    [notice] = await sent(1)
    waiting = await agent.wait_for_waiting()
    assert waiting["state"] == "waiting" and waiting["language"] == "it"
    conversation_id = waiting["id"]

    claimed = await agent.call("POST", f"/api/v1/conversations/{conversation_id}/claim")
    assert claimed["state"] == "agent" and claimed["agent"]["username"] == "giulia"
    await agent.call(
        "POST",
        f"/api/v1/conversations/{conversation_id}/messages",
        expect=201,
        json={"text": "Ciao, sono Giulia: come posso aiutarti?"},
    )
    texts = await sent(2)
    assert texts[1] == "Giulia: Ciao, sono Giulia: come posso aiutarti?"

    # The customer's next message goes to the agent, and the bot stays silent.
    await say("Quanto costa la spedizione?")
    await agent.wait_for_customer_message(conversation_id, "Quanto costa la spedizione?")
    await client.app[PIPELINE].idle()
    await asyncio.sleep(0.5)
    assert len(await sent(2)) == 2

    resolved = await agent.call("POST", f"/api/v1/conversations/{conversation_id}/resolve")
    assert resolved["state"] == "bot" and resolved["handoff"]["ended_reason"] == "resolved"
    texts = await sent(3)
    assert texts[2].startswith(SHIPPED_BEHAVIOUR.text("feedback_request", "it"))

    # After resolution the bot answers again.
    await say("Quanto costa la spedizione?")
    texts = await sent(4)
    assert texts[3] == SHIPPED_FAQS.answer("faq/shipping_cost", "it")
    assert notice
    return texts


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


async def test_whatsapp_customer_served_by_an_agent_then_by_the_bot_again(
    twilio: FakeTwilio, rasa_url: str, sqlite_url: str
) -> None:
    settings = settings_for(
        sqlite_url,
        rasa_url=rasa_url,
        public_url=PUBLIC_URL,
        twilio_account_sid=FAKE_ACCOUNT_SID,
        twilio_auth_token=FAKE_AUTH_TOKEN,
        twilio_whatsapp_from=WHATSAPP_SANDBOX,
        twilio_api_url=twilio.url,
    )
    customer = "whatsapp:+393331112222"
    async with gateway_client(settings) as client:

        async def say(text: str) -> None:
            headers, data = twilio.signed_inbound(
                f"{PUBLIC_URL}/webhooks/whatsapp", twilio.inbound_form(text, sender=customer)
            )
            response = await client.post("/webhooks/whatsapp", data=data, headers=headers)
            assert response.status == 200

        async def sent(count: int) -> list[str]:
            messages = await twilio.wait_for(count, WAIT)
            assert all(m.form["To"] == customer for m in messages)
            return [m.form["Body"] for m in messages]

        texts = await work_the_handoff(client, say, sent)
    # WhatsApp shows the feedback choices as a numbered list.
    assert "\n1. ⭐" in texts[2] and "\n5. ⭐⭐⭐⭐⭐" in texts[2]


async def test_telegram_customer_served_by_an_agent_then_by_the_bot_again(
    telegram: FakeTelegram, rasa_url: str, sqlite_url: str
) -> None:
    settings = settings_for(
        sqlite_url,
        rasa_url=rasa_url,
        telegram_token=TOKEN,
        telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_url=telegram.api_url,
    )
    chat_id = 4242
    updates = TelegramUpdates()
    async with gateway_client(settings) as client:

        async def say(text: str) -> None:
            response = await client.post(
                "/webhooks/telegram",
                json=updates.text(chat_id, text, language_code="it"),
                headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
            )
            assert response.status == 200

        async def sent(count: int) -> list[str]:
            messages = await telegram.wait_for_messages(count, WAIT)
            assert all(m["chat"]["id"] == chat_id for m in messages)
            return [m["text"] for m in messages]

        await work_the_handoff(client, say, sent)
        feedback = telegram.messages_to(chat_id)[2]
    # Telegram shows the feedback choices as inline buttons.
    buttons = [
        b["callback_data"] for row in feedback["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert buttons == [f"feedback:{n}" for n in range(1, 6)]
