"""What the desk shows: read-only views of agents, customers, conversations and messages.

They are the API's objects (docs/agent-api.md, "Objects"); :meth:`as_json` gives the exact JSON
shape, used by the API, the live events and the console alike, so the three never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and ``Z`` (``2026-11-23T14:05:00.123Z``)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AgentView:
    id: int
    username: str
    display_name: str
    languages: tuple[str, ...]
    is_admin: bool
    status: str
    open_conversations: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "languages": list(self.languages),
            "is_admin": self.is_admin,
            "status": self.status,
            "open_conversations": self.open_conversations,
        }


@dataclass(frozen=True, slots=True)
class CustomerView:
    id: int
    channel: str
    platform_id: str
    display_name: str | None
    language: str | None
    unreachable: bool
    created_at: datetime
    last_inbound_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "platform_id": self.platform_id,
            "display_name": self.display_name,
            "language": self.language,
            "unreachable": self.unreachable,
            "created_at": iso(self.created_at),
            "last_inbound_at": iso(self.last_inbound_at),
        }


@dataclass(frozen=True, slots=True)
class HandoffView:
    id: int
    reason: str
    detail: str | None
    requested_at: datetime
    claimed_at: datetime | None
    agent_id: int | None
    resolved_at: datetime | None
    language: str | None
    ended_reason: str | None
    first_agent_message_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reason": self.reason,
            "detail": self.detail,
            "requested_at": iso(self.requested_at),
            "claimed_at": iso(self.claimed_at),
            "agent_id": self.agent_id,
            "resolved_at": iso(self.resolved_at),
            "language": self.language,
            "ended_reason": self.ended_reason,
            "first_agent_message_at": iso(self.first_agent_message_at),
        }


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    conversation_id: int
    direction: str
    author: str
    kind: str
    text: str
    attachments: tuple[dict[str, Any], ...]
    choices: tuple[dict[str, str], ...]
    agent: tuple[int, str] | None  # (id, display name) of the agent who wrote it
    status: str | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "direction": self.direction,
            "author": self.author,
            "kind": self.kind,
            "text": self.text,
            "attachments": [
                {
                    "url": a.get("url"),
                    "content_type": a.get("content_type"),
                    "kind": a.get("kind"),
                }
                for a in self.attachments
            ],
            "choices": [dict(c) for c in self.choices],
            "agent": None
            if self.agent is None
            else {"id": self.agent[0], "display_name": self.agent[1]},
            "status": self.status,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: int
    state: str
    channel: str
    language: str | None
    customer: CustomerView
    agent: AgentView | None
    handoff: HandoffView | None
    created_at: datetime
    updated_at: datetime
    last_message: MessageView | None
    unread: int

    @property
    def agent_id(self) -> int | None:
        return None if self.agent is None else self.agent.id

    def waiting_since(self) -> datetime | None:
        """When the open handoff was requested (the queue's order), if it waits."""
        if self.state != "waiting" or self.handoff is None:
            return None
        return self.handoff.requested_at

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "channel": self.channel,
            "language": self.language,
            "customer": self.customer.as_json(),
            "agent": None if self.agent is None else self.agent.as_json(),
            "handoff": None if self.handoff is None else self.handoff.as_json(),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "last_message": None if self.last_message is None else self.last_message.as_json(),
            "unread": self.unread,
        }


@dataclass(frozen=True, slots=True)
class CannedReplyView:
    id: int
    shortcut: str
    title: str
    language: str | None
    text: str
    created_by: int | None
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "shortcut": self.shortcut,
            "title": self.title,
            "language": self.language,
            "text": self.text,
            "created_by": self.created_by,
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """How many conversations wait and for how long the oldest has (the ``queue`` event)."""

    count: int
    oldest_requested_at: datetime | None

    def as_json(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        wait = (
            None
            if self.oldest_requested_at is None
            else round(max(0.0, (now - self.oldest_requested_at).total_seconds()), 3)
        )
        return {"count": self.count, "oldest_wait_s": wait}
