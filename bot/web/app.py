"""The gateway's aiohttp application factory: the composition root of the web process.

It adds each hosted channel's routes, then opens the pipeline (database, workers, NLU client) and
the
channels' resources in ``cleanup_ctx``. Handlers reach shared objects through typed
:class:`aiohttp.web.AppKey` s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from bot.event_hub import EventHub
from bot.interfaces import NluClient
from bot.messages import Channel, DeliveryStatus, InboundMessage, TranscriptEntry
from bot.pipeline import Pipeline, load_faqs, running_pipeline
from bot.settings import Behaviour, Settings
from bot.web.channel_setup import ChannelCore, HostedChannels, attach_channels
from bot.web.errors import json_errors
from bot.web.health import healthz, metrics, readyz_handler
from handoff.web import attach_agent_desk
from handoff.web.admin_pages import add_admin_pages
from handoff.web.auth import authenticate, console_session
from handoff.web.console import add_console_routes
from handoff.web.events_stream import add_events_route
from handoff.web.faq_source import FAQ_SOURCE, FaqSource

PIPELINE: web.AppKey[Pipeline] = web.AppKey("pipeline", Pipeline)
CHANNELS: web.AppKey[HostedChannels] = web.AppKey("channels", HostedChannels)

# Webhook bodies and chat messages are small; anything larger is refused with a JSON 413.
MAX_BODY_BYTES = 256 * 1024


def create_app(
    settings: Settings, behaviour: Behaviour, *, nlu: NluClient | None = None
) -> web.Application:
    """Build the gateway. ``nlu`` replaces the Rasa client (tests of the Rasa-down path)."""
    settings.check_channels()
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY_BYTES)
    hosted = attach_channels(app, settings, RunningCore(app))
    app[CHANNELS] = hosted

    async def pipeline_ctx(app: web.Application) -> AsyncIterator[None]:
        async with running_pipeline(settings, behaviour, hosted.outputs, nlu=nlu) as pipeline:
            app[PIPELINE] = pipeline
            async with hosted.running():
                yield

    app.cleanup_ctx.append(pipeline_ctx)
    attach_agent_desk(app, settings, lambda app: app[PIPELINE].desk)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz_handler(PIPELINE))
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", _to_chat)
    add_events_route(app, _events_of, authenticate, session_of=console_session)
    console = add_console_routes(
        app, console_session, secure_cookies=settings.public_url.startswith("https://")
    )
    app[FAQ_SOURCE] = FaqSource(lambda: load_faqs(settings, behaviour))
    add_admin_pages(app, console, faqs=app[FAQ_SOURCE])
    return app


def _events_of(app: web.Application) -> EventHub:
    return app[PIPELINE].events


class RunningCore(ChannelCore):
    """The core as channel adapters see it, forwarding to the pipeline once the app has started."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def accept(self, message: InboundMessage) -> bool:
        return await self._app[PIPELINE].inbox.accept(message)

    async def history(
        self, channel: Channel, platform_id: str, *, after_id: int = 0, limit: int = 200
    ) -> list[TranscriptEntry]:
        store = self._app[PIPELINE].store
        return await store.history(channel, platform_id, after_id=after_id, limit=limit)

    async def record_delivery(
        self,
        channel: Channel,
        platform_message_id: str,
        status: DeliveryStatus,
        *,
        error_code: str | None = None,
        error_detail: str | None = None,
    ) -> bool:
        receipts = self._app[PIPELINE].receipts
        return await receipts.record_delivery(
            channel, platform_message_id, status, error_code=error_code, error_detail=error_detail
        )

    async def set_reachable(self, channel: Channel, platform_id: str, reachable: bool) -> None:
        await self._app[PIPELINE].receipts.set_reachable(channel, platform_id, reachable)


async def _to_chat(request: web.Request) -> web.Response:
    raise web.HTTPFound("/chat")
