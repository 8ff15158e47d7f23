"""``report_turns`` folded in incrementally: each refresh reads only new messages, a turn left open
is extended or answered by later ones, and whatever the batches, the rows (and so the report) are
those of one fold from scratch. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from bot.reports.periods import Period
from bot.reports.report_reader import ReportReader
from bot.reports.turn_folding import refresh_turns
from bot.reports.turns import ReportScope
from bot.storage.database import Database
from bot.storage.models import (
    Conversation,
    Customer,
    Message,
    ReportTurn,
    ReportTurnsWatermark,
)
from tests.bot.reports.conversation_set import load_conversation_set, whole_seconds_now

pytestmark = pytest.mark.timeout(120)
S = timedelta(seconds=1)


class Chat:
    """One conversation whose messages a test adds one by one."""

    def __init__(self, database: Database, conversation_id: int, customer_id: int) -> None:
        self.database, self.id, self.customer_id = database, conversation_id, customer_id

    @classmethod
    async def open(cls, database: Database, name: str, at: datetime) -> Chat:
        async with database.write() as session:
            connection = await session.connection()
            customer = await connection.execute(
                insert(Customer.__table__).values(
                    channel="web", platform_id=name, language="en", created_at=at, updated_at=at
                )
            )
            customer_id = int(customer.inserted_primary_key[0])
            conversation = await connection.execute(
                insert(Conversation.__table__).values(
                    customer_id=customer_id,
                    channel="web",
                    state="bot",
                    language="en",
                    fallback_streak=0,
                    created_at=at,
                    updated_at=at,
                )
            )
            return cls(database, int(conversation.inserted_primary_key[0]), customer_id)

    async def add(
        self, at: datetime, direction: str, author: str, kind: str, agent_id: int | None = None
    ) -> int:
        async with self.database.write() as session:
            connection = await session.connection()
            result = await connection.execute(
                insert(Message.__table__).values(
                    conversation_id=self.id,
                    customer_id=self.customer_id,
                    channel="web",
                    direction=direction,
                    author=author,
                    kind=kind,
                    text=kind,
                    created_at=at,
                    attempts=0,
                    agent_id=agent_id,
                )
            )
            return int(result.inserted_primary_key[0])

    async def say(self, at: datetime) -> int:
        return await self.add(at, "in", "customer", "text")

    async def reply(self, at: datetime, author: str = "bot", agent_id: int | None = None) -> int:
        return await self.add(at, "out", author, "reply", agent_id)

    async def notice(self, at: datetime, kind: str = "notice", author: str = "bot") -> int:
        return await self.add(at, "out", author, kind)


async def turns(database: Database) -> list[dict[str, Any]]:
    async with database.read() as session:
        result = await session.execute(
            select(ReportTurn.__table__).order_by(ReportTurn.first_message_id)
        )
        return [dict(row) for row in result.mappings()]


async def folded_upto(database: Database) -> int | None:
    async with database.read() as session:
        return (await session.execute(select(ReportTurnsWatermark.message_id))).scalar()


async def forget_turns(database: Database) -> None:
    async with database.write() as session:
        await session.execute(delete(ReportTurn))
        await session.execute(delete(ReportTurnsWatermark))


def brief(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            r["first_message_id"],
            r["last_message_id"],
            r["is_first"],
            r["reply_message_id"],
            r["answered_by"],
            r["agent_id"],
        )
        for r in rows
    ]


async def test_turns_are_opened_extended_and_answered_by_later_refreshes(
    database: Database,
) -> None:
    t0 = whole_seconds_now() - timedelta(hours=1)
    chat = await Chat.open(database, "a", t0)
    assert await refresh_turns(database) == 0  # nothing stored yet: nothing written
    assert await folded_upto(database) is None

    hi = await chat.say(t0)
    await refresh_turns(database)
    assert brief(await turns(database)) == [(hi, hi, True, None, None, None)]

    again = await chat.say(t0 + 5 * S)  # the same turn, after a refresh
    notice = await chat.notice(t0 + 6 * S)  # "an agent will answer soon": not an answer
    await chat.notice(t0 + 7 * S, kind="note", author="agent")  # private: not an answer
    await refresh_turns(database)
    assert brief(await turns(database)) == [(hi, again, True, None, None, None)]
    assert await folded_upto(database) == notice + 1

    still = await chat.say(t0 + 8 * S)  # notices did not split the turn
    await refresh_turns(database)
    assert brief(await turns(database)) == [(hi, still, True, None, None, None)]

    answer = await chat.reply(t0 + 60 * S, author="agent", agent_id=7)  # answered later
    await chat.reply(t0 + 61 * S)  # a second reply answers nothing
    await refresh_turns(database)
    rows = await turns(database)
    assert brief(rows) == [(hi, still, True, answer, "agent", 7)]
    assert rows[0]["started_at"] == t0
    assert rows[0]["answered_at"] == t0 + 60 * S

    next_turn = await chat.say(t0 + 120 * S)
    bot_answer = await chat.reply(t0 + 121 * S)
    await refresh_turns(database)
    assert brief(await turns(database))[1:] == [
        (next_turn, next_turn, False, bot_answer, "bot", None)
    ]

    before = await turns(database)
    assert await refresh_turns(database) == 0  # idempotent: a second refresh changes nothing
    assert await turns(database) == before


async def test_a_fold_in_small_batches_equals_one_from_scratch(database: Database) -> None:
    now = whole_seconds_now()
    await load_conversation_set(database, now)
    batches = await refresh_turns(database, batch_size=2)
    assert batches > 5
    in_batches = await turns(database)

    await forget_turns(database)
    assert await refresh_turns(database) == 1
    assert await turns(database) == in_batches
    # c0 1, c1 2, c2 3, c3 1, c4 2, c5 1, c6 1
    assert len(in_batches) == 11
    assert sum(r["is_first"] for r in in_batches) == 7


async def test_a_report_after_refreshes_equals_a_report_from_scratch(database: Database) -> None:
    now = whole_seconds_now()
    chat = await Chat.open(database, "early", now - timedelta(hours=50))
    await chat.say(now - timedelta(hours=50))
    reader = ReportReader(database)
    scope = ReportScope(period=Period(now - timedelta(days=3), now + S), as_of=now)
    await reader.summary(scope)  # folds the first conversation in
    await chat.say(now - timedelta(hours=49))  # extends the turn folded by the report before
    await load_conversation_set(database, now)  # then a whole day of conversations arrives
    await chat.reply(now - timedelta(hours=48), author="agent", agent_id=3)
    incremental = await reader.summary(scope)

    await forget_turns(database)
    from_scratch = await reader.summary(scope)
    assert incremental == from_scratch
    # the hand-computed 9 turns of the set plus the early chat's, answered by an agent in 2 h
    assert incremental["turns"] == 10
    assert incremental["answered_turns"] == 9
    assert incremental["response_time_s"]["agent"]["mean"] == pytest.approx(
        (180 + 60 + 600 + 7200) / 4
    )


async def test_each_committed_batch_reports_the_turns_it_found_answered(
    database: Database,
) -> None:
    start = whole_seconds_now() - timedelta(hours=1)
    chat = await Chat.open(database, "histogram", start)
    await chat.add(start, "in", "customer", "text")
    await chat.add(start + 2 * S, "in", "customer", "text")  # same turn
    await chat.add(start + 3 * S, "out", "bot", "notice")  # a notice answers nothing
    await chat.add(start + 5 * S, "out", "bot", "reply")
    await chat.add(start + 9 * S, "in", "customer", "text")
    await chat.add(start + 70 * S, "out", "agent", "reply", agent_id=7)
    await chat.add(start + 80 * S, "in", "customer", "text")  # still unanswered
    heard: list[tuple[str, str, float]] = []

    def hear(turns: Any) -> None:
        heard.extend((t.channel, t.responder, t.response_time.total_seconds()) for t in turns)

    await refresh_turns(database, batch_size=2, on_answered=hear)
    assert heard == [("web", "bot", 5.0), ("web", "agent", 61.0)]
    await refresh_turns(database, on_answered=hear)
    assert len(heard) == 2  # nothing folded twice
