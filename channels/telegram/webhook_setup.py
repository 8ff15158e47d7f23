"""Registering the gateway's webhook with Telegram (``carebot telegram set-webhook``).

Telegram only learns the webhook URL, the secret token it must send back and the update types we
handle through ``setWebhook``; this is run once per deployment (or whenever the public URL or the
secret changes), not at every start, so several gateway processes never race to set it.
"""

from __future__ import annotations

import os
import re

from telegram.error import TelegramError
from telegram.ext import ExtBot

from channels.telegram.delivery_errors import describe, without_token
from channels.telegram.routes import WEBHOOK_PATH
from channels.telegram.updates import HANDLED_UPDATE_TYPES

# What Telegram accepts as secret_token (setWebhook documentation).
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class WebhookSetupError(RuntimeError):
    """Telegram refused the webhook or could not be reached; the message says which and why."""


async def set_webhook(token: str, api_url: str, public_url: str, secret: str) -> str:
    """Point Telegram at ``public_url/webhooks/telegram`` with ``secret``; return that URL.

    Pending updates are kept (``drop_pending_updates=False``): whatever customers wrote while no
    webhook was set is delivered to the new one.

    Raises:
        WebhookSetupError: the secret has characters Telegram refuses, the token is wrong, or
            Telegram refused the URL (not https, unreachable, bad certificate).
    """
    if not _SECRET_TOKEN.match(secret):
        raise WebhookSetupError(
            "CAREBOT_TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
        )
    os.environ.setdefault("PTB_TIMEDELTA", "1")  # see TelegramOutput
    api = api_url.rstrip("/")
    url = public_url.rstrip("/") + WEBHOOK_PATH
    bot: ExtBot[None] = ExtBot(token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot")
    try:
        async with bot:  # getMe first: a wrong token is reported as such, not as a refused URL
            await bot.set_webhook(
                url,
                secret_token=secret,
                allowed_updates=list(HANDLED_UPDATE_TYPES),
                drop_pending_updates=False,
            )
    except TelegramError as exc:
        message = f"Telegram refused the webhook {url}: {describe(exc)}"
        raise WebhookSetupError(message) from without_token(exc)
    return url
