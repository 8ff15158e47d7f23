"""Keeping ``report_turns`` up to date: new messages folded into customer turns, a batch at a time.

Deriving turns from every message with window functions costs seconds per million messages on
each report; folding each message in once, when it is new, makes a report an aggregate over turns.
The rules are those of CONTRACT.md section 6 (and of :mod:`bot.reports.turns`): only customer
messages and replies by the bot or an agent matter, taken in each conversation's storage order
(``id``). A customer message opens a turn unless the conversation's last turn is still open, in
which case it extends it; a reply closes the open turn, if there is one, as its answer; anything
else (notices, notes, broadcasts) neither answers nor splits a turn.

``report_turns_watermark`` holds the highest message id folded in. A batch reads the messages
after it (at most ``batch_size``) plus the open turns of their conversations and writes the
turns and the new watermark in one write transaction, so a crash between batches loses nothing
and folds nothing twice, and the writer is never held for long (on SQLite it is the one writer
thread every request waits for).

Ids must be folded in commit order: on PostgreSQL, a transaction can commit message 11 while
message 10's is still open. So each refresh first takes its horizon, the highest id no open
transaction can go below, by waiting for the writers of ``messages`` in flight
(``LOCK TABLE ... IN SHARE MODE`` for an instant); SQLite has one writer, so its ids are
committed in order anyway.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, text, update

from bot import telemetry
from bot.messages import Author, MessageKind
from bot.reports.sql_functions import seconds_between
from bot.storage.database import Database, is_sqlite
from bot.storage.models import Message, ReportTurn, ReportTurnsWatermark

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
# The gateway's own refreshes: a batch of 500 holds the SQLite writer for a few milliseconds.
BACKGROUND_BATCH_SIZE = 500
REFRESH_INTERVAL = timedelta(seconds=60)
_WATERMARK_ROW = 1
_REPLY_AUTHORS = (Author.BOT.value, Author.AGENT.value)


@dataclass(frozen=True, slots=True)
class AnsweredTurn:
    """A turn a batch found answered: for the response-time histogram."""

    channel: str
    responder: str  # "bot" | "agent"
    response_time: timedelta


def _observe(turns: Sequence[AnsweredTurn]) -> None:
    for turn in turns:
        telemetry.RESPONSE_SECONDS.labels(turn.channel, turn.responder).observe(
            max(0.0, turn.response_time.total_seconds())
        )


@dataclass
class _Turn:
    """A turn being folded: a row of ``report_turns`` held while its batch runs."""

    first_message_id: int
    conversation_id: int
    channel: str
    started_at: Any
    last_message_id: int
    is_first: bool
    reply_message_id: int | None = None
    answered_at: Any = None
    answered_by: str | None = None
    agent_id: int | None = None
    response_seconds: float | None = None  # set by SQL once answered (see fold_batch)
    stored: bool = field(default=False, compare=False)

    def row(self) -> dict[str, Any]:
        values = dict(self.__dict__)
        del values["stored"]
        return values


def watermark(connection: Connection, *, for_update: bool = False) -> int | None:
    """The highest message id folded in, or None before the first batch."""
    w = ReportTurnsWatermark.__table__.c
    query = select(w.message_id).where(w.id == _WATERMARK_ROW)
    if for_update:
        query = query.with_for_update()
    return connection.execute(query).scalar_one_or_none()


def horizon(connection: Connection) -> int:
    """The highest message id below which no message can still appear (0 if none)."""
    if connection.dialect.name == "postgresql":
        # Waits for transactions that inserted or updated messages to end (and holds new ones
        # back meanwhile): afterwards no lower id can be committed. Released at commit.
        connection.execute(text("LOCK TABLE messages IN SHARE MODE"))
    return int(connection.execute(select(func.coalesce(func.max(Message.id), 0))).scalar_one())


def fold_batch(
    connection: Connection,
    upto: int,
    batch_size: int = BATCH_SIZE,
    answered: list[AnsweredTurn] | None = None,
) -> bool:
    """Fold in the next messages after the watermark, up to id ``upto``; False when none were left.

    Runs inside the caller's write transaction: the turns and the watermark change together. The
    turns this batch found answered are appended to ``answered``, if given.
    """
    previous = watermark(connection, for_update=True)
    done = previous or 0
    if done >= upto:
        return False
    m = Message.__table__.c
    rows = connection.execute(
        select(m.id, m.conversation_id, m.channel, m.direction, m.author, m.agent_id, m.created_at)
        .where(
            m.id > done,
            m.id <= upto,
            or_(
                m.direction == "in",
                and_(m.kind == MessageKind.REPLY.value, m.author.in_(_REPLY_AUTHORS)),
            ),
        )
        .order_by(m.id)
        .limit(batch_size)
    ).all()
    reached = rows[-1].id if len(rows) == batch_size else upto
    open_turns, with_turns = _conversation_state(connection, {row.conversation_id for row in rows})
    touched: dict[int, _Turn] = {}
    answered_ids: list[int] = []
    for row in rows:
        turn = open_turns.get(row.conversation_id)
        if row.direction == "in":
            if turn is None:
                turn = _Turn(
                    first_message_id=row.id,
                    conversation_id=row.conversation_id,
                    channel=row.channel,
                    started_at=row.created_at,
                    last_message_id=row.id,
                    is_first=row.conversation_id not in with_turns,
                )
                open_turns[row.conversation_id] = turn
                with_turns.add(row.conversation_id)
            turn.last_message_id = row.id
            touched[turn.first_message_id] = turn
        elif turn is not None:
            turn.reply_message_id = row.id
            turn.answered_at = row.created_at
            turn.answered_by = row.author
            turn.agent_id = row.agent_id
            answered_ids.append(turn.first_message_id)
            del open_turns[row.conversation_id]
            touched[turn.first_message_id] = turn
            if answered is not None:
                answered.append(
                    AnsweredTurn(turn.channel, row.author, row.created_at - turn.started_at)
                )
    _write(connection, touched.values())
    if answered_ids:
        # Computed by the database with the very expression the reports used per turn (and
        # migration 0005's backfill), so the figures do not move by a last bit or millisecond.
        t = ReportTurn.__table__.c
        connection.execute(
            update(ReportTurn)
            .where(t.first_message_id.in_(answered_ids))
            .values(response_seconds=seconds_between(t.answered_at, t.started_at))
        )
    w = ReportTurnsWatermark
    if previous is None:
        connection.execute(insert(w).values(id=_WATERMARK_ROW, message_id=reached))
    else:
        connection.execute(update(w).where(w.id == _WATERMARK_ROW).values(message_id=reached))
    return True


def _conversation_state(
    connection: Connection, conversation_ids: set[int]
) -> tuple[dict[int, _Turn], set[int]]:
    """The open turn of each conversation (at most one: its last) and those with any turn."""
    if not conversation_ids:
        return {}, set()
    t = ReportTurn.__table__.c
    ids = sorted(conversation_ids)
    with_turns = set(
        connection.execute(select(t.conversation_id).distinct().where(t.conversation_id.in_(ids)))
        .scalars()
        .all()
    )
    open_turns: dict[int, _Turn] = {}
    if with_turns:
        rows = connection.execute(
            select(ReportTurn.__table__).where(
                t.conversation_id.in_(sorted(with_turns)), t.reply_message_id.is_(None)
            )
        ).mappings()
        for row in rows:
            open_turns[row["conversation_id"]] = _Turn(**row, stored=True)
    return open_turns, with_turns


def _write(connection: Connection, turns: Any) -> None:
    new = [turn.row() for turn in turns if not turn.stored]
    changed = [turn.row() for turn in turns if turn.stored]
    if new:
        connection.execute(insert(ReportTurn), new)
    if changed:
        columns = ("last_message_id", "reply_message_id", "answered_at", "answered_by", "agent_id")
        statement = (
            update(ReportTurn)
            .where(ReportTurn.first_message_id == bindparam("b_first_message_id"))
            .values({column: bindparam(f"b_{column}") for column in columns})
        )
        connection.execute(
            statement,
            [
                {f"b_{key}": value for key, value in row.items() if key in columns}
                | {"b_first_message_id": row["first_message_id"]}
                for row in changed
            ],
        )


async def refresh_turns(
    database: Database,
    batch_size: int = BATCH_SIZE,
    *,
    on_answered: Callable[[Sequence[AnsweredTurn]], None] | None = None,
) -> int:
    """Fold every message stored so far into ``report_turns``; returns the batches written.

    One write transaction per batch, so other writers get their turn in between.
    ``on_answered`` hears of the turns each batch found answered, once that batch is committed.
    """
    if is_sqlite(database.url):
        upto = await database.run_write(horizon)
    else:
        # Its own short transaction: the SHARE lock is released before any folding starts.
        async with database.writer.begin() as connection:
            upto = await connection.run_sync(horizon)
    batches = 0
    while True:
        answered: list[AnsweredTurn] = []
        batch = functools.partial(fold_batch, upto=upto, batch_size=batch_size, answered=answered)
        if not await database.run_write(batch):
            return batches
        batches += 1
        if on_answered is not None and answered:
            on_answered(answered)


class ReportTurnsRefresher:
    """The gateway's background task: folds new messages in every ``interval``, so a report
    only has the last minute's messages left to fold.

    It also feeds the ``carebot_response_seconds`` histogram: folding is where a turn's answer is
    recognised exactly as CONTRACT section 6 defines it (from the turn's first message to the
    first bot or agent reply), so the series agrees with the reports, at the cost of lagging by
    up to one interval. Its batches are small: each holds the SQLite writer, which acks wait for.
    """

    def __init__(
        self,
        database: Database,
        interval: timedelta = REFRESH_INTERVAL,
        batch_size: int = BACKGROUND_BATCH_SIZE,
    ) -> None:
        self._db = database
        self._interval = interval.total_seconds()
        self._batch_size = batch_size

    async def run(self) -> None:
        while True:
            try:
                await refresh_turns(self._db, self._batch_size, on_answered=_observe)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("report turns refresh failed; retrying in %.0f s", self._interval)
            await asyncio.sleep(self._interval)
