"""The relational schema. Migrations in ``bot/storage/migrations`` must match it.

The schema keeps every message, in and out, with its author, kind and timestamps, so the metrics of
CONTRACT.md section 6 can be computed in SQL later without a schema change: a customer turn is a run
of ``direction='in'`` rows, a reply is the first later ``kind='reply'`` row of that conversation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# BIGINT primary keys on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, whatever the database keeps.

    SQLite has no time zones and returns naive values; storing naive UTC everywhere and re-attaching
    UTC on the way out keeps comparisons and arithmetic correct on both databases.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        bool: Boolean(),
    }


class Customer(Base):
    """A person on one channel. The same person on two channels is two customers."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("channel", "platform_id", name="uq_customers_channel_platform_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(256))
    language: Mapped[str | None] = mapped_column(String(16))
    language_hint: Mapped[str | None] = mapped_column(String(16))
    unreachable_at: Mapped[datetime | None]
    last_inbound_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Conversation(Base):
    """A customer's conversation; at most one per customer is open (``closed_at IS NULL``)."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index(
            "uq_conversations_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_conversations_state_updated", "state", "updated_at"),
        Index("ix_conversations_closed_at", "closed_at"),
        Index("ix_conversations_agent_id_state", "agent_id", "state"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    fallback_streak: Mapped[int] = mapped_column(SmallInteger, default=0)
    awaiting: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(32))
    # The agent who owns it while ``state == 'agent'`` (no foreign key, like messages.agent_id).
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    # When the bot asked "was this helpful?": at most once per conversation (bot.feedback_rules).
    helpful_asked_at: Mapped[datetime | None]


class Message(Base):
    """Every message in and out. Inbound rows are the inbox; outbound rows are the outbox."""

    __tablename__ = "messages"
    __table_args__ = (
        # Redeliveries of the same platform message are dropped by this index. It covers inbound
        # messages only: platforms may number outbound ones per chat (Telegram), so two customers'
        # replies can carry the same platform id.
        Index(
            "uq_messages_inbound_platform_id",
            "channel",
            "platform_message_id",
            unique=True,
            sqlite_where=text("direction = 'in'"),
            postgresql_where=text("direction = 'in'"),
        ),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_created_at", "created_at"),
        Index(
            "ix_messages_inbox_pending",
            "conversation_id",
            "id",
            sqlite_where=text("direction = 'in' AND processed_at IS NULL"),
            postgresql_where=text("direction = 'in' AND processed_at IS NULL"),
        ),
        Index(
            "ix_messages_outbox_pending",
            "conversation_id",
            "id",
            sqlite_where=text("direction = 'out' AND status = 'queued'"),
            postgresql_where=text("direction = 'out' AND status = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    author: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any] | None]
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    # inbound: when the engine finished with it, and what the NLU made of it
    processed_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(128))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    faq_key: Mapped[str | None] = mapped_column(String(128))
    faq_confidence: Mapped[float | None] = mapped_column(Float)
    # outbound: delivery state (see bot.messages.DeliveryStatus)
    reply_to_id: Mapped[int | None] = mapped_column(BigInteger)
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)


class Handoff(Base):
    """A request for a person, from the moment it is made until it is resolved."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_conversation_id", "conversation_id"),
        Index("ix_handoffs_requested_at", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime]
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    claimed_at: Mapped[datetime | None]
    first_agent_message_at: Mapped[datetime | None]
    # When the handoff ended, however it ended (``ended_reason``: resolved, released, ...).
    resolved_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(16))
    ended_reason: Mapped[str | None] = mapped_column(String(16))


