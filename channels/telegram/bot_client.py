"""The python-telegram-bot client we use: :class:`~telegram.ext.ExtBot` plus raw ``getUpdates``.

``Bot.get_updates`` parses every update with ``Update.de_list``. The poller needs the updates as
Telegram sent them instead, so that it can hand the very same JSON to the processing the webhook
uses, and so that one update python-telegram-bot cannot parse does not stop all polling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram.ext import ExtBot

from channels.telegram.json_fields import MalformedUpdate


class TelegramBotClient(ExtBot[int]):
    """An ExtBot that can also fetch updates as raw JSON objects."""

    __slots__ = ()

    async def get_raw_updates(
        self,
        *,
        offset: int | None,
        poll_seconds: int,
        allowed_updates: Sequence[str],
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """``getUpdates`` without parsing: the JSON objects as Telegram sent them.

        The read timeout is ``poll_seconds`` plus the client's normal read timeout, as in
        ``Bot.get_updates``, so a long poll that Telegram holds open is not cut short.

        Raises:
            telegram.error.TelegramError: as for any Bot API call.
            MalformedUpdate: the result is not a list of JSON objects.
        """
        data: dict[str, Any] = {
            "offset": offset,
            "timeout": poll_seconds,
            "limit": limit,
            "allowed_updates": list(allowed_updates),
        }
        base_read_timeout = self._request[0].read_timeout or 0
        result = await self._post("getUpdates", data, read_timeout=base_read_timeout + poll_seconds)
        if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
            raise MalformedUpdate("getUpdates did not return a list of objects")
        return result
