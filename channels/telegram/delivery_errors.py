"""python-telegram-bot's errors translated into the core's :class:`~bot.interfaces.DeliveryError`.

The outbox decides from ``permanent``, ``retry_after`` and ``unreachable`` alone whether to retry,
when, and whether to stop writing to a customer, so the translation is where Telegram's semantics
are decided:

- 429 ``RetryAfter``: retry after the seconds Telegram named.
- 403 ``Forbidden`` (blocked by the user, user deactivated, cannot initiate a conversation): nothing
  will ever get through; the customer is unreachable on Telegram until they start the bot again.
- 400 ``BadRequest`` (chat not found, text empty, bad button data): the same request fails the same
  way again; Telegram's description is kept as the detail.
- Time-outs, network errors and 5xx: retried. A time-out is ambiguous (Telegram may have delivered
  the message), but losing a reply is worse than the rare duplicate.
- 401 (token revoked or mistyped): retried with backoff rather than failed, because it is our
  configuration, not the message, that is wrong; fixing the token in time still delivers it.
"""

from __future__ import annotations

import logging

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.interfaces import DeliveryError
from channels.telegram.rate_limits import retry_after_seconds

log = logging.getLogger(__name__)


def describe(error: TelegramError) -> str:
    """``error``'s message, fit for logs and people: never the token, which PTB puts in some."""
    if isinstance(error, InvalidToken):
        return "the bot token was rejected (Unauthorized)"
    return error.message


def without_token(error: TelegramError) -> TelegramError | None:
    """``error`` as the cause to chain, or None when its message may quote the bot token.

    ``Bot.initialize`` re-raises a refused token as ``InvalidToken("The token `...` was
    rejected")``; chained, it would reach a logged traceback.
    """
    return None if isinstance(error, InvalidToken) else error


def delivery_error(error: TelegramError, action: str = "the message") -> DeliveryError:
    """The :class:`DeliveryError` the outbox should see for ``error`` about ``action``."""
    if isinstance(error, RetryAfter):
        seconds = retry_after_seconds(error)
        return DeliveryError(
            f"Telegram flood limit: retry after {seconds:g} s", code="429", retry_after=seconds
        )
    if isinstance(error, Forbidden):
        return DeliveryError(
            f"Telegram refused {action}: {error.message}",
            code="403",
            permanent=True,
            unreachable=True,
        )
    if isinstance(error, ChatMigrated):
        return DeliveryError(
            f"the group became supergroup {error.new_chat_id}",
            code="chat_migrated",
            permanent=True,
        )
    if isinstance(error, BadRequest):  # before NetworkError: BadRequest is one in PTB
        return DeliveryError(
            f"Telegram refused {action}: {error.message}", code="400", permanent=True
        )
    if isinstance(error, TimedOut):
        return DeliveryError(f"Telegram did not answer in time about {action}", code="timeout")
    if isinstance(error, InvalidToken):
        log.error("Telegram rejected the bot token (CAREBOT_TELEGRAM_TOKEN) for %s", action)
        return DeliveryError(f"Telegram: {describe(error)}", code="401")
    if isinstance(error, Conflict):
        return DeliveryError(f"Telegram conflict: {error.message}", code="409")
    if isinstance(error, NetworkError):
        return DeliveryError(f"Telegram unavailable: {error.message}", code="network")
    return DeliveryError(f"Telegram error about {action}: {error.message}", code="telegram")
