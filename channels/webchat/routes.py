"""HTTP routes of the web chat: the page, posting a message, the live stream of replies.

Sessions are random 128-bit ids the server issues; whoever holds one can post and read that chat,
like a chat link. Nothing here touches the database: messages go to the core's
:class:`~bot.interfaces.MessageSink` and history comes from a
:class:`~bot.interfaces.TranscriptSource`.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.interfaces import MessageSink, TranscriptSource
from bot.messages import Channel, InboundMessage, TranscriptEntry
from bot.web.errors import json_error, read_json_object
from channels.webchat.live_hub import LiveHub

MAX_TEXT = 4096
HEARTBEAT_SECONDS = 15.0
_SESSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_PAGE = Path(__file__).with_name("static") / "chat.html"


class WebChat:
    """The web chat's handlers, bound to the core's sink and transcript source."""

    def __init__(self, sink: MessageSink, transcripts: TranscriptSource, hub: LiveHub) -> None:
        self._sink = sink
        self._transcripts = transcripts
        self._hub = hub
        self._page = _PAGE.read_bytes()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/chat", self.page)
        app.router.add_get("/chat/", self.page)
        app.router.add_post("/chat/api/sessions", self.new_session)
        app.router.add_post("/chat/api/messages", self.post_message)
        app.router.add_get("/chat/api/history", self.history)
        app.router.add_get("/chat/api/stream", self.stream)

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._page,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                "script-src 'self' 'unsafe-inline'; connect-src 'self'",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def new_session(self, request: web.Request) -> web.Response:
        return web.json_response({"session": secrets.token_urlsafe(16)}, status=201)

    async def post_message(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        session = _session_of(body.get("session"))
        text = body.get("text", "")
        payload = body.get("payload")
        if not isinstance(text, str) or (payload is not None and not isinstance(payload, str)):
            raise json_error(422, "text and payload must be strings")
        text = text.strip()
        if not text and not payload:
            raise json_error(422, "text must not be empty")
        if len(text) > MAX_TEXT:
            raise json_error(422, f"text is longer than {MAX_TEXT} characters")
        client_id = body.get("client_id")
        if client_id is None:
            client_id = uuid.uuid4().hex
        elif not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            raise json_error(422, "client_id must be 1-64 letters, digits or _.:-")
        language = body.get("language")
        hint = language if isinstance(language, str) and len(language) <= 16 else None
        accepted = await self._sink.accept(
            InboundMessage(
                channel=Channel.WEB,
                sender_id=session,
                # Client ids are per session: two browsers may pick the same one.
                message_id=f"{session}:{client_id}",
                text=text,
                received_at=datetime.now(UTC),
                language_hint=hint,
                payload=payload,
            )
        )
        return web.json_response({"accepted": True, "duplicate": not accepted}, status=202)

    async def history(self, request: web.Request) -> web.Response:
        session = _session_of(request.query.get("session"))
        after = _int_query(request, "after")
        entries = await self._transcripts.history(Channel.WEB, session, after_id=after)
        return web.json_response({"messages": [_entry_json(e) for e in entries]})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: first what the customer missed after ``after``, then live replies."""
        session = _session_of(request.query.get("session"))
        after = _int_query(request, "after", header=request.headers.get("Last-Event-ID"))
        queue = self._hub.subscribe(session)  # before reading history, so nothing falls in between
        try:
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",
                }
            )
            await response.prepare(request)
            last = after
            for entry in await self._transcripts.history(Channel.WEB, session, after_id=after):
                if entry.direction == "out":
                    await _send_event(response, _entry_json(entry))
                last = max(last, entry.id)
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if event is None:
                    break
                event_id = event.get("id")
                if isinstance(event_id, int) and event_id <= last:
                    continue  # already replayed from history
                await _send_event(response, event)
                if isinstance(event_id, int):
                    last = event_id
            return response
        except ConnectionResetError:  # the browser went away; it replays from history next time
            return response
        finally:
            self._hub.unsubscribe(session, queue)


async def _send_event(response: web.StreamResponse, event: dict[str, Any]) -> None:
    data = json.dumps(event, ensure_ascii=False)
    prefix = f"id: {event['id']}\n" if "id" in event else ""
    await response.write(f"{prefix}data: {data}\n\n".encode())


def _entry_json(entry: TranscriptEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "direction": entry.direction,
        "author": entry.author,
        "kind": entry.kind,
        "text": entry.text,
        "choices": [{"title": c.title, "payload": c.payload} for c in entry.choices],
        "created_at": entry.created_at.isoformat(),
    }


def _session_of(value: object) -> str:
    if not isinstance(value, str) or not _SESSION.match(value):
        raise json_error(422, "session must be the id returned by POST /chat/api/sessions")
    return value


def _int_query(request: web.Request, name: str, header: str | None = None) -> int:
    raw = request.query.get(name) or header or "0"
    if not raw.isdigit() or len(raw) > 18:
        raise json_error(422, f"{name} must be a non-negative integer")
    return int(raw)
