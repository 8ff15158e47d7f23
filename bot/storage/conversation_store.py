"""The SQL conversation store: inbox, outbox and conversation state, on SQLite or PostgreSQL.

Every method is one transaction, so a crash leaves either all of a step or none of it:

* :meth:`SqlConversationStore.accept` stores an inbound message (dropping redeliveries by the
  platform's message id) together with its customer and open conversation;
* :meth:`SqlConversationStore.complete` marks a message processed *and* queues the replies *and*
  updates the conversation, so a message is never half-handled and a reply is never lost; it refuses
  an outcome decided on a conversation state that has changed since (:class:`StaleConversation`);
* the ``mark_*`` methods record what happened to an outbound message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Exists,
    bindparam,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningUpdate

from bot.engine import ConversationSnapshot, CustomerSnapshot, Outcome, PendingInbound
from bot.feedback_rules import without_helpful_request
from bot.messages import (
    Attachment,
    Author,
    Channel,
    Choice,
    ConversationState,
    Delivery,
    DeliveryStatus,
    InboundMessage,
    MessageKind,
    OutboundMessage,
    Reply,
    TranscriptEntry,
)
from bot.storage.database import Database
from bot.storage.feedback_records import record_feedback_and_review
from bot.storage.models import Conversation, Customer, Handoff, Message, MessageReceipt

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Accepted:
    """Where an accepted inbound message was stored, and what the worker needs to process it.

    ``pending`` is the message as :meth:`SqlConversationStore.next_pending` would return it right
    after the accepting transaction; ``earlier_pending`` says whether an older message of the same
    conversation was still unprocessed then (the worker must then read the inbox to keep order).
    """

    message_id: int
    conversation_id: int
    customer_id: int
    pending: PendingInbound
    earlier_pending: bool


@dataclass(frozen=True, slots=True)
class QueuedOutbound:
    """The head of a conversation's outbox with what the sender needs to decide."""

    message: OutboundMessage
    attempts: int
    next_attempt_at: datetime | None
    customer_id: int
    customer_unreachable: bool
    last_inbound_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Completed:
    """What :meth:`SqlConversationStore.complete` did, read in its own transaction.

    Attributes:
        applied: False when another worker had already processed the message (nothing changed).
        replies: the replies queued, in order, with what the sender needs to send them.
        older_queued: an older reply of the conversation was still queued: the sender must send it
            first, so it has to read its outbox rather than send ``replies`` at once.
        next_pending: the conversation's oldest unprocessed message after this one, if any.
    """

    applied: bool
    replies: tuple[QueuedOutbound, ...] = ()
    older_queued: bool = False
    next_pending: PendingInbound | None = None

    @property
    def reply_ids(self) -> list[int]:
        return [q.message.id for q in self.replies]


class StaleConversation(Exception):
    """The conversation changed while the engine decided (an agent claimed it, ...): decide again.

    Nothing of the outcome was applied; the message is still pending with the new state.
    """


class _Duplicate(Exception):
    pass


