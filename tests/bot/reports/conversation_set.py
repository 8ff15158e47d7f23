"""A small set of conversations whose figures are computed by hand in test_report_figures.py.

Times are relative to ``now`` (the test's start, whole seconds) because ``carebot report`` measures
the response window against the real clock: ``B = now - 48 h``.

=====  ========  ====================================================================
conv   channel   what happens
=====  ========  ====================================================================
c0     web       a turn 5 days ago, answered by the bot after 7 s: outside ``--since 3d``
c1     web/en    burst "hi" B, "shipping?" B+10s; bot reply B+12s (12 s); "thanks" B+60s,
                 bot reply B+63s (3 s); thumbs up for the FAQ; closed B+3h, no handoff
c2     telegram  "/human" B+1h, handoff notice B+1h+1s (not a reply), "hello?" B+1h+30s
                 (same turn), note B+1h+2m; agent reply B+1h+3m (180 s, handoff wait 3 min);
                 "thanks" B+1h+5m, agent reply B+1h+6m (60 s); feedback request (notice)
                 B+1h+7m; "4" B+1h+8m, bot reply B+1h+8m+1s (1 s); rating 4; closed B+4h
                 after the handoff
c3     telegram  "anyone?" B+2h, "hello" B+2h+5s: never answered (older than 24 h);
                 a broadcast B+3h (not a reply); rating 3 and a comment
c4     web/en    "opening hours?" now-3h, bot reply now-3h+4s (4 s); "hello?" now-2h, no reply
                 yet and younger than 24 h: left out; rating 2
c5     web/it    a question B+5h, bot reply B+5h+20s (20 s); rating 1, thumbs down;
                 closed B+6h, no handoff
c6     telegram  "operator" B+10h, notice, agent reply B+10h+10m (600 s, handoff wait 10 min);
                 rating 5
=====  ========  ====================================================================
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bot.storage.database import Database
from bot.storage.models import Agent, Conversation, Customer, Feedback, Handoff, Message

S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)


def whole_seconds_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def load_conversation_set(database: Database, now: datetime) -> dict[str, int]:
    """Insert the set; returns the agent's id as ``{"agent": id}``."""
    b = now - 48 * H
    async with database.write() as session:
        connection = await session.connection()

        async def add(table: Any, **values: Any) -> int:
            result = await connection.execute(insert(table).values(**values))
            key = result.inserted_primary_key
            return int(key[0]) if key else 0

        agent = await add(
            Agent.__table__,
            username="giulia",
            display_name="Giulia",
            password_hash="x",
            languages=["it", "en"],
            is_admin=False,
            status="available",
            created_at=b - 10 * 24 * H,
            updated_at=b - 10 * 24 * H,
        )

        async def conversation(
            name: str, channel: str, language: str, opened: datetime, closed: datetime | None
        ) -> tuple[int, int]:
            customer = await add(
                Customer.__table__,
                channel=channel,
                platform_id=name,
                language=language,
                created_at=opened,
                updated_at=opened,
            )
            conv = await add(
                Conversation.__table__,
                customer_id=customer,
                channel=channel,
                state="closed" if closed else "bot",
                language=language,
                fallback_streak=0,
                created_at=opened,
                updated_at=closed or opened,
                closed_at=closed,
                close_reason="inactivity" if closed else None,
            )
            return conv, customer

        async def say(conv: tuple[int, int], channel: str, at: datetime, text: str) -> None:
            await add(
                Message.__table__,
                conversation_id=conv[0],
                customer_id=conv[1],
                channel=channel,
                direction="in",
                author="customer",
                kind="text",
                text=text,
                created_at=at,
                attempts=0,
                faq_key="faq/shipping_cost" if "shipping" in text else None,
            )

        async def out(
            conv: tuple[int, int],
            channel: str,
            at: datetime,
            kind: str = "reply",
            author: str = "bot",
            agent_id: int | None = None,
        ) -> None:
            await add(
                Message.__table__,
                conversation_id=conv[0],
                customer_id=conv[1],
                channel=channel,
                direction="out",
                author=author,
                kind=kind,
                text=f"{author} {kind}",
                created_at=at,
                attempts=0,
                status="sent",
                agent_id=agent_id,
            )

        async def rate(
            conv: tuple[int, int],
            channel: str,
            at: datetime,
            rating: int | None,
            kind: str = "rating",
            agent_id: int | None = None,
            faq_key: str | None = None,
            comment: str | None = None,
        ) -> None:
            await add(
                Feedback.__table__,
                conversation_id=conv[0],
                channel=channel,
                rating=rating,
                kind=kind,
                target=f"{kind}:{at.isoformat()}",
                agent_id=agent_id,
                faq_key=faq_key,
                comment=comment,
                created_at=at,
                updated_at=at,
            )

        # c0: before the period
        c0 = await conversation("c0", "web", "en", now - 5 * 24 * H, now - 5 * 24 * H + H)
        await say(c0, "web", now - 5 * 24 * H, "old question")
        await out(c0, "web", now - 5 * 24 * H + 7 * S)

        c1 = await conversation("c1", "web", "en", b, b + 3 * H)
        await out(c1, "web", b - S, kind="notice")  # a greeting notice before anything
        await say(c1, "web", b, "hi")
        await say(c1, "web", b + 10 * S, "how much is shipping?")
        await out(c1, "web", b + 12 * S)
        await say(c1, "web", b + 60 * S, "thanks")
        await out(c1, "web", b + 63 * S)
        await rate(c1, "web", b + 2 * M, 5, kind="helpful", faq_key="faq/shipping_cost")

        c2 = await conversation("c2", "telegram", "it", b + H, b + 4 * H)
        await say(c2, "telegram", b + H, "/human")
        await out(c2, "telegram", b + H + S, kind="notice")
        await say(c2, "telegram", b + H + 30 * S, "hello?")
        await out(c2, "telegram", b + H + 2 * M, kind="note", author="agent", agent_id=agent)
        await out(c2, "telegram", b + H + 3 * M, author="agent", agent_id=agent)
        await say(c2, "telegram", b + H + 5 * M, "thanks")
        await out(c2, "telegram", b + H + 6 * M, author="agent", agent_id=agent)
        await out(c2, "telegram", b + H + 7 * M, kind="notice")
        await say(c2, "telegram", b + H + 8 * M, "4")
        await out(c2, "telegram", b + H + 8 * M + S)
        await add(
            Handoff.__table__,
            conversation_id=c2[0],
            reason="customer_request",
            requested_at=b + H,
            agent_id=agent,
            claimed_at=b + H + M,
            first_agent_message_at=b + H + 3 * M,
            resolved_at=b + H + 7 * M,
            ended_reason="resolved",
            language="it",
        )
        await rate(c2, "telegram", b + H + 8 * M, 4, agent_id=agent)

        c3 = await conversation("c3", "telegram", "en", b + 2 * H, None)
        await say(c3, "telegram", b + 2 * H, "anyone?")
        await say(c3, "telegram", b + 2 * H + 5 * S, "hello")
        await out(c3, "telegram", b + 3 * H, kind="broadcast")
        await rate(c3, "telegram", b + 3 * H, 3)
        await rate(c3, "telegram", b + 3 * H + S, None, kind="comment", comment="slow")

        c4 = await conversation("c4", "web", "en", now - 3 * H, None)
        await say(c4, "web", now - 3 * H, "opening hours?")
        await out(c4, "web", now - 3 * H + 4 * S)
        await say(c4, "web", now - 2 * H, "hello?")
        await rate(c4, "web", now - 3 * H + M, 2)

        c5 = await conversation("c5", "web", "it", b + 5 * H, b + 6 * H)
        await say(c5, "web", b + 5 * H, "dove siete?")
        await out(c5, "web", b + 5 * H + 20 * S)
        await rate(c5, "web", b + 5 * H + M, 1)
        await rate(c5, "web", b + 5 * H + 2 * M, 1, kind="helpful", faq_key="faq/stores")

        c6 = await conversation("c6", "telegram", "en", b + 10 * H, None)
        await say(c6, "telegram", b + 10 * H, "operator")
        await out(c6, "telegram", b + 10 * H + S, kind="notice")
        await out(c6, "telegram", b + 10 * H + 10 * M, author="agent", agent_id=agent)
        await add(
            Handoff.__table__,
            conversation_id=c6[0],
            reason="customer_request",
            requested_at=b + 10 * H,
            agent_id=agent,
            claimed_at=b + 10 * H + 5 * M,
            first_agent_message_at=b + 10 * H + 10 * M,
            language="en",
        )
        await rate(c6, "telegram", b + 10 * H + 20 * M, 5, agent_id=agent)
        await session.commit()
    return {"agent": agent}
