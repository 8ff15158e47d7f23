"""Channel-neutral value types that flow between adapters, the engine and the NLU client.

They are frozen so that nothing downstream can mutate what an adapter produced: a message is what
the
customer sent, full stop. Platform specifics stay in the adapters; what the engine needs is here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Channel(enum.StrEnum):
    """Where a customer writes from. Stored as its value, so names are stable."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    WEB = "web"
    SHELL = "shell"


class Author(enum.StrEnum):
    """Who wrote a stored message."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class MessageKind(enum.StrEnum):
    """What an outbound message is for; only ``REPLY`` answers a customer turn (CONTRACT section
    6)."""

    TEXT = "text"  # a customer message
    REPLY = "reply"  # the bot or an agent answering the customer
    NOTICE = "notice"  # automatic notices: "an agent will answer soon", feedback requests, ...
    BROADCAST = "broadcast"
    NOTE = "note"  # private agent notes, never sent


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file, voice note or location the customer sent; kept for the agent, never parsed by the
    bot."""

    kind: str  # "image", "audio", "video", "document", "location", ...
    url: str | None = None
    content_type: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a customer, as an adapter understood it.

    Attributes:
        channel: the channel it arrived on.
        sender_id: the platform's stable id of the customer's chat (Telegram chat id, WhatsApp
            number ``whatsapp:+39...``, web chat session id, shell user).
        message_id: the platform's id of this message, unique per channel; redeliveries carry the
        same
            id so the store can drop them.
        text: the text, or ``""`` for media without a caption.
        sender_name: display name if the platform gives one.
        language_hint: an IETF tag the platform suggests (Telegram's ``language_code``), if any.
        payload: the machine value of a button the customer pressed, if any.
        attachments: media and locations, kept for the agent.
        received_at: when the platform says it was sent (UTC), or when we received it.
    """

    channel: Channel
    sender_id: str
    message_id: str
    text: str
    received_at: datetime
    sender_name: str | None = None
    language_hint: str | None = None
    payload: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Choice:
    """One option the engine offers; adapters render it as a button or a numbered line."""

    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class Reply:
    """Something to say to a customer: text plus optional choices."""

    text: str
    choices: tuple[Choice, ...] = ()
    kind: MessageKind = MessageKind.REPLY


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A stored reply the sender is about to deliver (the outbox row, as the adapter sees it)."""

    id: int
    conversation_id: int
    channel: Channel
    recipient_id: str
    reply: Reply
    language: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a platform said after accepting a message."""

    platform_message_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RankedIntent:
    name: str
    confidence: float


@dataclass(frozen=True, slots=True)
class NluResult:
    """What the NLU understood of one text.

    ``faq_key`` is the retrieval intent's response key (``faq/shipping_cost``) when the top intent
    is the
    FAQ retrieval intent; answers are looked up by it on the gateway side.
    """

    text: str
    intent: str | None
    confidence: float
    faq_key: str | None = None
    faq_confidence: float = 0.0
    ranking: tuple[RankedIntent, ...] = field(default_factory=tuple)


class ConversationState(enum.StrEnum):
    """Who is handling a conversation right now."""

    BOT = "bot"  # the bot answers
    WAITING = "waiting"  # handed off, waiting in the agents' queue; the bot stays silent
    AGENT = "agent"  # an agent owns it; the bot stays silent
    CLOSED = "closed"


class DeliveryStatus(enum.StrEnum):
    """The life of an outbound message, from the outbox to the customer's phone."""

    QUEUED = "queued"  # stored, not yet handed to the platform (or waiting for a retry)
    SENT = "sent"  # the platform accepted it
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"  # given up: the platform refused it or retries ran out
    UNDELIVERED = "undelivered"  # the platform accepted it but could not deliver it
    HELD = "held"  # not sendable now (e.g. outside WhatsApp's 24-hour window); needs a person


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """A stored message as a transcript shows it (web chat history, the agent console)."""

    id: int
    direction: str  # "in" | "out"
    author: str
    kind: str
    text: str
    choices: tuple[Choice, ...]
    created_at: datetime
    status: str | None
