"""The one place that configures logging handlers and formats.

Library modules only call ``logging.getLogger(__name__)``. Every record gets the conversation id,
channel and intent of the message being handled (from :mod:`bot.log_context`), in console or JSON
form.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from bot import log_context


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation_id = log_context.conversation_id.get()
        record.channel = log_context.channel.get()
        record.intent = log_context.intent.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("conversation_id", "channel", "intent"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """Readable lines for a terminal: ``time level logger [conv=12 web] message``."""

    def format(self, record: logging.LogRecord) -> str:
        context = ""
        conversation = getattr(record, "conversation_id", None)
        if conversation is not None:
            parts = [f"conv={conversation}"]
            for key in ("channel", "intent"):
                value = getattr(record, key, None)
                if value:
                    parts.append(str(value))
            context = f" [{' '.join(parts)}]"
        line = (
            f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}{context} "
            f"{record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter we never need at INFO.
    for noisy in ("aiohttp.access", "httpx", "alembic", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # PTB's rate limiter logs a traceback at ERROR for every 429; the outbox already logs the retry.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
