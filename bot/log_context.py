"""Per-message logging context: conversation id, channel and intent on every log line.

Values live in context variables, so concurrent conversations on one event loop never mix them up;
the
one logging configuration module (:mod:`bot.logging_setup`) adds them to every record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

conversation_id: ContextVar[int | None] = ContextVar("conversation_id", default=None)
channel: ContextVar[str | None] = ContextVar("channel", default=None)
intent: ContextVar[str | None] = ContextVar("intent", default=None)


@contextmanager
def conversation(conversation_id_: int, channel_: str | None = None) -> Iterator[None]:
    """Tag every log line inside the block with this conversation."""
    tokens = (conversation_id.set(conversation_id_), channel.set(channel_), intent.set(None))
    try:
        yield
    finally:
        conversation_id.reset(tokens[0])
        channel.reset(tokens[1])
        intent.reset(tokens[2])
