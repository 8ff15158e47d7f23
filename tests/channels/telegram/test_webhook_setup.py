"""``carebot telegram set-webhook``'s work: registering the URL, the secret and the update types."""

from __future__ import annotations

import pytest

from channels.telegram.updates import HANDLED_UPDATE_TYPES
from channels.telegram.webhook_setup import WebhookSetupError, set_webhook
from tests.channels.telegram.conftest import SECRET
from tests.fakes.telegram_bot_api import TOKEN, FakeTelegram


async def test_the_webhook_is_registered_with_secret_and_update_types(fake: FakeTelegram) -> None:
    url = await set_webhook(TOKEN, fake.api_url, "https://bot.example.com/", SECRET)
    assert url == "https://bot.example.com/webhooks/telegram"
    assert fake.webhook == {
        "url": url,
        "secret_token": SECRET,
        "allowed_updates": list(HANDLED_UPDATE_TYPES),
        "drop_pending_updates": False,
    }


async def test_a_wrong_token_is_reported_without_showing_it(fake: FakeTelegram) -> None:
    with pytest.raises(WebhookSetupError) as raised:
        await set_webhook("42:not-the-token", fake.api_url, "https://bot.example.com", SECRET)
    assert "rejected" in str(raised.value)
    assert "not-the-token" not in str(raised.value) and raised.value.__cause__ is None
    assert fake.webhook is None


async def test_a_secret_telegram_would_refuse_is_caught_first(fake: FakeTelegram) -> None:
    with pytest.raises(WebhookSetupError, match="A-Z"):
        await set_webhook(TOKEN, fake.api_url, "https://bot.example.com", "has spaces!")
    assert fake.calls == []


async def test_a_refusal_by_telegram_names_the_url(fake: FakeTelegram) -> None:
    fake.fail_next(1, 400, method="setWebhook")
    with pytest.raises(WebhookSetupError, match=r"https://bot\.example\.com/webhooks/telegram"):
        await set_webhook(TOKEN, fake.api_url, "https://bot.example.com", SECRET)
