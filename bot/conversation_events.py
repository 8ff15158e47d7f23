"""Live conversation events: what just happened, for the agent console's live stream.

How to publish (the desk service, the inbox, the worker, the sender): call ``publish`` on
``Pipeline.events`` (an :class:`~bot.event_hub.EventHub`, or any :class:`EventPublisher`). It is a
plain synchronous call that never blocks, never raises and never waits for a database, Redis or a
browser, so it is safe inside the hot path; call it *after* the change is committed, so nobody is
told of something a rollback undid::

    events.publish(MessageAdded(conversation_id, message_json, owner_id=agent_id))
    events.publish(HandoffRequested(conversation_id))      # a conversation now waits in the queue
    events.publish(ConversationClaimed(conversation_id, agent_id))       # claim or auto-assignment
    events.publish(ConversationChanged(conversation_id, owner_id=new_owner_or_None,
                                       previous_owner_id=old_owner_or_None))
    #   ^ transferred, auto-assigned, released to the bot, resolved, back to the queue
    events.publish(DeliveryChanged(conversation_id, message_id, "sent"))

The JSON payloads are the API's objects (``docs/agent-api.md``): ``message`` a ``Message``,
``conversation`` a ``Conversation``. A publisher may leave out what it does not know: an owner of
:data:`UNKNOWN` is looked up (and cached), a ``conversation`` of None is read by the hub. The hub
works out the waiting count (the ``queue`` event) by itself after handoffs, claims and changes.

Events are frozen values so that a publisher cannot change one after handing it over; their
mappings must not be mutated either. This module is core: no web framework, no storage.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from bot.messages import Attachment, Author, DeliveryStatus, InboundMessage, OutboundMessage


class _Unknown(enum.Enum):
    UNKNOWN = "unknown"


#: "I don't know who owns the conversation": the hub looks it up (cached per conversation).
UNKNOWN: Final = _Unknown.UNKNOWN

#: An agent id, None for "nobody" (the bot, the queue), or :data:`UNKNOWN`.
Owner = int | None | Literal[_Unknown.UNKNOWN]


@dataclass(frozen=True, slots=True)
class MessageAdded:
    """A message was stored: a customer's, the bot's, an agent's, or a private note."""

    conversation_id: int
    message: Mapping[str, Any]
    owner_id: Owner = UNKNOWN


@dataclass(frozen=True, slots=True)
class DeliveryChanged:
    """An outbound message's delivery state changed (sent, failed, held, delivered, read)."""

    conversation_id: int
    message_id: int
    status: str
    error_code: str | None = None
    owner_id: Owner = UNKNOWN


@dataclass(frozen=True, slots=True)
class HandoffRequested:
    """A conversation was handed off and waits in the queue."""

    conversation_id: int
    conversation: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ConversationClaimed:
    """An agent took a waiting conversation (claimed it, or was assigned it automatically)."""

    conversation_id: int
    agent_id: int


@dataclass(frozen=True, slots=True)
class ConversationChanged:
    """A conversation's state or owner changed; ``owner_id`` is the owner after the change."""

    conversation_id: int
    owner_id: int | None
    conversation: Mapping[str, Any] | None = None
    previous_owner_id: Owner = UNKNOWN  # told too (a transfer's former owner); else from cache


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """The number of waiting conversations changed (the hub publishes this one by itself)."""

    count: int
    oldest_wait_s: float | None


ConversationEvent = (
    MessageAdded
    | DeliveryChanged
    | HandoffRequested
    | ConversationClaimed
    | ConversationChanged
    | QueueChanged
)


class EventPublisher(Protocol):
    """Where events go. Must not block or raise: callers are in the message path."""

    def publish(self, event: ConversationEvent) -> None: ...


class NoEvents:
    """A publisher that drops everything: for pieces used without a live console (the shell)."""

    def publish(self, event: ConversationEvent) -> None:
        return None


NO_EVENTS: Final = NoEvents()


def iso_utc(moment: datetime) -> str:
    """The API's timestamp format, as :func:`handoff.views.iso` writes it (``...05:00.123Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {"url": attachment.url, "content_type": attachment.content_type, "kind": attachment.kind}


def inbound_message_json(
    message_id: int, conversation_id: int, message: InboundMessage, created_at: datetime
) -> dict[str, Any]:
    """A just-stored customer message as the API's ``Message``."""
    return {
        "id": message_id,
        "conversation_id": conversation_id,
        "direction": "in",
        "author": Author.CUSTOMER.value,
        "kind": "text",
        "text": message.text,
        "attachments": [attachment_json(a) for a in message.attachments],
        "choices": [],
        "agent": None,
        "status": None,
        "created_at": iso_utc(created_at),
    }


def outbound_message_json(
    message: OutboundMessage,
    created_at: datetime,
    *,
    author: str = Author.BOT.value,
    status: str = DeliveryStatus.QUEUED.value,
) -> dict[str, Any]:
    """A just-queued outbound message (the bot's, unless ``author`` says otherwise) as a
    ``Message``."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": "out",
        "author": author,
        "kind": message.reply.kind.value,
        "text": message.reply.text,
        "attachments": [],
        "choices": [{"title": c.title, "payload": c.payload} for c in message.reply.choices],
        "agent": None,
        "status": status,
        "created_at": iso_utc(created_at),
    }