class SqlConversationStore:
    """Inbox, outbox and conversation state over SQLAlchemy (see the module docstring).

    The write transactions are synchronous functions over a ``Connection`` that
    :meth:`Database.run_write` runs in one trip (see :mod:`bot.storage.database`); their statements
    are built once here, with bound parameters, and only their parameters change per call.
    """

    def __init__(
        self, database: Database, *, inactivity_close: timedelta = timedelta(hours=2)
    ) -> None:
        self._db = database
        self._inactivity_close = inactivity_close
        self._insert = (
            sqlite.insert if database.writer.dialect.name == "sqlite" else postgresql.insert
        )
        self._build_statements()

    def _build_statements(self) -> None:
        customer = self._insert(Customer)
        excluded = customer.excluded
        self._upsert_customer = customer.on_conflict_do_update(
            index_elements=["channel", "platform_id"],
            set_={
                "display_name": func.coalesce(excluded.display_name, Customer.display_name),
                "language_hint": func.coalesce(excluded.language_hint, Customer.language_hint),
                "last_inbound_at": excluded.last_inbound_at,
                "updated_at": excluded.updated_at,
            },
        ).returning(*_CUSTOMER_COLUMNS)
        self._open_conversation_of = select(
            Conversation.id, Conversation.state, Conversation.updated_at
        ).where(
            Conversation.customer_id == bindparam("b_customer"), Conversation.closed_at.is_(None)
        )
        self._touch_conversation = (
            update(Conversation)
            .where(Conversation.id == bindparam("b_conversation"))
            .returning(*_CONVERSATION_COLUMNS)
        )
        self._touch_open_conversation = (
            update(Conversation)
            .where(
                Conversation.customer_id == bindparam("b_customer"),
                Conversation.closed_at.is_(None),
            )
            .returning(*_CONVERSATION_COLUMNS)
        )
        self._insert_conversation = (
            self._insert(Conversation)
            .on_conflict_do_nothing(
                index_elements=["customer_id"], index_where=Conversation.closed_at.is_(None)
            )
            .returning(*_CONVERSATION_COLUMNS)
        )
        self._insert_inbound = (
            self._insert(Message)
            .on_conflict_do_nothing(
                index_elements=["channel", "platform_message_id"],
                # A literal, not a bound parameter: PostgreSQL cannot match a partial index to a
                # predicate with a parameter once it plans the prepared statement generically.
                index_where=text("direction = 'in'"),
            )
            .returning(Message.id)
        )
        self._unprocessed_in = select(
            _unprocessed(Message.conversation_id == bindparam("b_conversation"))
        )
        self._unprocessed_after = select(
            _unprocessed(
                Message.conversation_id == bindparam("b_conversation"),
                Message.id > bindparam("b_message"),
            )
        )
        self._unprocessed_before = select(
            _unprocessed(
                Message.conversation_id == bindparam("b_conversation"),
                Message.id < bindparam("b_message"),
            )
        )
        self._mark_processed = update(Message).where(
            Message.id == bindparam("b_message"), Message.processed_at.is_(None)
        )
        self._customer_reachability = select(
            Customer.unreachable_at, Customer.last_inbound_at
        ).where(Customer.id == bindparam("b_customer"))
        self._set_customer_language = (
            update(Customer)
            .where(Customer.id == bindparam("b_customer"))
            .returning(Customer.unreachable_at, Customer.last_inbound_at)
        )
        seen = (
            Conversation.id == bindparam("b_conversation"),
            Conversation.state == bindparam("b_state"),
            Conversation.fallback_streak == bindparam("b_streak"),
        )
        self._update_conversation_not_awaiting = update(Conversation).where(
            *seen, Conversation.awaiting.is_(None)
        )
        self._update_conversation_awaiting = update(Conversation).where(
            *seen, Conversation.awaiting == bindparam("b_awaiting")
        )
        self._insert_reply = insert(Message).returning(Message.id)
        self._insert_handoff = insert(Handoff)
        self._queued_before = select(
            _queued_exists(
                Message.conversation_id == bindparam("b_conversation"),
                Message.id < bindparam("b_message"),
            )
        )
        self._mark_sent = (
            update(Message)
            .where(Message.id == bindparam("b_message"))
            .values(attempts=Message.attempts + 1)
            .returning(Message.channel, Message.conversation_id)
        )
        self._insert_receipts = self._insert(MessageReceipt).on_conflict_do_nothing()
        self._mark_counted = (
            update(Message)
            .where(Message.id == bindparam("b_message"))
            .values(attempts=Message.attempts + 1)
            .returning(Message.conversation_id)
        )
        self._mark_uncounted = (
            update(Message)
            .where(Message.id == bindparam("b_message"))
            .returning(Message.conversation_id)
        )
        self._mark_unreachable = update(Customer).where(
            Customer.id == bindparam("b_customer"), Customer.unreachable_at.is_(None)
        )

    # ------------------------------------------------------------------------------ inbox

    async def accept(self, message: InboundMessage) -> Accepted | None:
        """Store an inbound message; None when the platform redelivered one we already have.

        One write transaction and no read: a redelivery is recognised by the unique index on the
        platform's message id, and then the whole transaction (customer, conversation) rolls back.
        """
        try:
            return await self._db.run_write(lambda connection: self._accept(connection, message))
        except _Duplicate:
            return None

    def _accept(self, connection: Connection, message: InboundMessage) -> Accepted:
        now = utcnow()
        customer = _customer_snapshot(
            connection.execute(
                self._upsert_customer,
                {
                    "channel": message.channel.value,
                    "platform_id": message.sender_id,
                    "display_name": message.sender_name,
                    "language_hint": message.language_hint,
                    "last_inbound_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            .mappings()
            .one()
        )
        conversation, fresh = self._open_conversation(connection, customer.id, message.channel, now)
        payload: dict[str, Any] = {}
        if message.payload:
            payload["button"] = message.payload
        if message.attachments:
            payload["attachments"] = [_attachment_json(a) for a in message.attachments]
        if message.received_at:
            payload["platform_time"] = message.received_at.isoformat()
        message_id = connection.execute(
            self._insert_inbound,
            {
                "conversation_id": conversation.id,
                "customer_id": customer.id,
                "channel": message.channel.value,
                "direction": "in",
                "author": Author.CUSTOMER.value,
                "kind": MessageKind.TEXT.value,
                "text": message.text,
                "payload": payload or None,
                "platform_message_id": message.message_id,
                "created_at": now,
                "attempts": 0,
            },
        ).scalar_one_or_none()
        if message_id is None:
            raise _Duplicate  # a concurrent delivery of the same message won; roll everything back
        # A conversation opened by this transaction has no older messages to wait for.
        earlier = not fresh and bool(
            connection.scalar(
                self._unprocessed_before,
                {"b_conversation": conversation.id, "b_message": message_id},
            )
        )
        pending = PendingInbound(
            message_id=message_id,
            conversation=conversation,
            customer=customer,
            text=message.text,
            created_at=now,
            payload=payload.get("button"),
            attachments=tuple(Attachment(**a) for a in payload.get("attachments", ())),
        )
        return Accepted(message_id, conversation.id, customer.id, pending, earlier)

    def _open_conversation(
        self, connection: Connection, customer_id: int, channel: Channel, now: datetime
    ) -> tuple[ConversationSnapshot, bool]:
        """The customer's open conversation (touched), and whether this transaction opened it."""
        row = connection.execute(self._open_conversation_of, {"b_customer": customer_id}).first()
        if row is not None:
            idle = (
                row.state == ConversationState.BOT.value
                and now - row.updated_at > self._inactivity_close
                # Messages still waiting for the worker belong to this conversation: a new message
                # must queue behind them, not overtake them in a conversation of its own.
                and not connection.scalar(self._unprocessed_in, {"b_conversation": row.id})
            )
            if not idle:
                # The row as it is once locked, so as it stays until this transaction commits.
                touched = connection.execute(
                    self._touch_conversation, {"b_conversation": row.id, "updated_at": now}
                )
                return _conversation_snapshot(touched.mappings().one()), False
            _close(connection, [row.id], now, "inactive")
        inserted = connection.execute(
            self._insert_conversation,
            {
                "customer_id": customer_id,
                "channel": channel.value,
                "state": ConversationState.BOT.value,
                "fallback_streak": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
        opened = inserted.mappings().one_or_none()
        if opened is not None:
            return _conversation_snapshot(opened), True
        # Opened concurrently by another transaction: touch it, as above.
        touched = connection.execute(
            self._touch_open_conversation, {"b_customer": customer_id, "updated_at": now}
        )
        return _conversation_snapshot(touched.mappings().one()), False

    async def pending_conversation_ids(self, channels: Iterable[Channel]) -> list[int]:
        """Conversations on ``channels`` with inbound messages not yet processed."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Message.conversation_id)
                .where(
                    Message.direction == "in",
                    Message.processed_at.is_(None),
                    Message.channel.in_([c.value for c in channels]),
                )
                .group_by(Message.conversation_id)
                .order_by(func.min(Message.id))
            )
            return list(rows)

    async def next_pending(self, conversation_id: int) -> PendingInbound | None:
        """The oldest unprocessed customer message of a conversation, with its context."""
        async with self._db.read() as session:
            return await session.run_sync(lambda s: _next_pending(s.connection(), conversation_id))

    async def complete(self, pending: PendingInbound, outcome: Outcome) -> Completed:
        """Apply ``outcome`` atomically; returns the queued replies and what comes next.

        Raises:
            StaleConversation: the conversation is no longer as ``pending`` saw it; nothing changed.
        """
        return await self._db.run_write(
            lambda connection: self._complete(connection, pending, outcome)
        )

    def _complete(
        self, connection: Connection, pending: PendingInbound, outcome: Outcome
    ) -> Completed:
        now = utcnow()
        nlu = outcome.nlu
        seen = pending.conversation
        marked = connection.execute(
            self._mark_processed,
            {
                "b_message": pending.message_id,
                "processed_at": now,
                "language": outcome.language,
                "intent": nlu.intent if nlu else None,
                "intent_confidence": nlu.confidence if nlu else None,
                "faq_key": nlu.faq_key if nlu else None,
                "faq_confidence": nlu.faq_confidence if nlu else None,
            },
        )
        if marked.rowcount == 0:
            # Another worker finished it first.
            return Completed(False, next_pending=_next_pending(connection, seen.id))
        # Rows are locked customer first, conversation second, as accept() does; the other
        # order deadlocks on PostgreSQL against a message from the same customer arriving now.
        if pending.customer.language != outcome.language:
            customer = connection.execute(
                self._set_customer_language,
                {
                    "b_customer": pending.customer.id,
                    "language": outcome.language,
                    "updated_at": now,
                },
            )
        else:
            customer = connection.execute(
                self._customer_reachability, {"b_customer": pending.customer.id}
            )
        reachability = customer.one()
        if outcome.asks_helpful and connection.scalar(
            self._unprocessed_after,
            {"b_conversation": seen.id, "b_message": pending.message_id},
        ):
            # The customer is still writing: no "was this helpful?" mid-burst (bot.feedback_rules).
            outcome = without_helpful_request(outcome)
        # Only onto the state the engine decided on: an agent who claimed the conversation
        # meanwhile must not be overwritten by a bot answer decided for a bot conversation.
        changed = connection.execute(
            self._update_conversation_not_awaiting
            if seen.awaiting is None
            else self._update_conversation_awaiting,
            {
                "b_conversation": seen.id,
                "b_state": seen.state.value,
                "b_streak": seen.fallback_streak,
                **({} if seen.awaiting is None else {"b_awaiting": seen.awaiting}),
                "state": outcome.state.value,
                "language": outcome.language,
                "fallback_streak": outcome.fallback_streak,
                "awaiting": outcome.awaiting,
                "updated_at": now,
                **({"helpful_asked_at": now} if outcome.asks_helpful else {}),
            },
        )
        if changed.rowcount == 0:
            raise StaleConversation(f"conversation {seen.id} changed")  # rolls back the marking
        replies = self._queue_replies(
            connection,
            pending,
            outcome,
            now,
            unreachable=reachability.unreachable_at is not None,
            last_inbound_at=reachability.last_inbound_at,
        )
        if outcome.handoff_reason:
            connection.execute(
                self._insert_handoff,
                {
                    "conversation_id": seen.id,
                    "reason": outcome.handoff_reason,
                    "detail": outcome.handoff_detail,
                    "requested_at": now,
                    "language": outcome.language,
                },
            )
        if outcome.feedback is not None or outcome.review_reason is not None:
            record_feedback_and_review(connection, self._insert, pending, outcome, now)
        older = bool(replies) and bool(
            connection.scalar(
                self._queued_before,
                {"b_conversation": seen.id, "b_message": replies[0].message.id},
            )
        )
        following = _next_pending(connection, seen.id)
        return Completed(True, replies, older, following)

    def _queue_replies(
        self,
        connection: Connection,
        pending: PendingInbound,
        outcome: Outcome,
        now: datetime,
        *,
        unreachable: bool,
        last_inbound_at: datetime | None,
    ) -> tuple[QueuedOutbound, ...]:
        queued: list[QueuedOutbound] = []
        conversation = pending.conversation
        for reply in outcome.replies:
            message_id = connection.scalar(
                self._insert_reply,
                {
                    "conversation_id": conversation.id,
                    "customer_id": pending.customer.id,
                    "channel": conversation.channel.value,
                    "direction": "out",
                    "author": Author.BOT.value,
                    "kind": reply.kind.value,
                    "text": reply.text,
                    "payload": _reply_payload(reply),
                    "created_at": now,
                    "language": outcome.language,
                    "reply_to_id": pending.message_id,
                    "status": DeliveryStatus.QUEUED.value,
                    "attempts": 0,
                },
            )
            assert message_id is not None
            stored = Reply(text=reply.text, choices=reply.choices, kind=reply.kind)
            queued.append(
                QueuedOutbound(
                    message=OutboundMessage(
                        id=message_id,
                        conversation_id=conversation.id,
                        channel=conversation.channel,
                        recipient_id=pending.customer.platform_id,
                        reply=stored,
                        language=outcome.language,
                    ),
                    attempts=0,
                    next_attempt_at=None,
                    customer_id=pending.customer.id,
                    customer_unreachable=unreachable,
                    last_inbound_at=last_inbound_at,
                )
            )
        return tuple(queued)

    # ------------------------------------------------------------------------------ outbox

    async def queued_conversation_ids(self, channels: Iterable[Channel]) -> list[int]:
        """Conversations on ``channels`` with replies waiting to be sent."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Message.conversation_id)
                .where(
                    Message.direction == "out",
                    Message.status == DeliveryStatus.QUEUED.value,
                    Message.channel.in_([c.value for c in channels]),
                )
                .group_by(Message.conversation_id)
                .order_by(func.min(Message.id))
            )
            return list(rows)

    async def next_outbound(self, conversation_id: int) -> QueuedOutbound | None:
        """A conversation's oldest queued reply: replies leave in the order they were written."""
        async with self._db.read() as session:
            return await session.run_sync(lambda s: _next_outbound(s.connection(), conversation_id))

    async def mark_sent(self, message_id: int, delivery: Delivery) -> QueuedOutbound | None:
        """Record a reply as sent; returns the conversation's next queued reply, if any."""
        return await self._db.run_write(
            lambda connection: self._mark_sent_in(connection, message_id, delivery)
        )

    def _mark_sent_in(
        self, connection: Connection, message_id: int, delivery: Delivery
    ) -> QueuedOutbound | None:
        now = utcnow()
        platform_id = ",".join(delivery.platform_message_ids)[:128] or None
        channel, conversation_id = connection.execute(
            self._mark_sent,
            {
                "b_message": message_id,
                "status": DeliveryStatus.SENT.value,
                "sent_at": now,
                "next_attempt_at": None,
                "platform_message_id": platform_id,
            },
        ).one()
        receipts = [
            {
                "channel": channel,
                "platform_message_id": part_id,
                "message_id": message_id,
                "status": DeliveryStatus.SENT.value,
                "updated_at": now,
            }
            for part_id in dict.fromkeys(delivery.platform_message_ids)
        ]
        if receipts:
            # Ids a platform reuses (Telegram numbers messages per chat) must not fail the send.
            connection.execute(self._insert_receipts, receipts)
        return _next_outbound(connection, conversation_id)

    async def mark_retry(
        self, message_id: int, *, next_attempt_at: datetime, code: str | None, detail: str
    ) -> QueuedOutbound | None:
        """Put a reply back for a later attempt; returns the conversation's head of the queue."""
        values = {
            "next_attempt_at": next_attempt_at,
            "error_code": code,
            "error_detail": detail[:2000],
        }
        return await self._db.run_write(
            lambda connection: self._mark(connection, self._mark_counted, message_id, values)
        )

    async def mark_held(self, message_id: int, *, code: str, detail: str) -> QueuedOutbound | None:
        """Keep a reply the platform would refuse now (outside its reply window) for a person.

        Returns the conversation's next queued reply, if any.
        """
        values = {
            "status": DeliveryStatus.HELD.value,
            "next_attempt_at": None,
            "error_code": code,
            "error_detail": detail[:2000],
        }
        return await self._db.run_write(
            lambda connection: self._mark(connection, self._mark_uncounted, message_id, values)
        )

    async def mark_failed(
        self,
        message_id: int,
        *,
        code: str | None,
        detail: str,
        customer_unreachable: int | None = None,
    ) -> QueuedOutbound | None:
        """Give up on a message; with ``customer_unreachable``, also mark that customer unreachable.

        Args:
            customer_unreachable: the id of the customer the platform says blocked us, if any.

        Returns:
            The conversation's next queued reply, if any.
        """
        values = {
            "status": DeliveryStatus.FAILED.value,
            "next_attempt_at": None,
            "error_code": code,
            "error_detail": detail[:2000],
        }
        return await self._db.run_write(
            lambda connection: self._mark(
                connection,
                self._mark_counted,
                message_id,
                values,
                customer_unreachable=customer_unreachable,
            )
        )

    def _mark(
        self,
        connection: Connection,
        statement: ReturningUpdate[int],
        message_id: int,
        values: dict[str, Any],
        *,
        customer_unreachable: int | None = None,
    ) -> QueuedOutbound | None:
        """Update an outbound message with ``statement``; returns the conversation's next reply."""
        conversation_id = connection.scalar(statement, {"b_message": message_id, **values})
        if customer_unreachable is not None:
            now = utcnow()
            connection.execute(
                self._mark_unreachable,
                {"b_customer": customer_unreachable, "unreachable_at": now, "updated_at": now},
            )
        return None if conversation_id is None else _next_outbound(connection, conversation_id)

    # ------------------------------------------------------------------------------ housekeeping

    async def close_idle(self) -> int:
        """Close bot-handled conversations idle longer than the inactivity limit."""
        return await self._db.run_write(self._close_idle)

    def _close_idle(self, connection: Connection) -> int:
        now = utcnow()
        ids = list(
            connection.scalars(
                select(Conversation.id).where(
                    Conversation.closed_at.is_(None),
                    Conversation.state == ConversationState.BOT.value,
                    Conversation.updated_at < now - self._inactivity_close,
                    ~_unprocessed(Message.conversation_id == Conversation.id),
                )
            )
        )
        _close(connection, ids, now, "inactive")
        return len(ids)

    async def history(
        self, channel: Channel, platform_id: str, *, after_id: int = 0, limit: int = 200
    ) -> list[TranscriptEntry]:
        """A customer's messages (all conversations, oldest first) after ``after_id``; no notes."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Message)
                .join(Customer, Customer.id == Message.customer_id)
                .where(
                    Customer.channel == channel.value,
                    Customer.platform_id == platform_id,
                    Message.id > after_id,
                    Message.kind != MessageKind.NOTE.value,
                )
                .order_by(Message.id)
                .limit(limit)
            )
            return [
                TranscriptEntry(
                    id=m.id,
                    direction=m.direction,
                    author=m.author,
                    kind=m.kind,
                    text=m.text,
                    choices=_choices_of(m.payload),
                    created_at=m.created_at,
                    status=m.status,
                )
                for m in rows
            ]


def _close(connection: Connection, ids: Sequence[int], now: datetime, reason: str) -> None:
    if ids:
        connection.execute(
            update(Conversation)
            .where(Conversation.id.in_(ids))
            .values(
                state=ConversationState.CLOSED.value,
                closed_at=now,
                close_reason=reason,
                updated_at=now,
            )
        )


def _unprocessed(*where: ColumnElement[bool]) -> Exists:
    """EXISTS an inbound message matching ``where`` that the worker has not processed yet."""
    return exists().where(Message.direction == "in", Message.processed_at.is_(None), *where)


_CUSTOMER_COLUMNS = (
    Customer.id,
    Customer.platform_id,
    Customer.display_name,
    Customer.language,
    Customer.language_hint,
)
_CONVERSATION_COLUMNS = (
    Conversation.id,
    Conversation.channel,
    Conversation.state,
    Conversation.language,
    Conversation.fallback_streak,
    Conversation.awaiting,
    Conversation.helpful_asked_at,
)


def _queued_exists(*where: ColumnElement[bool]) -> Exists:
    """EXISTS a queued outbound message matching ``where`` (on the outbox's partial index)."""
    return exists().where(
        Message.direction == "out", Message.status == DeliveryStatus.QUEUED.value, *where
    )


def _customer_snapshot(row: Mapping[Any, Any]) -> CustomerSnapshot:
    return CustomerSnapshot(
        id=row["id"],
        platform_id=row["platform_id"],
        display_name=row["display_name"],
        language=row["language"],
        language_hint=row["language_hint"],
    )


def _conversation_snapshot(row: Mapping[Any, Any]) -> ConversationSnapshot:
    return ConversationSnapshot(
        id=row["id"],
        channel=Channel(row["channel"]),
        state=ConversationState(row["state"]),
        language=row["language"],
        fallback_streak=row["fallback_streak"],
        awaiting=row["awaiting"],
        helpful_asked=row["helpful_asked_at"] is not None,
    )


_NEXT_PENDING = (
    select(
        Message.id.label("message_id"),
        Message.text,
        Message.created_at,
        Message.payload,
        Conversation.channel.label("conversation_channel"),
        Conversation.state,
        Conversation.language.label("conversation_language"),
        Conversation.fallback_streak,
        Conversation.awaiting,
        Conversation.helpful_asked_at,
        Customer.id.label("customer_id"),
        Customer.platform_id,
        Customer.display_name,
        Customer.language.label("customer_language"),
        Customer.language_hint,
    )
    .join(Conversation, Conversation.id == Message.conversation_id)
    .join(Customer, Customer.id == Message.customer_id)
    .where(
        Message.conversation_id == bindparam("b_conversation"),
        Message.direction == "in",
        Message.processed_at.is_(None),
    )
    .order_by(Message.id)
    .limit(1)
)


def _next_pending(connection: Connection, conversation_id: int) -> PendingInbound | None:
    """The oldest unprocessed inbound message of a conversation, in ``connection``'s transaction."""
    row = connection.execute(_NEXT_PENDING, {"b_conversation": conversation_id}).mappings().first()
    if row is None:
        return None
    payload = row["payload"] or {}
    return PendingInbound(
        message_id=row["message_id"],
        conversation=ConversationSnapshot(
            id=conversation_id,
            channel=Channel(row["conversation_channel"]),
            state=ConversationState(row["state"]),
            language=row["conversation_language"],
            fallback_streak=row["fallback_streak"],
            awaiting=row["awaiting"],
            helpful_asked=row["helpful_asked_at"] is not None,
        ),
        customer=CustomerSnapshot(
            id=row["customer_id"],
            platform_id=row["platform_id"],
            display_name=row["display_name"],
            language=row["customer_language"],
            language_hint=row["language_hint"],
        ),
        text=row["text"],
        created_at=row["created_at"],
        payload=payload.get("button"),
        attachments=tuple(Attachment(**a) for a in payload.get("attachments", ())),
    )


_NEXT_OUTBOUND = (
    select(
        Message.id,
        Message.channel,
        Message.kind,
        Message.text,
        Message.payload,
        Message.language,
        Message.attempts,
        Message.next_attempt_at,
        Message.customer_id,
        Customer.platform_id,
        Customer.unreachable_at,
        Customer.last_inbound_at,
    )
    .join(Customer, Customer.id == Message.customer_id)
    .where(
        Message.conversation_id == bindparam("b_conversation"),
        Message.direction == "out",
        Message.status == DeliveryStatus.QUEUED.value,
    )
    .order_by(Message.id)
    .limit(1)
)


def _next_outbound(connection: Connection, conversation_id: int) -> QueuedOutbound | None:
    """A conversation's oldest queued reply, in ``connection``'s transaction."""
    row = connection.execute(_NEXT_OUTBOUND, {"b_conversation": conversation_id}).mappings().first()
    if row is None:
        return None
    reply = Reply(
        text=row["text"], choices=_choices_of(row["payload"]), kind=MessageKind(row["kind"])
    )
    return QueuedOutbound(
        message=OutboundMessage(
            id=row["id"],
            conversation_id=conversation_id,
            channel=Channel(row["channel"]),
            recipient_id=row["platform_id"],
            reply=reply,
            language=row["language"] or "",
        ),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        customer_id=row["customer_id"],
        customer_unreachable=row["unreachable_at"] is not None,
        last_inbound_at=row["last_inbound_at"],
    )


def _reply_payload(reply: Reply) -> dict[str, Any] | None:
    if not reply.choices:
        return None
    return {"choices": [{"title": c.title, "payload": c.payload} for c in reply.choices]}


def _choices_of(payload: dict[str, Any] | None) -> tuple[Choice, ...]:
    if not payload:
        return ()
    return tuple(Choice(c["title"], c["payload"]) for c in payload.get("choices", ()))


def _attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        k: v
        for k, v in {
            "kind": attachment.kind,
            "url": attachment.url,
            "content_type": attachment.content_type,
            "latitude": attachment.latitude,
            "longitude": attachment.longitude,
        }.items()
        if v is not None
    }


__all__ = [
    "Accepted",
    "Completed",
    "QueuedOutbound",
    "SqlConversationStore",
    "StaleConversation",
    "utcnow",
]
