"""Long polling (``CAREBOT_TELEGRAM_MODE=polling``): Telegram without a public URL.

Each update fetched with ``getUpdates`` goes, as the raw JSON Telegram sent, to the same function
the webhook uses (:meth:`channels.telegram.routes.TelegramWebhook.process_update`), so both modes
behave alike. The offset only moves past an update once that function returned: an update that could
not be stored (the database was down) is fetched again on the next poll, and the sink's
deduplication by ``update_id`` keeps a refetched update from being processed twice. Every failure is
logged and waited out with a backoff; the loop only ends when its task is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.error import Conflict, RetryAfter, TelegramError

from channels.telegram.json_fields import MalformedUpdate
from channels.telegram.output import TelegramOutput
from channels.telegram.rate_limits import retry_after_seconds
from channels.telegram.updates import HANDLED_UPDATE_TYPES

log = logging.getLogger(__name__)

UpdateHandler = Callable[[dict[str, Any]], Awaitable[object]]


class TelegramPolling:
    """Fetches updates with ``getUpdates`` and hands each to ``handle_update``; cancel to stop.

    Args:
        output: its bot is used for ``deleteWebhook`` and ``getUpdates``.
        handle_update: stores one raw Update; raises MalformedUpdate for one it cannot read.
        timeout: seconds Telegram holds a long poll open when there is nothing to deliver.
        backoff_initial: first wait after a failure, doubled after each further one.
        backoff_max: the longest wait between two attempts.
    """

    def __init__(
        self,
        output: TelegramOutput,
        handle_update: UpdateHandler,
        *,
        timeout: int = 25,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
    ) -> None:
        self._bot = output.bot
        self._handle_update = handle_update
        self._timeout = timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._failures = 0
        self.offset: int | None = None  # the next update_id to ask for, once one was handled

    async def run(self) -> None:
        """Delete any webhook (``getUpdates`` is refused while one is set), then poll forever."""
        await self._delete_webhook()
        log.info("telegram polling started")
        while True:
            try:
                updates = await self._bot.get_raw_updates(
                    offset=self.offset,
                    poll_seconds=self._timeout,
                    allowed_updates=HANDLED_UPDATE_TYPES,
                )
            except (TelegramError, MalformedUpdate) as exc:
                await self._back_off("getUpdates", exc)
                continue
            for update in updates:
                if not await self._handle(update):
                    break  # fetch again from the update that failed; the backoff keeps growing
            else:
                self._failures = 0

    async def _delete_webhook(self) -> None:
        while True:
            try:
                await self._bot.delete_webhook(drop_pending_updates=False)
            except TelegramError as exc:
                await self._back_off("deleteWebhook", exc)
                continue
            self._failures = 0
            return

    async def _handle(self, update: dict[str, Any]) -> bool:
        """Handle one update; False when it must be fetched again later."""
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            log.warning("telegram sent an update without an integer update_id; skipped")
            return True
        try:
            await self._handle_update(update)
        except MalformedUpdate as exc:
            # Fetching it again would give the same error forever: skip it, loudly.
            log.warning("telegram update %d skipped: %s", update_id, exc)
        except Exception as exc:
            log.exception("telegram update %d could not be stored; will fetch it again", update_id)
            await self._back_off("storing an update", exc)
            return False
        self.offset = max(self.offset or 0, update_id + 1)
        return True

    async def _back_off(self, action: str, error: BaseException) -> None:
        self._failures += 1
        delay = min(self._backoff_max, self._backoff_initial * 2 ** min(self._failures - 1, 16))
        if isinstance(error, RetryAfter):
            delay = max(delay, retry_after_seconds(error))
        if isinstance(error, Conflict):
            log.warning(
                "telegram %s conflict (another poller, or a webhook set meanwhile?): %s",
                action,
                error,
            )
        elif self._failures % 10 == 1:  # the first failure and every tenth of a long outage
            log.warning("telegram %s failed: %s; retrying in %.1f s", action, error, delay)
        else:
            log.debug("telegram %s failed again: %s; retrying in %.1f s", action, error, delay)
        await asyncio.sleep(delay)
