"""Telegram's :class:`~bot.interfaces.OutputChannel`: replies through python-telegram-bot.

Texts go out as plain text, without ``parse_mode``: nothing in a reply (an FAQ answer, an agent's
message with ``<``, ``*`` or ``_`` in it) is interpreted as markup, so nothing needs escaping and
nothing can be mangled. Long texts are split at 4096 characters (:mod:`.message_split`); choices
become inline buttons under the last part. Telegram's flood limits are kept by :mod:`.rate_limits`,
and every failure becomes a :class:`~bot.interfaces.DeliveryError` (:mod:`.delivery_errors`) the
outbox knows how to retry.
"""

from __future__ import annotations

import logging
import os
import re
from collections import OrderedDict
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.interfaces import DeliveryError, OutputChannel
from bot.messages import Channel, Choice, Delivery, OutboundMessage
from channels.telegram.aiohttp_request import AiohttpRequest
from channels.telegram.bot_client import TelegramBotClient
from channels.telegram.delivery_errors import delivery_error, describe, without_token
from channels.telegram.message_split import split_text
from channels.telegram.rate_limits import TelegramRateLimiter

log = logging.getLogger(__name__)

MAX_CALLBACK_DATA_BYTES = 64
# Replies whose later parts are still to be sent; a bound so failures given up on cannot pile up.
_MAX_TRACKED_REPLIES = 10_000
_CHAT_ID = re.compile(r"^-?\d{1,19}$")


class TelegramStartError(RuntimeError):
    """The bot could not start: Telegram refused the token or could not be reached."""


def build_keyboard(choices: Sequence[Choice]) -> InlineKeyboardMarkup | None:
    """One inline button per choice, one per row, each sending back the choice's payload.

    Raises:
        ValueError: a payload is longer than Telegram's 64 bytes of ``callback_data`` (Telegram
            would refuse the whole message with BUTTON_DATA_INVALID), or empty.
    """
    if not choices:
        return None
    rows = []
    for choice in choices:
        size = len(choice.payload.encode("utf-8"))
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise ValueError(
                f"choice {choice.title!r}: payload must be 1-{MAX_CALLBACK_DATA_BYTES} bytes "
                f"of UTF-8 for a Telegram button, got {size}"
            )
        rows.append([InlineKeyboardButton(choice.title, callback_data=choice.payload)])
    return InlineKeyboardMarkup(rows)


def chat_id_of(recipient_id: str) -> int | str:
    """The Bot API ``chat_id``: an integer id, or a channel's ``@username`` as it is."""
    return int(recipient_id) if _CHAT_ID.match(recipient_id) else recipient_id


