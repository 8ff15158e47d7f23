"""The small interfaces the core depends on; adapters implement them.

``OutputChannel`` is an ABC rather than a Protocol so that a minimal adapter implements one method
(:meth:`OutputChannel.send_text`) and inherits a graceful default for choices, the way Rasa's
``OutputChannel.send_text_with_buttons`` falls back to text.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.messages import (
    Channel,
    Delivery,
    DeliveryStatus,
    InboundMessage,
    NluResult,
    OutboundMessage,
    Reply,
    TranscriptEntry,
)


class NluUnavailable(Exception):
    """The NLU service did not answer in time or answered with an error; the engine hands off."""


class NluClient(Protocol):
    """Understands a text. Implementations must raise :class:`NluUnavailable` on any failure."""

    async def parse(self, text: str) -> NluResult: ...

    async def ready(self) -> bool:
        """True when the service answers and has a model loaded (for ``/readyz``)."""
        ...


class LanguageDetector(Protocol):
    """Guesses the language of a short text among the configured ones."""

    def detect(self, text: str) -> tuple[str, float] | None:
        """Return ``(language, confidence in [0, 1])``, or None when the text says nothing
        useful."""
        ...


@dataclass(frozen=True, slots=True)
class HandoffForecast:
    """What a customer handed off now can expect, for the notice the engine sends.

    Attributes:
        waiting: conversations already waiting for a person (this one not counted).
        expected_wait: a typical recent wait from request to claim; None without enough data.
        open_now: whether people are at work now (business hours).
        next_opening: when they are back, aware and in the business's time zone; None when open
            now or when the schedule never opens again.
    """

    waiting: int
    expected_wait: timedelta | None = None
    open_now: bool = True
    next_opening: datetime | None = None


class HandoffOutlook(Protocol):
    """Looks at the agents' queue and business hours when the engine hands a conversation off.

    The engine stays free of storage: it asks this only at the moment of a handoff, and sends the
    plain notice if the answer is slow or fails.
    """

    async def forecast(self, now: datetime) -> HandoffForecast: ...


class DeliveryError(Exception):
    """Sending failed. The sender retries unless ``permanent``; ``retry_after`` is the platform's
    wish.

    Attributes:
        code: the platform's error code or HTTP status, stored on the message.
        permanent: retrying cannot help (bad request, blocked by the user, unknown chat).
        retry_after: seconds the platform asked us to wait (429), if it said.
        unreachable: the customer can no longer be reached on this channel (blocked the bot).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after
        self.unreachable = unreachable


class OutputChannel(abc.ABC):
    """Sends replies to customers of one channel.

    Attributes:
        channel: the channel this output serves.
        reply_window: how long after the customer's last message a free-form reply is still allowed
            (WhatsApp: 24 hours); None when there is no such limit. The sender holds a reply that
            would fall outside the window instead of letting the platform fail it.
    """

    channel: Channel
    reply_window: timedelta | None = None

    @abc.abstractmethod
    async def send_text(self, recipient_id: str, text: str) -> Delivery:
        """Send plain text. Raise :class:`DeliveryError` when the platform refuses or fails."""

    async def send_reply(self, message: OutboundMessage) -> Delivery:
        """Send a reply with its choices; by default choices become a numbered list under the
        text."""
        reply = message.reply
        return await self.send_text(message.recipient_id, render_choices_as_text(reply))


def render_choices_as_text(reply: Reply) -> str:
    """The text fallback for choices: ``1. Yes`` lines that :func:`match_choice` maps back."""
    if not reply.choices:
        return reply.text
    lines = [reply.text, ""]
    lines.extend(f"{i}. {choice.title}" for i, choice in enumerate(reply.choices, start=1))
    return "\n".join(lines)


class MessageSink(Protocol):
    """Where adapters hand inbound messages: stores them durably, then schedules processing."""

    async def accept(self, message: InboundMessage) -> bool:
        """Store ``message``; return False if it was a redelivery already stored (and do
        nothing)."""
        ...


class TranscriptSource(Protocol):
    """Reads a customer's stored messages, for channels that show history (the web chat)."""

    async def history(
        self, channel: Channel, platform_id: str, *, after_id: int = 0, limit: int = 200
    ) -> list[TranscriptEntry]: ...


class DeliveryReceiptSink(Protocol):
    """Records what a platform reports about a message it accepted (Twilio status callbacks)."""

    async def record_delivery(
        self,
        channel: Channel,
        platform_message_id: str,
        status: DeliveryStatus,
        *,
        error_code: str | None = None,
        error_detail: str | None = None,
    ) -> bool:
        """Update the stored message; False when no message has that platform id."""
        ...


class ReachabilitySink(Protocol):
    """Records that a customer can (not) be reached on a channel (blocked / unblocked the bot)."""

    async def set_reachable(self, channel: Channel, platform_id: str, reachable: bool) -> None: ...
