"""``POST /webhooks/telegram``: check the secret token, store the update, answer 200 at once.

Telegram redelivers an update until it gets a 2xx, so the handler acknowledges as soon as the core's
:class:`~bot.interfaces.MessageSink` has stored the message durably; the engine works on it later
from the inbox. A redelivered ``update_id`` is refused by the sink and acknowledged all the same.

:meth:`TelegramWebhook.process_update` is the single place an Update is handled: the webhook calls
it for each request and the poller (:mod:`channels.telegram.polling`) for each update it fetches, so
both modes behave the same.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.interfaces import DeliveryError, MessageSink, ReachabilitySink
from bot.messages import Channel
from bot.web.errors import json_error, read_json_object
from channels.telegram.output import TelegramOutput
from channels.telegram.updates import (
    CustomerMessage,
    IgnoredUpdate,
    MalformedUpdate,
    ReachabilityChange,
    parse_update,
)

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def require_secret_token(secret: str) -> Callable[[Handler], Handler]:
    """Wrap a handler so it only runs when the request carries ``secret`` in the header.

    Telegram sends the ``secret_token`` given to ``setWebhook`` in every call; without it anyone who
    learns the URL could post forged updates. The check runs before the body is read, compares in
    constant time and refuses with a JSON 403, so nothing of a forged request is ever stored.
    """
    if not secret:
        raise ValueError(
            "the Telegram webhook needs a secret token (CAREBOT_TELEGRAM_WEBHOOK_SECRET)"
        )
    expected = secret.encode("utf-8")

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            given = request.headers.get(SECRET_HEADER)
            if given is None:
                log.warning("telegram webhook refused: no %s", SECRET_HEADER)
                raise json_error(403, f"missing {SECRET_HEADER} header")
            if not hmac.compare_digest(given.encode("utf-8", "replace"), expected):
                log.warning("telegram webhook refused: wrong %s", SECRET_HEADER)
                raise json_error(403, f"invalid {SECRET_HEADER}")
            return await handler(request)

        return checked

    return decorate


class TelegramWebhook:
    """Telegram's inbound side: the webhook route and the processing shared with polling.

    Args:
        sink: stores customer messages; returns False for a redelivery.
        reachability: records that a customer blocked (or unblocked) the bot.
        output: answers callback queries (stops the spinner on the pressed button).
        secret: the webhook's secret token; may be empty in polling mode, where no route is added.
    """

    def __init__(
        self,
        sink: MessageSink,
        reachability: ReachabilitySink,
        output: TelegramOutput,
        *,
        secret: str,
    ) -> None:
        self._sink = sink
        self._reachability = reachability
        self._output = output
        self._secret = secret
        self._answers: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:  # keep the secret out of any repr
        return f"TelegramWebhook(path={WEBHOOK_PATH!r})"

    def add_routes(self, app: web.Application) -> None:
        """Add ``POST /webhooks/telegram``; refuses to do so without a secret token."""
        app.router.add_post(WEBHOOK_PATH, require_secret_token(self._secret)(self.handle))

    async def handle(self, request: web.Request) -> web.Response:
        """One webhook call: a JSON Update in, ``200 {}`` once it is stored (or known already)."""
        try:
            body = await read_json_object(request)
        except (ValueError, RecursionError):
            # json.loads raises these, not JSONDecodeError, for a number of more than 4300 digits or
            # nesting deeper than the interpreter's recursion limit: still just bad JSON.
            raise json_error(400, "body is not valid JSON") from None
        try:
            await self.process_update(body)
        except MalformedUpdate as exc:
            raise json_error(400, f"not a Telegram Update: {exc}") from None
        return web.json_response({})

    async def process_update(self, data: object) -> bool:
        """Handle one raw Update, from the webhook or from polling.

        Returns:
            True when it changed something (a new message stored, reachability recorded); False for
            a redelivered or ignored update.

        Raises:
            MalformedUpdate: ``data`` is not an Update we can read.
        """
        event = parse_update(data)
        if isinstance(event, CustomerMessage):
            stored = await self._sink.accept(event.message)
            if not stored:
                log.info("telegram update %d is a redelivery; not processed again", event.update_id)
            # Answered after storing, also for a redelivery: the first answer may have been lost
            # with the process that stored it, and a second answer is harmless.
            self._answer_later(event.callback_query_id)
            return stored
        if isinstance(event, ReachabilityChange):
            log.info(
                "telegram chat %s %s the bot",
                event.sender_id,
                "restarted" if event.reachable else "blocked",
            )
            await self._reachability.set_reachable(
                Channel.TELEGRAM, event.sender_id, event.reachable
            )
            return True
        ignored: IgnoredUpdate = event
        log.debug("telegram update %d ignored: %s", ignored.update_id, ignored.reason)
        self._answer_later(ignored.callback_query_id)
        return False

    def _answer_later(self, callback_query_id: str | None) -> None:
        """Answer a callback query in the background: Telegram's webhook call never waits on it."""
        if callback_query_id is None:
            return
        task = asyncio.create_task(
            self._answer(callback_query_id), name=f"telegram-answer-{callback_query_id}"
        )
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, callback_query_id: str) -> None:
        try:
            await self._output.answer_callback(callback_query_id)
        except DeliveryError as exc:
            log.warning("could not answer telegram callback query %s: %s", callback_query_id, exc)
        except Exception:
            log.exception("answering telegram callback query %s failed", callback_query_id)

    async def close(self) -> None:
        """Wait for callback answers still in flight (at shutdown, before the bot closes)."""
        while self._answers:
            await asyncio.gather(*list(self._answers), return_exceptions=True)
