"""``GET /api/v1/events`` through the whole gateway: who gets which event, replay, auth, pings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.conversation_events import MessageAdded
from bot.event_hub import EventHub
from bot.web.app import PIPELINE
from handoff.principal import AgentRecord, Principal
from handoff.web.events_stream import add_events_route
from tests.fixtures.doubles import RecordedNlu
from tests.fixtures.gateway import ChatCustomer, gateway_client, settings_for
from tests.handoff.web.sse import EventReader

pytestmark = pytest.mark.timeout(60)


async def agent_token(client: TestClient, username: str, **extra: Any) -> tuple[int, str]:
    agents = client.app[PIPELINE].desk.agents
    agent = await agents.add_agent(username, "correct horse battery", **extra)
    issued = await agents.issue_token(agent)
    return agent.id, issued.token


@asynccontextmanager
async def stream(
    client: TestClient, token: str, last_event_id: str | None = None
) -> AsyncIterator[EventReader]:
    headers = {"Authorization": f"Bearer {token}"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    response = await client.get("/api/v1/events", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    try:
        yield EventReader(response)
    finally:
        response.close()


async def test_refused_without_a_valid_token(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await client.get("/api/v1/events", headers=headers)
            assert response.status == 401
            assert (await response.json())["error"] == "unauthorized"


async def test_handoff_claim_and_messages_reach_the_right_agents(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        alice_id, alice = await agent_token(client, "alice", languages=["en"])
        _, bob = await agent_token(client, "bob", languages=["en"])
        async with stream(client, alice) as alice_events, stream(client, bob) as bob_events:
            customer = await ChatCustomer(client).start()
            await customer.say("/human")
            handoff = await alice_events.until("handoff")
            conversation_id = handoff.data["id"]
            assert handoff.data["state"] == "waiting"
            assert (await bob_events.until("handoff")).data["id"] == conversation_id
            queue = await alice_events.until("queue")
            assert queue.data["count"] == 1

            claimed = await client.post(
                f"/api/v1/conversations/{conversation_id}/claim",
                headers={"Authorization": f"Bearer {alice}"},
            )
            assert claimed.status == 200, await claimed.text()
            for events in (alice_events, bob_events):
                got = await events.until("claimed")
                assert got.data == {"conversation_id": conversation_id, "agent_id": alice_id}

            await customer.say("my parcel never arrived <script>alert(1)</script>")
            message = await alice_events.until("message", direction="in")
            assert message.data["text"] == "my parcel never arrived <script>alert(1)</script>"
            assert message.data["conversation_id"] == conversation_id
            assert message.data["author"] == "customer"

            reply = await client.post(
                f"/api/v1/conversations/{conversation_id}/messages",
                json={"text": "Let me check."},
                headers={"Authorization": f"Bearer {alice}"},
            )
            assert reply.status == 201, await reply.text()
            sent = await alice_events.until("message_status", status="sent")
            assert sent.data["id"] == (await reply.json())["id"]
            # Bob saw the queue but none of Alice's conversation.
            assert "message" not in await bob_events.names_for(0.5)
            await customer.close()


async def test_a_reconnect_replays_what_the_agent_missed(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        _, alice = await agent_token(client, "alice", languages=["en"])
        async with stream(client, alice) as events:
            customer = await ChatCustomer(client).start()
            await customer.say("/human")
            first = await events.until("handoff")
        other = await ChatCustomer(client).start()
        await other.say("/human")  # while Alice is away
        await client.app[PIPELINE].idle()
        async with stream(client, alice, last_event_id=first.id) as events:
            missed = await events.until("handoff")
            assert missed.data["id"] != first.data["id"]
        async with stream(client, alice, last_event_id="someone-else-7") as events:
            assert (await events.next()).name == "resync"
        await customer.close()
        await other.close()


async def test_pings_keep_the_stream_open_and_a_logged_out_session_ends_it() -> None:
    agent = AgentRecord(1, "alice", "Alice", ("en",), is_admin=False, status="available")
    sessions = {"live": Principal(agent, "session", token_id=5, csrf_token="x")}

    async def authenticate(request: web.Request) -> Principal:
        return sessions["live"]

    async def session_of(request: web.Request) -> Principal | None:
        return sessions.get("live")

    hub = EventHub()
    app = web.Application()
    add_events_route(app, lambda app: hub, authenticate, session_of=session_of, ping_s=0.1)
    async with hub.running(), TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/api/v1/events")
        events = EventReader(response)
        hub.publish(MessageAdded(3, {"id": 1, "text": "hi"}, owner_id=1))
        assert (await events.next()).data["text"] == "hi"
        await events.names_for(0.35)
        assert "ping" in events.comments
        del sessions["live"]  # logged out
        with pytest.raises(EOFError):
            await events.next(2)


async def test_the_stream_is_closed_cleanly_when_the_gateway_stops(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        _, alice = await agent_token(client, "alice")
        response = await client.get("/api/v1/events", headers={"Authorization": f"Bearer {alice}"})
        assert response.status == 200
    with pytest.raises((EOFError, aiohttp.ClientError)):
        await EventReader(response).next(5)


async def test_two_gateways_share_live_events_through_redis(sqlite_url: str) -> None:
    """A customer on one gateway, the agent's stream on another, one database, real Redis."""
    settings = settings_for(sqlite_url, redis_url="redis://127.0.0.1:6379/0")
    async with (
        gateway_client(settings, nlu=RecordedNlu()) as front,
        gateway_client(settings, nlu=RecordedNlu()) as back,
    ):
        for client in (front, back):
            relay = client.app[PIPELINE].events._relay
            assert relay is not None
            await asyncio.wait_for(relay.connected.wait(), 5)  # type: ignore[attr-defined]
        _, alice = await agent_token(back, "alice", languages=["en"])
        async with stream(back, alice) as events:
            customer = await ChatCustomer(front).start()
            await customer.say("/human")
            handoff = await events.until("handoff")
            claimed = await front.post(
                f"/api/v1/conversations/{handoff.data['id']}/claim",
                headers={"Authorization": f"Bearer {alice}"},
            )
            assert claimed.status == 200
            await customer.say("are you there?")
            message = await events.until("message", direction="in", text="are you there?")
            assert message.data["conversation_id"] == handoff.data["id"]
            await customer.close()
