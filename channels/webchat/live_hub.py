"""Fan-out of replies to the web chat streams that are open in this process."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

# A stream that falls this far behind is dropped; the browser reconnects and replays from history.
QUEUE_LIMIT = 256


class LiveHub:
    """Session id → open streams. Publishing to a session with no open stream is a no-op."""

    def __init__(self) -> None:
        self._streams: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = defaultdict(set)

    def subscribe(self, session_id: str) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_LIMIT)
        self._streams[session_id].add(queue)
        return queue

    def unsubscribe(self, session_id: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        streams = self._streams.get(session_id)
        if streams is not None:
            streams.discard(queue)
            if not streams:
                del self._streams[session_id]

    def publish(self, session_id: str, event: dict[str, Any]) -> int:
        """Push ``event`` to every open stream of the session; returns how many got it."""
        delivered = 0
        for queue in list(self._streams.get(session_id, ())):
            try:
                queue.put_nowait(event)
                delivered += 1
            except asyncio.QueueFull:
                _end(queue)
                self.unsubscribe(session_id, queue)
        return delivered

    def close(self) -> None:
        """End every stream (shutdown)."""
        for streams in self._streams.values():
            for queue in streams:
                _end(queue)
        self._streams.clear()

    @property
    def open_streams(self) -> int:
        return sum(len(s) for s in self._streams.values())


def _end(queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    """Replace whatever is queued by the end-of-stream marker (None)."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)
