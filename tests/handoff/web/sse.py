"""Reading server-sent events in tests: an aiohttp response turned into (id, event, data) values."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Event:
    id: str | None
    name: str
    data: Any


class EventReader:
    """Parses an open ``text/event-stream`` response; comments (``: ping``) are counted."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []

    async def next(self, seconds: float = 10.0) -> Event:
        fields: dict[str, str] = {}
        async with asyncio.timeout(seconds):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise EOFError("stream closed")
                line = raw.decode().rstrip("\n")
                if not line:
                    if "data" in fields:
                        data = json.loads(fields["data"])
                        return Event(fields.get("id"), fields.get("event", "message"), data)
                    fields.clear()
                    continue
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value

    async def until(self, name: str, seconds: float = 10.0, **match: Any) -> Event:
        """The next event called ``name`` whose data has ``match``'s items, skipping others."""
        async with asyncio.timeout(seconds):
            while True:
                event = await self.next(seconds)
                if event.name == name and all(event.data.get(k) == v for k, v in match.items()):
                    return event

    async def names_for(self, seconds: float) -> list[str]:
        """Every event name that arrives within ``seconds``."""
        names: list[str] = []
        try:
            async with asyncio.timeout(seconds):
                while True:
                    names.append((await self.next(seconds)).name)
        except TimeoutError:
            return names
