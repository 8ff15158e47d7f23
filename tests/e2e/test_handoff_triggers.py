"""Handoff triggers and what the customer is told, end to end with the real Rasa and the web chat.

web chat → stored message → engine (angry keywords, rule list on Rasa's FAQ) → handoff stored with
its reason → the notice, with business hours and the queue read from the database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.handoff_notice import describe_return
from bot.settings import Behaviour, BusinessHoursBehaviour
from bot.storage.database import Database
from bot.storage.models import Conversation, Handoff
from handoff.business_hours import WEEKDAYS
from tests.fixtures.gateway import (
    SHIPPED_BEHAVIOUR,
    ChatCustomer,
    fast_behaviour,
    gateway_client,
    settings_for,
)

pytestmark = [pytest.mark.rasa, pytest.mark.timeout(300)]


def closed_now() -> tuple[Behaviour, BusinessHoursBehaviour]:
    """The shipped behaviour with business hours that are closed for the next three days: open
    only 09:00-10:00 UTC three days from now."""
    day = WEEKDAYS[(datetime.now(UTC) + timedelta(days=3)).weekday()]
    hours = BusinessHoursBehaviour.model_validate({"timezone": "UTC", day: "09:00-10:00"})
    return fast_behaviour().model_copy(update={"business_hours": hours}), hours


async def stored(url: str) -> tuple[list[Any], list[str]]:
    database = Database.connect(url)
    try:
        async with database.read() as session:
            handoffs = (await session.execute(select(Handoff.reason, Handoff.detail))).all()
            states = list((await session.scalars(select(Conversation.state))).all())
            return list(handoffs), states
    finally:
        await database.dispose()


async def test_angry_italian_customer_goes_straight_to_a_person(
    rasa_url: str, sqlite_url: str
) -> None:
    async with gateway_client(settings_for(sqlite_url, rasa_url=rasa_url)) as client:
        customer = await ChatCustomer(client).start()
        await customer.say("Che vergogna! Il mio ordine è fermo da due settimane")
        notice = await asyncio.wait_for(customer.next_reply(), 30)
        assert notice["kind"] == "notice"
        assert notice["text"] == SHIPPED_BEHAVIOUR.text("handoff_sentiment", "it")
        # Waiting for a person: asking again, or more anger, makes no second handoff.
        await customer.say("voglio parlare con un operatore, è ridicolo")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(customer.next_reply(), 2)
        await customer.close()
    handoffs, states = await stored(sqlite_url)
    assert [tuple(h) for h in handoffs] == [("sentiment", "keyword: vergogna")]
    assert states == ["waiting"]


async def test_complaint_goes_to_a_person_outside_hours_with_when_they_are_back(
    rasa_url: str, sqlite_url: str
) -> None:
    behaviour, hours = closed_now()
    async with gateway_client(settings_for(sqlite_url, rasa_url=rasa_url), behaviour) as client:
        customer = await ChatCustomer(client).start()
        await customer.say("Vorrei fare un reclamo per il mio ordine")
        notice = await asyncio.wait_for(customer.next_reply(), 30)
    now = datetime.now(UTC)
    back = hours.schedule().next_opening(now)
    assert back is not None and back.hour == 9
    when = describe_return(SHIPPED_BEHAVIOUR, "it", back, now)
    assert notice["kind"] == "notice"
    assert notice["text"] == (
        SHIPPED_BEHAVIOUR.text("handoff_requested", "it")
        + " "
        + SHIPPED_BEHAVIOUR.text("handoff_closed", "it", when=when)
    )
    assert when.endswith("alle 09:00")
    handoffs, _ = await stored(sqlite_url)
    assert [tuple(h) for h in handoffs] == [("rule", "rule: faq/complaint")]


async def test_english_customer_is_told_the_wait_when_the_queue_is_long(
    rasa_url: str, sqlite_url: str
) -> None:
    async with gateway_client(settings_for(sqlite_url, rasa_url=rasa_url)) as client:
        waiting = [await ChatCustomer(client).start() for _ in range(3)]
        for customer in waiting:
            await customer.say("/human")
            await asyncio.wait_for(customer.next_reply(), 30)
        await seed_claimed_handoffs(sqlite_url, [timedelta(minutes=m) for m in (4, 5, 6)])
        late = await ChatCustomer(client).start()
        await late.say("This is ridiculous, I want my money back")
        notice = await asyncio.wait_for(late.next_reply(), 30)
        for customer in (*waiting, late):
            await customer.close()
    assert notice["text"] == " ".join(
        (
            SHIPPED_BEHAVIOUR.text("handoff_sentiment", "en"),
            SHIPPED_BEHAVIOUR.text("handoff_queue", "en", waiting=3),
            SHIPPED_BEHAVIOUR.text("handoff_expected_wait", "en", wait="about 5 minutes"),
        )
    )


async def seed_claimed_handoffs(url: str, waits: list[timedelta]) -> None:
    """Mark the earliest handoffs of the database as claimed after ``waits`` (as an agent would)."""
    database = Database.connect(url)
    try:
        async with database.write() as session:
            rows = (await session.scalars(select(Handoff).order_by(Handoff.id))).all()
            assert len(rows) >= len(waits)
            for handoff, wait in zip(rows, waits, strict=False):
                handoff.claimed_at = handoff.requested_at + wait
            # Claimed handoffs stay waiting conversations here: the queue is still 3 long.
            count = await session.scalar(select(func.count()).select_from(Handoff))
            assert count == len(rows)
    finally:
        await database.dispose()
