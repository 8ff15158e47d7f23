"""What can go wrong when someone acts on the desk, as exceptions with stable codes.

The core raises these; the web edge maps each ``code`` to an HTTP status (docs/agent-api.md,
"Errors"), the CLI to a one-line message. Keeping the codes here means the API's error vocabulary
is defined once, next to the rules that produce it.
"""

from __future__ import annotations

from typing import Any


class DeskError(Exception):
    """Base class: ``code`` is the stable machine-readable name, the message is for a person."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        #: Extra JSON-ready fields for the error body (e.g. the owning agent of a lost claim).
        self.details = details


class InvalidRequest(DeskError):
    """A field is missing, of the wrong type or out of range; the message names the field."""

    code = "invalid_request"


class Unauthorized(DeskError):
    """No credentials, or credentials we do not know (or that expired, or were revoked)."""

    code = "unauthorized"


class Forbidden(DeskError):
    """Known caller, but not allowed: another agent's conversation, an admin-only action."""

    code = "forbidden"


class NotFound(DeskError):
    """No such conversation, customer, agent or canned reply."""

    code = "not_found"


class AlreadyClaimed(DeskError):
    """A claim lost the race: ``details["agent"]`` names who owns the conversation."""

    code = "already_claimed"


class Conflict(DeskError):
    """The conversation's state does not allow this now (reply to a bot conversation, ...)."""

    code = "conflict"


class Duplicate(Conflict):
    """A unique name is taken (agent username, canned reply shortcut)."""
