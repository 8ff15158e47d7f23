"""Fixtures for the Telegram adapter: the fake Bot API, a started output, a webhook test client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.web.errors import json_errors
from channels.telegram.output import TelegramOutput
from channels.telegram.routes import TelegramWebhook
from tests.channels.telegram.recording import RecordingReachability, RecordingSink
from tests.fakes.telegram_bot_api import TOKEN, FakeTelegram

SECRET = "s3cret-Token_for-tests"
MAX_BODY_BYTES = 256 * 1024  # as the gateway's app


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.fixture
async def output(fake: FakeTelegram) -> AsyncIterator[TelegramOutput]:
    # Pacing per chat has a test of its own; elsewhere it would only make tests slow.
    output = TelegramOutput(TOKEN, api_url=fake.api_url, per_chat_interval=0.01, request_timeout=5)
    await output.start()
    try:
        yield output
    finally:
        await output.close()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def reachability() -> RecordingReachability:
    return RecordingReachability()


@asynccontextmanager
async def webhook_client(webhook: TelegramWebhook) -> AsyncIterator[TestClient]:
    """The webhook's route in an app with the gateway's error middleware and body limit."""
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY_BYTES)
    webhook.add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client
    await webhook.close()


@pytest.fixture
async def webhook(
    sink: RecordingSink, reachability: RecordingReachability, output: TelegramOutput
) -> TelegramWebhook:
    return TelegramWebhook(sink, reachability, output, secret=SECRET)


@pytest.fixture
async def client(webhook: TelegramWebhook) -> AsyncIterator[TestClient]:
    async with webhook_client(webhook) as client:
        yield client
