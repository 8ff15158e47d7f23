"""Settings: the environment (``CAREBOT_*`` variables and ``.env``) and the behaviour file.

One :class:`Settings` object is built in ``main()`` and passed down; nothing reads ``os.environ`` at
import time. Secrets are ``SecretStr`` so that a stray ``repr`` or log line never shows them. Every
validation problem becomes a :class:`ConfigError` whose message names the variable or key, so the
CLI
can print one line instead of a traceback.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.durations import parse_duration
from handoff.business_hours import WEEKDAYS, BusinessHours

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class ConfigError(Exception):
    """A setting or the behaviour file is wrong; the message is one line meant for a person."""


# --------------------------------------------------------------------------------------------------
# Behaviour: config/carebot.yml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NluBehaviour(_Strict):
    threshold: float = Field(
        0.6, ge=0, le=1, description="intent confidence under which we fall back"
    )
    faq_threshold: float = Field(
        0.5, ge=0, le=1, description="response-selector confidence for FAQs"
    )
    timeout: Duration = timedelta(seconds=3)
    retries: int = Field(1, ge=0, le=5)


class FallbackBehaviour(_Strict):
    offer_human_after: int = Field(
        2, ge=0, description="fallbacks in a row before offering a person; 0 never offers"
    )


# What a handoff trigger does: hand off at once, offer a person first, or nothing.
TriggerAction = Literal["handoff", "offer", "off"]


class SentimentTrigger(_Strict):
    """Angry customers: keywords matched before the NLU, and the NLU's ``feedback_negative``."""

    keywords: dict[str, list[str]] = Field(default_factory=dict)
    keywords_action: TriggerAction = "handoff"
    intent_action: TriggerAction = "offer"


class QueueNotice(_Strict):
    """When the handoff notice tells the expected wait, and from which recent handoffs."""

    long_queue: int = Field(
        3, ge=0, description="waiting conversations from which the wait is told; 0 always"
    )
    wait_sample: int = Field(20, ge=1, description="recent claimed handoffs the wait comes from")
    wait_window: Duration = timedelta(days=1)
    min_samples: int = Field(3, ge=1, description="claimed handoffs needed for an estimate")


class HandoffBehaviour(_Strict):
    keywords: dict[str, list[str]] = Field(default_factory=dict)
    commands: list[str] = Field(default_factory=lambda: ["/human", "/operatore", "/agent"])
    accept_words: list[str] = Field(default_factory=list, description="typed answers meaning yes")
    decline_words: list[str] = Field(default_factory=list, description="typed answers meaning no")
    sentiment: SentimentTrigger = SentimentTrigger()
    rules: list[str] = Field(
        default_factory=list, description="FAQ keys (faq/...) or intents always handed off"
    )
    on_nlu_unavailable: bool = Field(True, description="hand off when the NLU does not answer")
    queue: QueueNotice = QueueNotice()
    auto_assign: bool = Field(
        False, description="assign waiting conversations to the least busy available agent"
    )
    agent_name_prefix: str = Field(
        "", description="put before an agent's reply, {name} is the agent's display name"
    )

    @field_validator("rules")
    @classmethod
    def _rules_named(cls, rules: list[str]) -> list[str]:
        if any(not rule.strip() for rule in rules):
            raise ValueError("an empty rule; list FAQ keys like faq/complaint or intent names")
        return [rule.strip() for rule in rules]


class BusinessHoursBehaviour(_Strict):
    """Opening hours of the people behind the bot; absent means always open.

    Days are ``"09:00-18:00"``, several ranges separated by commas, or ``closed`` (a day left out
    is closed too); holidays are ``YYYY-MM-DD`` (once) or ``MM-DD`` (every year).
    """

    timezone: str
    mon: str | None = None
    tue: str | None = None
    wed: str | None = None
    thu: str | None = None
    fri: str | None = None
    sat: str | None = None
    sun: str | None = None
    holidays: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _parses(self) -> BusinessHoursBehaviour:
        self.schedule()  # a ValueError here becomes a one-line ConfigError naming the entry
        return self

    def schedule(self) -> BusinessHours:
        """The schedule as :class:`handoff.business_hours.BusinessHours`."""
        days = {day: getattr(self, day) for day in WEEKDAYS}
        return BusinessHours.parse(self.timezone, days, self.holidays)


class ConversationBehaviour(_Strict):
    inactivity_close: Duration = timedelta(hours=2)


class MetricsBehaviour(_Strict):
    response_window: Duration = timedelta(hours=24)


class SenderBehaviour(_Strict):
    max_attempts: int = Field(10, ge=1)
    backoff_base: Duration = timedelta(seconds=1)
    backoff_max: Duration = timedelta(minutes=5)
    concurrency: int = Field(32, ge=1)


class FeedbackBehaviour(_Strict):
    """When the bot asks for feedback (see :mod:`bot.feedback_rules`)."""

    helpful: bool = Field(
        True, description="ask 'Was this helpful?' once per conversation, after an FAQ answer"
    )
    ask_comment: bool = Field(True, description="after a 1-5 rating, invite one optional comment")
    low_rating: int = Field(
        2, ge=0, le=5, description="ratings up to this put the question in the review queue"
    )


class WorkerBehaviour(_Strict):
    concurrency: int = Field(32, ge=1, description="conversations processed at once")
    sweep_interval: Duration = timedelta(seconds=2)


