"""Who is calling the desk: an agent (by token or console session) or the admin token.

Every desk method takes a :class:`Principal` and authorises against it, so the rules live in one
place whatever the caller (API, console, tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PrincipalKind = Literal["api", "session", "admin"]
AgentStatus = Literal["available", "away"]
AGENT_STATUSES: tuple[AgentStatus, ...] = ("available", "away")


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An agent as stored (without its password hash)."""

    id: int
    username: str
    display_name: str
    languages: tuple[str, ...]
    is_admin: bool
    status: str
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request.

    Attributes:
        agent: the agent, or None for ``CAREBOT_ADMIN_TOKEN``, which acts as no agent.
        kind: how it authenticated: an API token, a console session or the admin token.
        token_id: the stored token or session used (None for the admin token), so that it can be
            revoked by the call itself (``DELETE /api/v1/auth/token``, logout).
        csrf_token: the session's CSRF token (sessions only).
    """

    agent: AgentRecord | None
    kind: PrincipalKind
    token_id: int | None = None
    csrf_token: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.agent is None or self.agent.is_admin

    @property
    def agent_id(self) -> int | None:
        return None if self.agent is None else self.agent.id

    @classmethod
    def admin_token(cls) -> Principal:
        return cls(agent=None, kind="admin")

    @classmethod
    def for_agent(cls, agent: AgentRecord, kind: PrincipalKind = "api") -> Principal:
        """A principal for ``agent`` without a stored token (CLI, tests, internal calls)."""
        return cls(agent=agent, kind=kind)
