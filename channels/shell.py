"""``carebot shell``: talk to the bot from a terminal, through the real pipeline.

Each line typed becomes an :class:`InboundMessage` on the ``shell`` channel, stored and processed
like
a webhook's; replies come back through :class:`ShellOutput`. Choices are shown as a numbered list
and
answered by typing the number, as on WhatsApp.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TextIO

from bot.interfaces import MessageSink, OutputChannel, render_choices_as_text
from bot.messages import Channel, Delivery, InboundMessage, MessageKind, OutboundMessage

EXIT_WORDS = {"/exit", "/quit", "/stop"}


class ShellOutput(OutputChannel):
    """Prints replies to the terminal."""

    channel = Channel.SHELL

    def __init__(self, stream: TextIO | None = None, *, prefix: str = "bot> ") -> None:
        self._stream = stream or sys.stdout
        self._prefix = prefix
        self.delivered = asyncio.Event()

    async def send_text(self, recipient_id: str, text: str) -> Delivery:
        self._print(text)
        return Delivery()

    async def send_reply(self, message: OutboundMessage) -> Delivery:
        text = render_choices_as_text(message.reply)
        if message.reply.kind is MessageKind.NOTICE:
            text = f"({text})"
        self._print(text)
        return Delivery((f"shell-{message.id}",))

    def _print(self, text: str) -> None:
        indent = " " * len(self._prefix)
        lines = text.splitlines() or [""]
        body = "\n".join([self._prefix + lines[0], *(indent + line for line in lines[1:])])
        print(body, file=self._stream, flush=True)
        self.delivered.set()


async def run_shell(
    sink: MessageSink,
    user: str,
    settle: Callable[[], Awaitable[None]],
    *,
    language: str | None = None,
    stdin: TextIO | None = None,
    prompt: bool = True,
) -> None:
    """Read lines until end of input or ``/exit``; after each, wait until the bot has answered.

    Each run is a new customer (``user@session``): a terminal session is a fresh conversation, so a
    conversation handed to a person in an earlier run does not leave the bot silent in this one.
    """
    source = stdin or sys.stdin
    session = uuid.uuid4().hex[:8]
    counter = 0
    while True:
        if prompt:
            print("you> ", end="", flush=True)
        line = await asyncio.to_thread(source.readline)
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text.casefold() in EXIT_WORDS:
            break
        counter += 1
        await sink.accept(
            InboundMessage(
                channel=Channel.SHELL,
                sender_id=f"{user}@{session}",
                message_id=f"{session}-{counter}",
                text=text,
                received_at=datetime.now(UTC),
                sender_name=user,
                language_hint=language,
            )
        )
        await settle()
