"""The desk's rules on SQLite and PostgreSQL: queue order, claiming, replies, notes, transfer,
release, resolve, authorisation and auto-assignment."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.conversation_events import (
    ConversationChanged,
    ConversationClaimed,
    HandoffRequested,
    MessageAdded,
)
from bot.storage.database import Database
from bot.storage.models import Conversation, Handoff, HandoffTransfer, Message
from handoff.desk import AWAITING_FEEDBACK
from handoff.desk_errors import AlreadyClaimed, Conflict, Forbidden, InvalidRequest, NotFound
from handoff.principal import Principal
from tests.fixtures.gateway import SHIPPED_BEHAVIOUR
from tests.handoff.desk_support import DeskWorld, behaviour

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def world(database: Database) -> DeskWorld:
    return DeskWorld(database)


async def rows(database: Database, model: type, **where: object) -> list:  # type: ignore[type-arg]
    async with database.read() as session:
        query = select(model).filter_by(**where).order_by(model.id)  # type: ignore[attr-defined]
        return list(await session.scalars(query))


async def test_queue_puts_the_callers_languages_first_then_the_longest_wait(
    world: DeskWorld,
) -> None:
    english_old = await world.waiting(language="en")
    italian_new = await world.waiting(language="it")
    italian_old = await world.waiting(language="it")
    await world.age_handoff(english_old, 30)
    await world.age_handoff(italian_old, 20)
    await world.age_handoff(italian_new, 5)
    italian_agent = await world.agent("giulia", languages=["it"])
    english_agent = await world.agent("john", languages=["en"])

    queue = await world.desk.queue(italian_agent)
    assert [c.id for c in queue] == [italian_old, italian_new, english_old]
    assert [c.id for c in await world.desk.queue(english_agent)] == [
        english_old,
        italian_old,
        italian_new,
    ]
    assert queue[0].state == "waiting" and queue[0].handoff is not None
    assert queue[0].handoff.language == "it" and queue[0].handoff.reason == "customer_request"
    assert queue[0].customer.display_name == "Maria"
    summary = await world.desk.queue_summary()
    assert summary.count == 3
    assert summary.as_json()["oldest_wait_s"] >= 30 * 60 - 5


async def test_a_claim_makes_the_agent_the_owner(world: DeskWorld, database: Database) -> None:
    conversation_id = await world.waiting()
    giulia = await world.agent("giulia")

    view = await world.desk.claim(giulia, conversation_id)

    assert view.state == "agent" and view.agent is not None and view.agent.username == "giulia"
    assert view.agent.open_conversations == 1
    [handoff] = await rows(database, Handoff, conversation_id=conversation_id)
    assert handoff.agent_id == view.agent.id and handoff.claimed_at is not None
    assert await world.desk.queue(giulia) == []
    # Claiming again is harmless; the conversation is no longer in the queue for anyone else.
    assert (await world.desk.claim(giulia, conversation_id)).agent_id == view.agent.id
    assert "ConversationClaimed" in world.events.names()


async def test_twenty_concurrent_claims_have_exactly_one_winner(world: DeskWorld) -> None:
    conversation_id = await world.waiting()
    agents = [await world.agent(f"agent{i}") for i in range(20)]

    results = await asyncio.gather(
        *(world.desk.claim(agent, conversation_id) for agent in agents), return_exceptions=True
    )

    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 19 and all(isinstance(e, AlreadyClaimed) for e in losers)
    owner = winners[0].agent
    assert owner is not None
    assert {e.details["agent"]["id"] for e in losers} == {owner.id}  # type: ignore[union-attr]
    claimed = [e for e in world.events.events if isinstance(e, ConversationClaimed)]
    assert len(claimed) == 1


async def test_only_waiting_conversations_can_be_claimed(world: DeskWorld) -> None:
    conversation_id = await world.waiting()
    giulia = await world.agent("giulia")
    await world.desk.claim(giulia, conversation_id)
    await world.desk.resolve(giulia, conversation_id)
    with pytest.raises(Conflict):
        await world.desk.claim(giulia, conversation_id)
    with pytest.raises(NotFound):
        await world.desk.claim(giulia, 987654)
    with pytest.raises(Forbidden):
        await world.desk.claim(Principal.admin_token(), conversation_id)


async def test_a_reply_is_queued_in_the_outbox_under_the_agents_name(
    world: DeskWorld, database: Database
) -> None:
    conversation_id = await world.waiting()
    giulia = await world.agent("giulia")
    await world.desk.claim(giulia, conversation_id)

    message = await world.desk.reply(giulia, conversation_id, text="  Ciao Maria, eccomi!  ")

    assert message.text == "Giulia: Ciao Maria, eccomi!"
    assert message.author == "agent" and message.kind == "reply" and message.status == "queued"
    [row] = await rows(database, Message, id=message.id)
    assert row.direction == "out" and row.agent_id == giulia.agent_id
    assert row.language == "it" and row.status == "queued"
    assert world.woken == [conversation_id]
    [handoff] = await rows(database, Handoff, conversation_id=conversation_id)
    assert handoff.first_agent_message_at is not None
    added = [e for e in world.events.events if isinstance(e, MessageAdded)]
    assert added[-1].message["id"] == message.id and added[-1].owner_id == giulia.agent_id


async def test_without_a_prefix_the_reply_is_sent_as_written(database: Database) -> None:
    world = DeskWorld(database, behaviour(agent_name_prefix=""))
    conversation_id = await world.waiting()
    giulia = await world.agent("giulia")
    await world.desk.claim(giulia, conversation_id)
    assert (await world.desk.reply(giulia, conversation_id, text="Ciao")).text == "Ciao"


async def test_a_canned_reply_fills_its_placeholders(world: DeskWorld) -> None:
    conversation_id = await world.waiting(name="Maria")
    giulia = await world.agent("giulia")
    await world.desk.claim(giulia, conversation_id)
    canned = await world.desk.add_canned_reply(
        giulia,
        shortcut="hello",
        title="Greeting",
        text="Ciao {name}, sono {agent} ({conversation}). {unknown} resta",
        language="it",
    )

    message = await world.desk.reply(giulia, conversation_id, canned_reply_id=canned.id)

    assert message.text == (
        f"Giulia: Ciao Maria, sono Giulia ({conversation_id}). {{unknown}} resta"
    )
    with pytest.raises(InvalidRequest):
        await world.desk.reply(giulia, conversation_id)
    with pytest.raises(InvalidRequest):
        await world.desk.reply(giulia, conversation_id, text="   ")


async def test_a_note_is_stored_for_agents_and_never_queued(
    world: DeskWorld, database: Database
) -> None:
    conversation_id = await world.waiting()
    giulia = await world.agent("giulia")
    await world.desk.claim(giulia, conversation_id)

    note = await world.desk.add_note(giulia, conversation_id, "cliente VIP")

    [row] = await rows(database, Message, id=note.id)
    assert (row.kind, row.author, row.direction, row.status) == ("note", "agent", "out", None)
    assert world.woken == []
    messages = await world.desk.messages(giulia, conversation_id)
    assert [m.kind for m in messages] == ["text", "notice", "note"]
    # The conversation's last message and unread count ignore notes.
    view = await world.desk.conversation(giulia, conversation_id)
    assert view.last_message is not None and view.last_message.kind == "notice"


async def test_another_agent_can_read_but_not_act(world: DeskWorld) -> None:
    conversation_id = await world.waiting()
    giulia = await world.agent("giulia")
    marco = await world.agent("marco")
    await world.desk.claim(giulia, conversation_id)

    assert (await world.desk.conversation(marco, conversation_id)).id == conversation_id
    assert len(await world.desk.messages(marco, conversation_id)) == 2
    for act in (
        world.desk.reply(marco, conversation_id, text="hi"),
        world.desk.add_note(marco, conversation_id, "mine now"),
        world.desk.transfer(marco, conversation_id, marco.agent_id),
        world.desk.release(marco, conversation_id),
        world.desk.resolve(marco, conversation_id),
    ):
        with pytest.raises(Forbidden):
            await act


async def test_admins_annotate_transfer_and_resolve_any_conversation(
    world: DeskWorld, database: Database
) -> None:
    first = await world.waiting()
    second = await world.waiting()
    giulia = await world.agent("giulia")
    boss = await world.agent("boss", is_admin=True)
    admin = Principal.admin_token()
    await world.desk.claim(giulia, first)

    await world.desk.add_note(admin, first, "from the admin token")
    await world.desk.add_note(boss, first, "from an admin agent")
    moved = await world.desk.transfer(admin, second, giulia.agent_id)  # straight from the queue
    assert moved.state == "agent" and moved.agent_id == giulia.agent_id
    assert (await world.desk.resolve(boss, first)).state == "bot"
    with pytest.raises(Forbidden):
        await world.desk.reply(admin, second, text="hi")
    with pytest.raises(Forbidden):
        await world.desk.reply(boss, second, text="the admin agent does not own it")


async def test_transfer_to_an_agent_then_back_to_the_queue(
    world: DeskWorld, database: Database
) -> None:
    conversation_id = await world.waiting()
    giulia = await world.agent("giulia")
    marco = await world.agent("marco")
    await world.desk.claim(giulia, conversation_id)

    view = await world.desk.transfer(giulia, conversation_id, marco.agent_id)
    assert view.state == "agent" and view.agent_id == marco.agent_id
    await world.desk.reply(marco, conversation_id, text="Eccomi, sono Marco")
    with pytest.raises(Forbidden):
        await world.desk.reply(giulia, conversation_id, text="not mine any more")
    changed = [e for e in world.events.events if isinstance(e, ConversationChanged)]
    assert changed[-1].owner_id == marco.agent_id
    assert changed[-1].previous_owner_id == giulia.agent_id

    back = await world.desk.transfer(marco, conversation_id, None)
    assert back.state == "waiting" and back.agent is None
    assert [c.id for c in await world.desk.queue(giulia)] == [conversation_id]
    assert isinstance(world.events.events[-1], HandoffRequested)
    transfers = await rows(database, HandoffTransfer, conversation_id=conversation_id)
    assert [(t.from_agent_id, t.to_agent_id, t.by_agent_id) for t in transfers] == [
        (giulia.agent_id, marco.agent_id, giulia.agent_id),
        (marco.agent_id, None, marco.agent_id),
    ]
    with pytest.raises(NotFound):
        await world.desk.transfer(Principal.admin_token(), conversation_id, 424242)


async def test_resolve_hands_back_to_the_bot_and_queues_the_feedback_request(
    world: DeskWorld, database: Database
) -> None:
    conversation_id = await world.waiting(language="it")
    giulia = await world.agent("giulia")
    await world.desk.claim(giulia, conversation_id)
    await world.desk.reply(giulia, conversation_id, text="Risolto!")
    world.woken.clear()

    view = await world.desk.resolve(giulia, conversation_id)

    assert view.state == "bot" and view.agent is None
    assert view.handoff is not None and view.handoff.ended_reason == "resolved"
    assert view.handoff.resolved_at is not None
    [conversation] = await rows(database, Conversation, id=conversation_id)
    assert conversation.awaiting == AWAITING_FEEDBACK and conversation.agent_id is None
    request = (await rows(database, Message, conversation_id=conversation_id))[-1]
    assert request.text == SHIPPED_BEHAVIOUR.text("feedback_request", "it")
    assert (request.author, request.kind, request.status) == ("bot", "notice", "queued")
    assert [c["payload"] for c in request.payload["choices"]] == [
        f"feedback:{n}" for n in range(1, 6)
    ]
    assert world.woken == [conversation_id]
    with pytest.raises(Conflict):
        await world.desk.resolve(giulia, conversation_id)


async def test_release_hands_back_without_asking_for_feedback(
    world: DeskWorld, database: Database
) -> None:
    conversation_id = await world.waiting()
    giulia = await world.agent("giulia")
    await world.desk.claim(giulia, conversation_id)

    view = await world.desk.release(giulia, conversation_id)

    assert view.state == "bot" and view.handoff is not None
    assert view.handoff.ended_reason == "released"
    [conversation] = await rows(database, Conversation, id=conversation_id)
    assert conversation.awaiting is None
    assert world.woken == []


async def test_my_conversations_and_unread_counts(world: DeskWorld) -> None:
    mine = await world.waiting()
    other = await world.waiting()
    giulia = await world.agent("giulia")
    marco = await world.agent("marco")
    await world.desk.claim(giulia, mine)
    await world.desk.claim(marco, other)
    await world.desk.reply(giulia, mine, text="Ciao")
    await world.customer_writes(mine, "grazie, ho un'altra domanda")
    await world.customer_writes(mine, "sul mio ordine")

    [view] = await world.desk.conversations(giulia)
    assert view.id == mine and view.unread == 2
    assert view.last_message is not None and view.last_message.text == "sul mio ordine"
    both = await world.desk.conversations(giulia, owner="any", states=["agent"])
    assert {c.id for c in both} == {mine, other}
    with pytest.raises(InvalidRequest):
        await world.desk.conversations(giulia, states=["nonsense"])
    with pytest.raises(Forbidden):
        await world.desk.conversations(Principal.admin_token(), owner="me")


async def test_a_customer_profile_lists_earlier_conversations(world: DeskWorld) -> None:
    conversation_id = await world.waiting()
    giulia = await world.agent("giulia")
    view = await world.desk.conversation(giulia, conversation_id)
    customer, conversations = await world.desk.customer(giulia, view.customer.id)
    assert customer.channel == "whatsapp" and customer.display_name == "Maria"
    assert [c.id for c in conversations] == [conversation_id]
    with pytest.raises(NotFound):
        await world.desk.customer(giulia, 999999)


async def test_auto_assignment_prefers_speakers_of_the_language_then_the_least_busy(
    database: Database,
) -> None:
    world = DeskWorld(database, behaviour(auto_assign=True))
    busy_italian = await world.agent("busy", languages=["it"], available=True)
    await world.agent("english", languages=["en"], available=True)
    await world.agent("away", languages=["it"])
    first = await world.waiting(language="it")
    await world.desk.claim(busy_italian, first)  # busy now has one open conversation

    italian = await world.waiting(language="it")
    english = await world.waiting(language="en")
    assert await world.desk.assign_waiting() == 2

    italian_view = await world.desk.conversation(busy_italian, italian)
    english_view = await world.desk.conversation(busy_italian, english)
    assert italian_view.agent is not None and italian_view.agent.username == "busy"
    assert english_view.agent is not None and english_view.agent.username == "english"


async def test_becoming_available_assigns_what_waits(database: Database) -> None:
    world = DeskWorld(database, behaviour(auto_assign=True))
    giulia = await world.agent("giulia", languages=["it"])
    conversation_id = await world.waiting()

    me = await world.desk.set_status(giulia, "available")

    assert me.status == "available" and me.open_conversations == 1
    assert (await world.desk.conversation(giulia, conversation_id)).agent_id == giulia.agent_id
    with pytest.raises(InvalidRequest):
        await world.desk.set_status(giulia, "sleeping")


async def test_canned_replies_are_edited_by_their_author_or_an_admin(world: DeskWorld) -> None:
    giulia = await world.agent("giulia")
    marco = await world.agent("marco")
    canned = await world.desk.add_canned_reply(
        giulia, shortcut="bye", title="Goodbye", text="Bye {name}!", language=None
    )
    with pytest.raises(Forbidden):
        await world.desk.update_canned_reply(marco, canned.id, text="mine")
    changed = await world.desk.update_canned_reply(giulia, canned.id, text="Ciao {name}!")
    assert changed.text == "Ciao {name}!"
    with pytest.raises(InvalidRequest):
        await world.desk.add_canned_reply(giulia, shortcut="x", title="t", text="t", language="fr")
    await world.desk.delete_canned_reply(Principal.admin_token(), canned.id)
    assert await world.desk.canned_replies(giulia) == []