# Every text the engine may say; a behaviour file must define each, in every language.
REQUIRED_TEXTS = (
    "greet",
    "goodbye",
    "thanks",
    "bot_challenge",
    "how_can_i_help",
    "rephrase",
    "out_of_scope",
    "offer_human",
    "sorry_offer_human",
    "offer_declined",
    "choice_yes",
    "choice_no",
    "handoff_requested",
    "handoff_sentiment",
    "handoff_queue",
    "handoff_expected_wait",
    "handoff_closed",
    "wait_minutes",
    "wait_hours",
    "back_today",
    "back_tomorrow",
    "back_on_day",
    "back_on_date",
    "weekdays",
    "nlu_unavailable",
    "nlu_unavailable_no_handoff",
    "text_only",
    "feedback_request",
    "helpful_request",
    "feedback_thanks",
    "feedback_comment_request",
    "feedback_comment_thanks",
)


class Behaviour(_Strict):
    """Everything about how the bot behaves, loaded from ``config/carebot.yml``."""

    languages: list[str] = Field(default_factory=lambda: ["it", "en"], min_length=1)
    default_language: str = "en"
    nlu: NluBehaviour = NluBehaviour()
    fallback: FallbackBehaviour = FallbackBehaviour()
    handoff: HandoffBehaviour = HandoffBehaviour()
    conversation: ConversationBehaviour = ConversationBehaviour()
    metrics: MetricsBehaviour = MetricsBehaviour()
    sender: SenderBehaviour = SenderBehaviour()
    worker: WorkerBehaviour = WorkerBehaviour()
    feedback: FeedbackBehaviour = FeedbackBehaviour()
    business_hours: BusinessHoursBehaviour | None = None
    texts: dict[str, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _languages_covered(self) -> Behaviour:
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} is not among languages")
        missing_texts = [key for key in REQUIRED_TEXTS if key not in self.texts]
        if missing_texts:
            raise ValueError(f"texts: missing {', '.join(missing_texts)} (see config/carebot.yml)")
        for key, by_language in self.texts.items():
            missing = [lang for lang in self.languages if lang not in by_language]
            if missing:
                raise ValueError(f"texts.{key} has no text for {', '.join(missing)}")
        for language, names in self.texts["weekdays"].items():
            if len([name for name in names.split(",") if name.strip()]) != 7:
                raise ValueError(f"texts.weekdays.{language}: 7 names with commas, Monday first")
        for language in self.handoff.sentiment.keywords:
            if language not in self.languages:
                raise ValueError(f"handoff.sentiment.keywords: {language!r} is not among languages")
        return self

    def text(self, key: str, language: str, **values: Any) -> str:
        """The configured text ``key`` in ``language`` (default language if missing), formatted."""
        by_language = self.texts.get(key)
        if not by_language:
            raise KeyError(f"texts.{key} is not configured")
        template = by_language.get(language) or by_language[self.default_language]
        return template.format(**values) if values else template


def load_behaviour(path: Path) -> Behaviour:
    """Read and validate the behaviour file; every problem becomes a one-line
    :class:`ConfigError`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: not valid YAML ({detail})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return Behaviour.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None


# --------------------------------------------------------------------------------------------------
# Environment: CAREBOT_* and .env


class Settings(BaseSettings):
    """Process settings from ``CAREBOT_*`` environment variables and ``.env`` (CONTRACT section
    3)."""

    model_config = SettingsConfigDict(
        env_prefix="CAREBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite+aiosqlite:///var/carebot.db"
    rasa_url: str = "http://127.0.0.1:5005"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"

    telegram_token: SecretStr | None = None
    telegram_mode: Literal["webhook", "polling"] = "webhook"
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_broadcast_chat: str | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"

    redis_url: str | None = None
    admin_token: SecretStr | None = None

    config: Path = Path("config/carebot.yml")
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    rasa_venv: Path = Path(".venv-rasa")
    nlu_project: Path = Path("nlu")
    models_dir: Path = Path("var/models")

    @field_validator("public_url", "rasa_url", "telegram_api_url", "twilio_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")
        return value

    def check_channels(self) -> None:
        """Refuse channel settings that cannot work, with one line naming the variable."""
        if self.telegram_enabled and self.telegram_mode == "webhook":
            if (
                self.telegram_webhook_secret is None
                or not self.telegram_webhook_secret.get_secret_value()
            ):
                raise ConfigError(
                    "CAREBOT_TELEGRAM_WEBHOOK_SECRET is required in webhook mode "
                    "(or set CAREBOT_TELEGRAM_MODE=polling)"
                )
            secret = self.telegram_webhook_secret.get_secret_value()
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                raise ConfigError(
                    "CAREBOT_TELEGRAM_WEBHOOK_SECRET: 1-256 characters, only A-Z, a-z, 0-9, _ and -"
                )
        if self.twilio_account_sid and self.twilio_auth_token is None:
            raise ConfigError(
                "CAREBOT_TWILIO_AUTH_TOKEN is required with CAREBOT_TWILIO_ACCOUNT_SID"
            )
        if self.whatsapp_enabled and not self.twilio_whatsapp_from:
            raise ConfigError(
                "CAREBOT_TWILIO_WHATSAPP_FROM is required for WhatsApp (e.g. whatsapp:+14155238886)"
            )

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_token is not None

    @property
    def whatsapp_enabled(self) -> bool:
        return self.twilio_account_sid is not None and self.twilio_auth_token is not None


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings`, turning validation errors into a one-line :class:`ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc, env_prefix="CAREBOT_")) from None


def _first_error(exc: ValidationError, env_prefix: str = "") -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
    if env_prefix:
        location = env_prefix + location.upper()
    message = error["msg"].removeprefix("Value error, ")
    secret = any(word in location.lower() for word in ("token", "secret", "password"))
    extra = f" (got {error['input']!r})" if env_prefix and "input" in error and not secret else ""
    more = f" and {len(exc.errors()) - 1} more problem(s)" if len(exc.errors()) > 1 else ""
    return f"{location}: {message}{extra}{more}"
