"""Telegram's flood limits: 30 messages/s overall, 20/min per group, and 1/s per chat.

python-telegram-bot's :class:`~telegram.ext.AIORateLimiter` covers the first two. The third, "avoid
sending more than one message per second to a chat" (Telegram's bots FAQ), matters here because a
long answer goes out as several parts and a feedback request often follows a reply: without pacing
Telegram answers 429 and the reply waits much longer than one second. :class:`ChatPacer` keeps the
sends to one chat at least ``interval`` apart; :class:`TelegramRateLimiter` applies it to every
sending method the bot calls, so broadcasts and replies share the same pace.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

JSONDict = dict[str, Any]

# Methods that put a message into a chat; reads (getChat, getChatMember) and edits are not paced.
_SENDING_PREFIXES = ("send", "forward", "copy")
# Forget idle chats once this many are tracked, so the table does not grow with every customer.
_PRUNE_ABOVE = 1024


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ready_at: float = 0.0  # loop time before which nothing more may go to this chat
    users: int = 0


class ChatPacer:
    """Keeps sends to one chat ``interval`` seconds apart; other chats do not wait for it.

    The interval runs from the end of one request to the start of the next, so the gap Telegram sees
    between two arrivals is never shorter, however long the first request took on the way.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self._interval = interval
        self._slots: dict[str, _Slot] = {}

    @contextlib.asynccontextmanager
    async def turn(self, chat: str) -> AsyncIterator[None]:
        """Wait for ``chat``'s turn, hold it while the body sends, then start the interval."""
        loop = asyncio.get_running_loop()
        if len(self._slots) > _PRUNE_ABOVE:
            self._prune(loop.time())
        slot = self._slots.setdefault(chat, _Slot())
        slot.users += 1
        try:
            async with slot.lock:
                delay = slot.ready_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    yield
                finally:
                    slot.ready_at = max(slot.ready_at, loop.time() + self._interval)
        finally:
            slot.users -= 1

    def hold(self, chat: str, seconds: float) -> None:
        """Send nothing to ``chat`` for ``seconds`` (Telegram asked us to wait with a 429)."""
        loop = asyncio.get_running_loop()
        slot = self._slots.setdefault(chat, _Slot())
        slot.ready_at = max(slot.ready_at, loop.time() + seconds)

    def _prune(self, now: float) -> None:
        idle = [chat for chat, s in self._slots.items() if s.users == 0 and s.ready_at <= now]
        for chat in idle:
            del self._slots[chat]


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds, whatever type this PTB version exposes it as."""
    value: object = error.retry_after  # timedelta with PTB_TIMEDELTA=1, int seconds otherwise
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float):
        return float(value)
    return 1.0


class TelegramRateLimiter(AIORateLimiter):
    """:class:`~telegram.ext.AIORateLimiter` plus :class:`ChatPacer` for the sending methods.

    ``max_retries`` stays 0: on a 429 the error reaches the caller, whose outbox retries after
    ``retry_after`` without holding a sender slot; the chat is held for that long meanwhile.
    """

    def __init__(
        self,
        *,
        per_chat_interval: float = 1.0,
        overall_max_rate: float = 30,
        group_max_per_minute: float = 20,
    ) -> None:
        super().__init__(
            overall_max_rate=overall_max_rate,
            overall_time_period=1,
            group_max_rate=group_max_per_minute,
            group_time_period=60,
            max_retries=0,
        )
        self.pacer = ChatPacer(per_chat_interval)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat_id = data.get("chat_id")
        if chat_id is None or not endpoint.startswith(_SENDING_PREFIXES):
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        chat = str(chat_id)
        async with self.pacer.turn(chat):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except RetryAfter as exc:
                self.pacer.hold(chat, retry_after_seconds(exc))
                raise