class TelegramOutput(OutputChannel):
    """Sends replies with python-telegram-bot's :class:`~telegram.ext.ExtBot`.

    Args:
        token: the bot token from @BotFather.
        api_url: the Bot API base (``https://api.telegram.org``, a local Bot API server, a fake).
        per_chat_interval: seconds between two messages to one chat (Telegram asks for 1/s).
        request_timeout: seconds to wait for Telegram to answer one call.

    A reply that needs several messages is sent part by part. When a later part fails (a 429, a
    time-out) the outbox retries the whole reply; the parts that got through are remembered per
    ``OutboundMessage.id`` so the retry sends only the rest instead of repeating the beginning to
    the customer. The memory is in-process: after a crash in the middle of a long reply the outbox
    sends it again from the first part, the one duplicate that storing part ids in the database
    would avoid.
    """

    channel = Channel.TELEGRAM

    def __init__(
        self,
        token: str,
        *,
        api_url: str,
        per_chat_interval: float = 1.0,
        request_timeout: float = 10.0,
    ) -> None:
        # python-telegram-bot warns when ``RetryAfter.retry_after`` is read as int seconds; opting
        # in to timedelta is what the next major version does anyway.
        os.environ.setdefault("PTB_TIMEDELTA", "1")
        api = api_url.rstrip("/")
        self._limiter = TelegramRateLimiter(per_chat_interval=per_chat_interval)
        self._requests = (
            AiohttpRequest(
                read_timeout=request_timeout,
                write_timeout=request_timeout,
                connect_timeout=request_timeout,
                pool_timeout=request_timeout,
            ),
            AiohttpRequest(connection_pool_size=1, read_timeout=request_timeout),  # getUpdates
        )
        self._bot = TelegramBotClient(
            token,
            base_url=f"{api}/bot",
            base_file_url=f"{api}/file/bot",
            request=self._requests[0],
            get_updates_request=self._requests[1],
            rate_limiter=self._limiter,
        )
        self._parts_sent: OrderedDict[int, list[str]] = OrderedDict()

    def __repr__(self) -> str:  # the bot holds the token: keep it out of any repr
        return "TelegramOutput()"

    @property
    def bot(self) -> TelegramBotClient:
        """The python-telegram-bot client, for the poller and other Telegram features."""
        return self._bot

    async def start(self) -> None:
        """Open the HTTP client and check the token with ``getMe``."""
        try:
            await self._bot.initialize()
        except TelegramError as exc:
            raise TelegramStartError(
                f"cannot start the Telegram bot (check CAREBOT_TELEGRAM_TOKEN and "
                f"CAREBOT_TELEGRAM_API_URL): {describe(exc)}"
            ) from without_token(exc)
        log.info("telegram bot @%s ready", self._bot.username)

    async def close(self) -> None:
        """Close the HTTP clients; safe to call when :meth:`start` never ran or failed."""
        await self._bot.shutdown()
        # The bot only shuts down what it initialized; the clients exist (and may have been used)
        # from construction on, so they are closed here in any case. Closing twice is a no-op.
        for request in self._requests:
            await request.shutdown()

    async def send_text(self, recipient_id: str, text: str) -> Delivery:
        """Send ``text``, split into as many messages as it needs."""
        sent: list[str] = []
        await self._send_parts(recipient_id, self._parts(text), None, sent)
        return Delivery(tuple(sent))

    async def send_reply(self, message: OutboundMessage) -> Delivery:
        """Send the reply's text with its choices as inline buttons under the last part."""
        try:
            keyboard = build_keyboard(message.reply.choices)
        except ValueError as exc:  # retrying cannot make a payload shorter
            raise DeliveryError(str(exc), code="invalid_choice", permanent=True) from exc
        parts = self._parts(message.reply.text)
        sent = self._parts_sent.setdefault(message.id, [])
        if len(self._parts_sent) > _MAX_TRACKED_REPLIES:
            self._parts_sent.popitem(last=False)
        try:
            await self._send_parts(message.recipient_id, parts, keyboard, sent)
        except DeliveryError as exc:
            if exc.permanent:
                self._parts_sent.pop(message.id, None)
            elif sent:
                log.info(
                    "reply %s: %d of %d parts sent; a retry sends the rest",
                    message.id,
                    len(sent),
                    len(parts),
                )
            raise
        self._parts_sent.pop(message.id, None)
        return Delivery(tuple(sent))

    async def answer_callback(self, callback_query_id: str) -> None:
        """Answer a pressed inline button, which stops the spinner on the customer's button."""
        try:
            await self._bot.answer_callback_query(callback_query_id)
        except TelegramError as exc:
            raise delivery_error(exc, "the callback answer") from exc

    @staticmethod
    def _parts(text: str) -> list[str]:
        parts = split_text(text)
        if not parts:
            raise DeliveryError("the reply has no text to send", code="empty", permanent=True)
        return parts

    async def _send_parts(
        self,
        recipient_id: str,
        parts: list[str],
        keyboard: InlineKeyboardMarkup | None,
        sent: list[str],
    ) -> None:
        """Send ``parts[len(sent):]`` in order, appending each message id to ``sent`` as it goes."""
        chat_id = chat_id_of(recipient_id)
        last = len(parts) - 1
        for index in range(len(sent), len(parts)):
            try:
                result = await self._bot.send_message(
                    chat_id, parts[index], reply_markup=keyboard if index == last else None
                )
            except TelegramError as exc:
                raise delivery_error(exc) from exc
            sent.append(str(result.message_id))
