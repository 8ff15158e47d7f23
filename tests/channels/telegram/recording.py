"""In-memory stand-ins for the core's sinks, recording what the Telegram adapter hands over."""

from __future__ import annotations

import asyncio

from bot.messages import Channel, InboundMessage


class RecordingSink:
    """A :class:`~bot.interfaces.MessageSink` that keeps messages in memory, deduplicated by id.

    Like the real inbox, the check and the insert happen without an await in between, so concurrent
    redeliveries of one message are stored once.
    """

    def __init__(self, *, fail: bool = False) -> None:
        self.messages: list[InboundMessage] = []
        self.accept_calls = 0
        self.fail = fail
        self._ids: set[tuple[Channel, str]] = set()
        self._changed = asyncio.Condition()

    async def accept(self, message: InboundMessage) -> bool:
        self.accept_calls += 1
        if self.fail:
            raise RuntimeError("database is down (recorded)")
        key = (message.channel, message.message_id)
        if key in self._ids:
            return False
        self._ids.add(key)
        self.messages.append(message)
        async with self._changed:
            self._changed.notify_all()
        return True

    async def wait_for(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[InboundMessage]:
        """The first ``count`` stored messages, once that many were stored."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.messages) >= count)
        return self.messages[:count]


class RecordingReachability:
    """A :class:`~bot.interfaces.ReachabilitySink` remembering each change in order."""

    def __init__(self) -> None:
        self.changes: list[tuple[Channel, str, bool]] = []

    async def set_reachable(self, channel: Channel, platform_id: str, reachable: bool) -> None:
        self.changes.append((channel, platform_id, reachable))
