"""WhatsApp end to end: signed Twilio webhooks → real Rasa → replies through the fake Twilio API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.storage.database import Database
from bot.storage.models import Message
from tests.fakes.twilio_api import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, WHATSAPP_SANDBOX, FakeTwilio
from tests.fixtures.gateway import (
    SHIPPED_BEHAVIOUR,
    SHIPPED_FAQS,
    gateway_client,
    settings_for,
)

pytestmark = [pytest.mark.rasa, pytest.mark.timeout(300)]

PUBLIC_URL = "https://support.aurora.example"  # the gateway sits behind a reverse proxy
WEBHOOK = f"{PUBLIC_URL}/webhooks/whatsapp"
BEHAVIOUR = SHIPPED_BEHAVIOUR
CATALOG = SHIPPED_FAQS


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


@pytest.fixture
async def gateway(twilio: FakeTwilio, rasa_url: str, sqlite_url: str) -> AsyncIterator[TestClient]:
    settings = settings_for(
        sqlite_url,
        rasa_url=rasa_url,
        public_url=PUBLIC_URL,
        twilio_account_sid=FAKE_ACCOUNT_SID,
        twilio_auth_token=FAKE_AUTH_TOKEN,
        twilio_whatsapp_from=WHATSAPP_SANDBOX,
        twilio_api_url=twilio.url,
    )
    async with gateway_client(settings) as client:
        yield client


async def post_inbound(client: TestClient, twilio: FakeTwilio, form: dict[str, str]) -> int:
    headers, data = twilio.signed_inbound(WEBHOOK, form)
    response = await client.post("/webhooks/whatsapp", data=data, headers=headers)
    body = await response.text()
    if response.status == 200:
        assert "<Response" in body
    return response.status


async def stored_messages(url: str) -> int:
    database = Database.connect(url)
    try:
        async with database.read() as session:
            return int(await session.scalar(select(func.count()).select_from(Message)) or 0)
    finally:
        await database.dispose()


async def test_italian_returns_question_gets_the_returns_faq(
    gateway: TestClient, twilio: FakeTwilio
) -> None:
    assert await post_inbound(gateway, twilio, twilio.inbound_form("Come faccio un reso?")) == 200
    [sent] = await twilio.wait_for(1, 30)
    assert sent.form["To"] == "whatsapp:+393331234567"
    assert sent.form["From"] == WHATSAPP_SANDBOX
    assert sent.form["Body"] == CATALOG.answer("faq/returns", "it")


async def test_forged_or_missing_signature_is_refused_and_nothing_stored(
    gateway: TestClient, twilio: FakeTwilio, sqlite_url: str
) -> None:
    form = twilio.inbound_form("Come faccio un reso?")
    headers, data = twilio.signed_inbound(WEBHOOK, form)
    forged = dict(headers, **{"X-Twilio-Signature": "AAAA" + headers["X-Twilio-Signature"][4:]})
    tampered = dict(data, Body="Dammi un rimborso di 1000 euro")
    for post_headers, post_data in (
        (forged, data),
        ({"Content-Type": headers["Content-Type"]}, data),
        (headers, tampered),
    ):
        response = await gateway.post("/webhooks/whatsapp", data=post_data, headers=post_headers)
        assert response.status == 403
    # The local URL is not what Twilio signs: a signature for it is refused too.
    local = f"{gateway.make_url('/webhooks/whatsapp')}"
    response = await gateway.post(
        "/webhooks/whatsapp",
        data=data,
        headers={**headers, "X-Twilio-Signature": twilio.sign(local, data)},
    )
    assert response.status == 403
    await asyncio.sleep(0.5)
    assert twilio.messages == []
    assert await stored_messages(sqlite_url) == 0


async def test_same_message_sid_three_times_concurrently_gets_one_reply(
    gateway: TestClient, twilio: FakeTwilio
) -> None:
    form = twilio.inbound_form("How much is shipping?", sender="whatsapp:+447700900123")
    statuses = await asyncio.gather(*(post_inbound(gateway, twilio, form) for _ in range(3)))
    assert statuses == [200, 200, 200]
    # One answer, followed by its "was this helpful?" request: two messages, once.
    answer, helpful = await twilio.wait_for(2, 30)
    assert answer.form["Body"] == CATALOG.answer("faq/shipping_cost", "en")
    assert helpful.form["Body"].startswith(BEHAVIOUR.text("helpful_request", "en"))
    await asyncio.sleep(1.0)
    assert len(twilio.messages) == 2
    assert await post_inbound(gateway, twilio, form) == 200  # a late redelivery
    await asyncio.sleep(0.5)
    assert len(twilio.messages) == 2


async def test_429_twice_then_success_delivers_once_after_the_wait(
    gateway: TestClient, twilio: FakeTwilio
) -> None:
    twilio.fail_next(2, status=429, code=20429, retry_after=1)
    started = time.monotonic()
    assert await post_inbound(gateway, twilio, twilio.inbound_form("How much is shipping?")) == 200
    sent, helpful = await twilio.wait_for(2, 30)
    assert time.monotonic() - started >= 2.0  # two waits of retry_after
    assert sent.form["Body"] == CATALOG.answer("faq/shipping_cost", "en")
    assert helpful.form["Body"].startswith(BEHAVIOUR.text("helpful_request", "en"))
    await asyncio.sleep(0.5)
    assert len(twilio.messages) == 2  # the answer delivered once, then the helpful request


async def test_an_outage_is_survived(gateway: TestClient, twilio: FakeTwilio) -> None:
    twilio.fail_for(2.0, status=500)
    assert (
        await post_inbound(gateway, twilio, twilio.inbound_form("Quanto costa la spedizione?"))
        == 200
    )
    [sent] = await twilio.wait_for(1, 60)
    assert sent.form["Body"] == CATALOG.answer("faq/shipping_cost", "it")


async def test_status_callbacks_update_the_stored_reply(
    gateway: TestClient, twilio: FakeTwilio, sqlite_url: str
) -> None:
    assert await post_inbound(gateway, twilio, twilio.inbound_form("How much is shipping?")) == 200
    await twilio.wait_for(1, 30)
    sid = twilio.messages[0].sid
    status_url = str(gateway.make_url("/webhooks/whatsapp/status"))
    signed = f"{PUBLIC_URL}/webhooks/whatsapp/status"
    for status in ("sent", "delivered", "read"):
        assert await twilio.send_status(status_url, sid, status, signed_url=signed) == 200
    database = Database.connect(sqlite_url)
    try:
        async with database.read() as session:
            reply = await session.scalar(select(Message).where(Message.direction == "out"))
    finally:
        await database.dispose()
    assert reply is not None and reply.status == "read"
    assert reply.read_at is not None and reply.delivered_at is not None
