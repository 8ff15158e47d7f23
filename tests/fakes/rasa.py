"""A loopback stand-in for the Rasa HTTP API that replays answers recorded from the real server.

Unit tests of :class:`nlu.rasa_client.RasaNluClient` need Rasa's exact JSON and its failure modes
(5xx, slowness, garbage) without the 30 s and 1 GB a real server costs. The recordings in
``tests/nlu/recorded/`` were captured from ``rasa run --enable-api`` serving this project's model;
tests queue failures in front of them with :meth:`FakeRasa.queue`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from aiohttp import web


@dataclass(frozen=True)
class Recording:
    """One recorded exchange: the request and Rasa's answer."""

    method: str
    path: str
    text: str | None
    status: int
    body: Any

    @classmethod
    def load(cls, path: Path) -> Recording:
        raw = json.loads(path.read_text(encoding="utf-8"))
        request = raw.get("request") or {}
        return cls(raw["method"], raw["path"], request.get("text"), raw["status"], raw["body"])


@dataclass(frozen=True)
class Scripted:
    """An answer to give instead of the recorded one: a status, a raw body, after a delay."""

    status: int = 200
    body: str = ""
    delay: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    """What the fake received, and from which client port (to observe connection reuse)."""

    method: str
    path: str
    json: Any
    peer_port: int


class FakeRasa:
    """An aiohttp server on 127.0.0.1 (port 0) answering ``/model/parse`` and ``/status``.

    ``POST /model/parse`` answers the recording whose request text matches, ``GET /status`` the
    recording chosen with :meth:`use_status`; an answer queued with :meth:`queue` comes first.
    """

    def __init__(self, recordings: list[Recording]) -> None:
        self._parse = {r.text: r for r in recordings if r.path == "/model/parse"}
        self._status = {r.status: r for r in recordings if r.path == "/status"}
        self._status_code = 200
        self._queued: deque[Scripted] = deque()
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.requests: list[SeenRequest] = []
        self.url = ""

    @classmethod
    def from_directory(cls, directory: Path) -> FakeRasa:
        return cls([Recording.load(path) for path in sorted(directory.glob("*.json"))])

    def recorded_parse(self, text: str) -> Any:
        """The recorded ``/model/parse`` body for ``text``."""
        return self._parse[text].body

    def queue(self, *answers: Scripted) -> None:
        """Give these answers, in order, before going back to the recordings."""
        self._queued.extend(answers)

    def use_status(self, status: int) -> None:
        """Answer ``GET /status`` with the recording of that status (200: loaded, 409: no model)."""
        self._status_code = status

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/model/parse", self._handle_parse)
        app.router.add_get("/status", self._handle_status)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._released.set()  # end handlers still "being slow" at once
        if self._runner is not None:
            await self._runner.cleanup()

    async def _scripted(self, request: web.Request) -> web.Response | None:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.requests.append(
            SeenRequest(
                request.method,
                request.path,
                json.loads(body) if body else None,
                peer[1] if peer else 0,
            )
        )
        if not self._queued:
            return None
        answer = self._queued.popleft()
        if answer.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), answer.delay)
        return web.Response(status=answer.status, text=answer.body, content_type="application/json")

    async def _handle_parse(self, request: web.Request) -> web.Response:
        if (scripted := await self._scripted(request)) is not None:
            return scripted
        text = self.requests[-1].json["text"]
        recording = self._parse.get(text)
        if recording is None:
            return web.json_response({"error": f"no recording for {text!r}"}, status=404)
        return web.json_response(recording.body, status=recording.status)

    async def _handle_status(self, request: web.Request) -> web.Response:
        if (scripted := await self._scripted(request)) is not None:
            return scripted
        recording = self._status[self._status_code]
        return web.json_response(recording.body, status=recording.status)