class HandoffTransfer(Base):
    """One change of owner in a handoff: to another agent, or back to the queue (``to`` NULL)."""

    __tablename__ = "handoff_transfers"
    __table_args__ = (Index("ix_handoff_transfers_conversation_id", "conversation_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    from_agent_id: Mapped[int | None] = mapped_column(BigInteger)
    to_agent_id: Mapped[int | None] = mapped_column(BigInteger)
    # Who moved it: an agent, or NULL for the admin token.
    by_agent_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Agent(Base):
    """A support agent who logs in to the console or calls the API.

    Never deleted, only disabled, so that messages and handoffs keep naming who wrote or owned them.
    """

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("username", name="uq_agents_username"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    languages: Mapped[list[str]]
    is_admin: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="away")  # "available" | "away"
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class AuthToken(Base):
    """An API token or a console session. Only the SHA-256 of the secret is stored."""

    __tablename__ = "auth_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_auth_tokens_token_hash"),
        Index("ix_auth_tokens_agent_id", "agent_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "api" | "session"
    csrf_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class CannedReply(Base):
    """A prepared answer agents insert by its shortcut; ``{name}`` style placeholders."""

    __tablename__ = "canned_replies"
    __table_args__ = (UniqueConstraint("shortcut", name="uq_canned_replies_shortcut"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(256))
    language: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Feedback(Base):
    """A customer's rating (1 to 5; thumbs up is 5, thumbs down 1) or comment.

    ``kind`` is ``helpful`` (the thumbs after an FAQ answer), ``rating`` (1-5 after a handoff) or
    ``comment``. ``target`` names what is rated (``message:<id>`` of the answer, ``handoff:<id>``,
    or for a comment the inbound ``message:<id>`` it came in): a rating given twice for the same
    target updates the row, so the last one counts.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint(
            "conversation_id", "kind", "target", name="uq_feedback_conversation_kind_target"
        ),
        Index("ix_feedback_created_at", "created_at"),
        Index("ix_feedback_agent_id", "agent_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    faq_key: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16), server_default="rating")
    target: Mapped[str] = mapped_column(String(64), server_default="")
    handoff_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class ReviewItem(Base):
    """A customer question the team should look at: it fell back, was rated low or handed off.

    The NLU's best guess is copied from the message, so the queue reads without joins and keeps
    what the model thought at the time. One item per question (the first reason wins).
    ``status``: ``open`` | ``added`` | ``dismissed``; ``target_faq``: an FAQ key or ``new``.
    """

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_review_items_message_id"),
        Index("ix_review_items_status_id", "status", "id"),
        Index("ix_review_items_conversation_id", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(16))  # "fallback" | "low_rating" | "handoff"
    intent: Mapped[str | None] = mapped_column(String(128))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    faq_key: Mapped[str | None] = mapped_column(String(128))
    faq_confidence: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    target_faq: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    marked_by: Mapped[int | None] = mapped_column(BigInteger)
    marked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MessageReceipt(Base):
    """One platform message of a stored outbound message (a long reply may be several).

    Status callbacks name the platform's id; this table finds the stored message by it.
    """

    __tablename__ = "message_receipts"
    __table_args__ = (Index("ix_message_receipts_message_id", "message_id"),)

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    platform_message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class ReportTurn(Base):
    """One customer turn (CONTRACT.md section 6) and the reply that answered it, if any.

    Kept up to date from ``messages`` by :mod:`bot.reports.turn_folding`, so ``carebot report``
    aggregates turns instead of re-deriving them with window functions over every message. Only
    facts that never change once a message is stored are kept: whether a turn counts as answered
    depends on the response window and on "now", so the report decides that. The turn is keyed by
    its first customer message; ``reply_message_id`` is NULL while it is open (a later customer
    message extends it, a later reply answers it).
    """

    __tablename__ = "report_turns"
    __table_args__ = (
        Index("ix_report_turns_started_at", "started_at"),
        Index("ix_report_turns_conversation_id", "conversation_id"),
    )

    first_message_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    # The channel of the turn's first message (the per-channel breakdown counts turns by it).
    channel: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    last_message_id: Mapped[int] = mapped_column(BigInteger)
    # The conversation's first turn: the first response time is measured on it.
    is_first: Mapped[bool]
    reply_message_id: Mapped[int | None] = mapped_column(BigInteger)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(16))  # "bot" | "agent"
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    # answered_at - started_at in seconds, stored when the reply is folded in, so reports
    # aggregate a column instead of doing date arithmetic on every turn.
    response_seconds: Mapped[float | None] = mapped_column(Float)


class ReportTurnsWatermark(Base):
    """The one row saying up to which message id ``report_turns`` has folded ``messages`` in."""

    __tablename__ = "report_turns_watermark"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger)
