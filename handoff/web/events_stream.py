"""``GET /api/v1/events``: the agent's live events as server-sent events.

Each event is ``id:`` (``<process epoch>-<sequence>``, for ``Last-Event-ID``), ``event:`` and one
JSON ``data:`` line; a ``: ping`` comment every 15 s keeps proxies from closing an idle stream. A
reconnect with ``Last-Event-ID`` replays what the agent missed from the hub's ring buffer, or
starts with ``event: resync`` when it cannot (another process, too long away): the console then
reloads what it shows. Filtering happens in the hub, so an agent's stream never carries another
agent's messages.

Authentication is the desk's (bearer token or console session cookie), checked when the stream
opens; a console session is checked again at every ping, so a logged-out session stops receiving
within 15 s.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.event_hub import EventHub, StreamItem, Viewer
from handoff.principal import Principal

log = logging.getLogger(__name__)

PING_S = 15.0
RETRY_MS = 2000

#: Resolves the caller of a request or raises the API's JSON 401 (the desk's auth helper).
Authenticate = Callable[[web.Request], Awaitable[Principal]]
#: The console session behind a request right now, or None (the desk's auth helper).
SessionLookup = Callable[[web.Request], Awaitable[Principal | None]]


def frame(item: StreamItem) -> bytes:
    """One SSE event. ``data_json`` is single-line JSON (newlines inside strings are escaped)."""
    delivery = item.delivery
    return (f"id: {item.event_id}\nevent: {delivery.name}\ndata: {delivery.data_json}\n\n").encode()


class EventsStream:
    """The handler of ``GET /api/v1/events``, bound to the hub and the desk's authentication."""

    def __init__(
        self,
        hub: Callable[[web.Application], EventHub],
        authenticate: Authenticate,
        *,
        session_of: SessionLookup | None = None,
        ping_s: float = PING_S,
    ) -> None:
        self._hub = hub
        self._authenticate = authenticate
        self._session_of = session_of
        self._ping_s = ping_s

    async def handle(self, request: web.Request) -> web.StreamResponse:
        principal = await self._authenticate(request)  # a 401 before anything is streamed
        hub = self._hub(request.app)
        viewer = Viewer(principal.agent_id, principal.is_admin)
        last_event_id = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
        subscription = hub.subscribe(viewer, last_event_id)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache, no-store",
                "X-Accel-Buffering": "no",
            }
        )
        try:
            await response.prepare(request)
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            while True:
                try:
                    item = await subscription.next(self._ping_s)
                except EOFError:  # the gateway is stopping
                    break
                if item is None:
                    if not await self._still_allowed(request, principal):
                        break
                    await response.write(b": ping\n\n")
                    continue
                burst = [item, *subscription.take_ready()]
                await response.write(b"".join(frame(i) for i in burst))
        except (ConnectionResetError, ConnectionError):
            pass  # the browser went away; it reconnects with Last-Event-ID
        finally:
            hub.unsubscribe(subscription)
        return response

    async def _still_allowed(self, request: web.Request, principal: Principal) -> bool:
        """A console session may have been logged out since the stream opened."""
        if principal.kind != "session" or self._session_of is None:
            return True
        current = await self._session_of(request)
        return current is not None and current.token_id == principal.token_id


def add_events_route(
    app: web.Application,
    hub: Callable[[web.Application], EventHub],
    authenticate: Authenticate,
    *,
    session_of: SessionLookup | None = None,
    ping_s: float = PING_S,
) -> None:
    """Serve the stream, and end every open one when the server shuts down: it waits for running
    handlers before the app's cleanup, and an event stream would otherwise never finish."""
    stream = EventsStream(hub, authenticate, session_of=session_of, ping_s=ping_s)
    app.router.add_get("/api/v1/events", stream.handle)

    async def end_streams(app: web.Application) -> None:
        with contextlib.suppress(KeyError):  # the app never started
            hub(app).close_subscriptions()

    app.on_shutdown.append(end_streams)
