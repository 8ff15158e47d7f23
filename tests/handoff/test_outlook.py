"""The SQL handoff outlook on SQLite and PostgreSQL: queue length, expected wait, business hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.interfaces import HandoffForecast
from bot.messages import ConversationState
from bot.settings import Behaviour, BusinessHoursBehaviour
from bot.storage.database import Database
from bot.storage.models import Conversation, Customer, Handoff
from handoff.business_hours import BusinessHours
from handoff.outlook import SqlHandoffOutlook
from tests.fixtures.gateway import SHIPPED_BEHAVIOUR

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2025, 6, 4, 10, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Rome


async def add_conversation(
    database: Database,
    state: ConversationState,
    *,
    closed: bool = False,
    handoffs: tuple[tuple[timedelta, timedelta | None], ...] = (),
) -> int:
    """A customer's conversation in ``state`` with handoffs requested ``ago``, claimed after
    ``wait`` (None: not claimed)."""
    async with database.write() as session:
        customer = Customer(
            channel="web",
            platform_id=f"c-{datetime.now(UTC).timestamp()}-{id(handoffs)}-{state}",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(customer)
        await session.flush()
        conversation = Conversation(
            customer_id=customer.id,
            channel="web",
            state=state.value,
            fallback_streak=0,
            created_at=NOW,
            updated_at=NOW,
            closed_at=NOW if closed else None,
        )
        session.add(conversation)
        await session.flush()
        for ago, wait in handoffs:
            requested = NOW - ago
            session.add(
                Handoff(
                    conversation_id=conversation.id,
                    reason="customer_request",
                    requested_at=requested,
                    claimed_at=None if wait is None else requested + wait,
                )
            )
        return conversation.id


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


async def test_empty_desk_has_no_queue_and_no_estimate(database: Database) -> None:
    forecast = await SqlHandoffOutlook(database).forecast(NOW)
    assert forecast == HandoffForecast(waiting=0, expected_wait=None, open_now=True)


async def test_counts_open_conversations_waiting_for_a_person(database: Database) -> None:
    for _ in range(3):
        await add_conversation(database, ConversationState.WAITING)
    await add_conversation(database, ConversationState.WAITING, closed=True)
    await add_conversation(database, ConversationState.AGENT)
    await add_conversation(database, ConversationState.BOT)
    forecast = await SqlHandoffOutlook(database).forecast(NOW)
    assert forecast.waiting == 3


async def test_expected_wait_is_the_median_of_recent_claimed_handoffs(database: Database) -> None:
    await add_conversation(
        database,
        ConversationState.AGENT,
        handoffs=(
            (minutes(10), minutes(1)),
            (minutes(20), minutes(2)),
            (minutes(30), minutes(3)),
            (minutes(40), minutes(4)),
            (minutes(50), minutes(100)),  # one long wait does not move the median much
            (minutes(5), None),  # not claimed yet: no wait to learn from
        ),
    )
    forecast = await SqlHandoffOutlook(database).forecast(NOW)
    assert forecast.expected_wait == minutes(3)


async def test_only_the_latest_handoffs_within_the_window_count(database: Database) -> None:
    await add_conversation(
        database,
        ConversationState.AGENT,
        handoffs=(
            (minutes(10), minutes(2)),
            (minutes(20), minutes(2)),
            (minutes(30), minutes(2)),
            (minutes(40), minutes(30)),  # beyond the sample of 3
            (timedelta(days=2), minutes(60)),  # beyond the window
            (timedelta(days=3), minutes(60)),
        ),
    )
    outlook = SqlHandoffOutlook(database, wait_sample=3, wait_window=timedelta(days=1))
    assert (await outlook.forecast(NOW)).expected_wait == minutes(2)


async def test_too_few_claimed_handoffs_give_no_estimate(database: Database) -> None:
    await add_conversation(
        database,
        ConversationState.AGENT,
        handoffs=((minutes(10), minutes(2)), (minutes(20), minutes(4))),
    )
    assert (await SqlHandoffOutlook(database, min_samples=3).forecast(NOW)).expected_wait is None
    assert (await SqlHandoffOutlook(database, min_samples=2).forecast(NOW)).expected_wait == (
        minutes(3)
    )


async def test_outside_business_hours_tells_the_next_opening(database: Database) -> None:
    await add_conversation(database, ConversationState.WAITING)
    rome = ZoneInfo("Europe/Rome")
    schedule = BusinessHours.parse("Europe/Rome", {"mon": "09:00-18:00", "fri": "09:00-18:00"})
    forecast = await SqlHandoffOutlook(database, schedule=schedule).forecast(NOW)
    assert forecast.open_now is False
    assert forecast.next_opening == datetime(2025, 6, 6, 9, 0, tzinfo=rome)
    assert forecast.next_opening is not None and forecast.next_opening.tzinfo == rome


async def test_inside_business_hours_reads_the_queue(database: Database) -> None:
    await add_conversation(database, ConversationState.WAITING)
    schedule = BusinessHours.parse("Europe/Rome", {"wed": "09:00-18:00"})
    forecast = await SqlHandoffOutlook(database, schedule=schedule).forecast(NOW)
    assert forecast.open_now is True and forecast.next_opening is None
    assert forecast.waiting == 1


async def test_built_from_the_behaviour_file(database: Database) -> None:
    behaviour: Behaviour = SHIPPED_BEHAVIOUR.model_copy(
        update={"business_hours": BusinessHoursBehaviour(timezone="Europe/Rome", sat="10:00-12:00")}
    )
    forecast = await SqlHandoffOutlook.from_behaviour(database, behaviour).forecast(NOW)
    assert forecast.open_now is False
    assert forecast.next_opening == datetime(2025, 6, 7, 10, 0, tzinfo=ZoneInfo("Europe/Rome"))
