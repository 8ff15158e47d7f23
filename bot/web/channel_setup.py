"""Which channels this gateway hosts, built from the settings: web chat always, Telegram and
WhatsApp
when their credentials are set.

Each channel contributes an output (for the sender), routes (its webhooks) and, for Telegram in
polling mode, a background task. Their start and stop run in the app's ``cleanup_ctx``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field

from aiohttp import web

from bot.interfaces import (
    DeliveryReceiptSink,
    MessageSink,
    OutputChannel,
    ReachabilitySink,
    TranscriptSource,
)
from bot.messages import Channel
from bot.settings import Settings
from channels.webchat.live_hub import LiveHub
from channels.webchat.output import WebChatOutput
from channels.webchat.routes import WebChat

log = logging.getLogger(__name__)


class ChannelCore(MessageSink, TranscriptSource, DeliveryReceiptSink, ReachabilitySink):
    """Everything a channel adapter may ask of the core (implemented by the running app)."""


@dataclass
class HostedChannels:
    """The outputs by channel, plus what must run while the app runs."""

    outputs: dict[Channel, OutputChannel] = field(default_factory=dict)
    lifecycles: list[Callable[[], Awaitable[AsyncExitStack]]] = field(default_factory=list)
    hub: LiveHub = field(default_factory=LiveHub)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start every channel's resources (bot sessions, polling) and stop them in reverse
        order."""
        async with AsyncExitStack() as stack:
            for lifecycle in self.lifecycles:
                stack.push_async_exit(await lifecycle())
            try:
                yield
            finally:
                self.hub.close()


def attach_channels(app: web.Application, settings: Settings, core: ChannelCore) -> HostedChannels:
    """Add each enabled channel's routes to ``app`` and return what runs them."""
    hosted = HostedChannels()
    hosted.outputs[Channel.WEB] = WebChatOutput(hosted.hub)
    WebChat(core, core, hosted.hub).add_routes(app)
    if settings.whatsapp_enabled:
        _attach_whatsapp(app, settings, core, hosted)
    if settings.telegram_enabled:
        _attach_telegram(app, settings, core, hosted)
    return hosted


def _attach_whatsapp(
    app: web.Application, settings: Settings, core: ChannelCore, hosted: HostedChannels
) -> None:
    from channels.whatsapp.output import TwilioWhatsAppOutput
    from channels.whatsapp.routes import WhatsAppWebhook

    assert (
        settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_whatsapp_from
    )
    token = settings.twilio_auth_token.get_secret_value()
    output = TwilioWhatsAppOutput(
        settings.twilio_account_sid,
        token,
        settings.twilio_whatsapp_from,
        api_url=settings.twilio_api_url,
        status_callback_url=f"{settings.public_url}/webhooks/whatsapp/status",
    )
    hosted.outputs[Channel.WHATSAPP] = output
    WhatsAppWebhook(core, core, auth_token=token, public_url=settings.public_url).add_routes(app)

    async def lifecycle() -> AsyncExitStack:
        stack = AsyncExitStack()
        stack.push_async_callback(output.close)
        return stack

    hosted.lifecycles.append(lifecycle)


def _attach_telegram(
    app: web.Application, settings: Settings, core: ChannelCore, hosted: HostedChannels
) -> None:
    from channels.telegram.output import TelegramOutput
    from channels.telegram.polling import TelegramPolling
    from channels.telegram.routes import TelegramWebhook

    assert settings.telegram_token is not None
    output = TelegramOutput(
        settings.telegram_token.get_secret_value(), api_url=settings.telegram_api_url
    )
    hosted.outputs[Channel.TELEGRAM] = output
    secret = (
        settings.telegram_webhook_secret.get_secret_value()
        if settings.telegram_webhook_secret
        else ""
    )
    webhook = TelegramWebhook(core, core, output, secret=secret)
    polling = settings.telegram_mode == "polling"
    if not polling:
        webhook.add_routes(app)

    async def lifecycle() -> AsyncExitStack:
        stack = AsyncExitStack()
        await output.start()
        stack.push_async_callback(output.close)
        stack.push_async_callback(webhook.close)
        if polling:
            task = asyncio.create_task(
                TelegramPolling(output, webhook.process_update).run(), name="telegram-polling"
            )

            async def stop_polling() -> None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

            stack.push_async_callback(stop_polling)
        return stack

    hosted.lifecycles.append(lifecycle)
