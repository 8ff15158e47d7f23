"""``/api/v1/review`` through the gateway, on review items the real pipeline wrote: customers'
questions that fell back and an FAQ answer rated 👎 are listed for admins, filtered, marked;
other agents get 403, bad input 400, unknown ids 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.web.app import PIPELINE
from tests.fixtures.doubles import RecordedNlu, faq
from tests.fixtures.gateway import ChatCustomer, gateway_client, settings_for
from tests.handoff.web.test_api import ADMIN_TOKEN, Agent, add_agent

pytestmark = pytest.mark.timeout(120)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GUESSED = "where is my parcel??"
NLU = RecordedNlu(
    {
        # a guess too unsure to answer: a fallback with the NLU's best guess
        GUESSED: faq(GUESSED, "faq/order_status", 0.38),
        "How much is shipping?": faq("How much is shipping?", "faq/shipping_cost"),
    }
)


async def seed(client: TestClient) -> None:
    """Two fallbacks (one with a guess) and an FAQ answer rated 👎, through the web chat."""
    for text in ("do you sell gift cards?", GUESSED):
        customer = await ChatCustomer(client).start()
        await customer.say(text)
        await customer.next_reply()
        await customer.close()
    customer = await ChatCustomer(client).start()
    await customer.say("How much is shipping?")
    await client.app[PIPELINE].idle()
    await customer.say("👎", payload="helpful:no")
    await client.app[PIPELINE].idle()
    await customer.close()


@pytest.fixture
async def gateway(sqlite_url: str) -> AsyncIterator[TestClient]:
    settings = settings_for(sqlite_url, admin_token=ADMIN_TOKEN)
    async with gateway_client(settings, nlu=NLU) as client:
        await seed(client)
        yield client


@pytest.fixture
async def admin(gateway: TestClient) -> Agent:
    return await add_agent(gateway, "root", is_admin=True)


async def listed(client: TestClient, query: str = "", headers: Any = ADMIN) -> list[Any]:
    response = await client.get(f"/api/v1/review{query}", headers=headers)
    assert response.status == 200, await response.text()
    items: list[Any] = (await response.json())["items"]
    return items


async def test_admins_list_the_failed_questions_newest_first(
    gateway: TestClient, admin: Agent
) -> None:
    items = await listed(gateway, headers=admin.headers)
    assert [(i["text"], i["reason"]) for i in items] == [
        ("How much is shipping?", "low_rating"),
        (GUESSED, "fallback"),
        ("do you sell gift cards?", "fallback"),
    ]
    guessed = items[1]
    assert guessed["faq_key"] == "faq/order_status" and guessed["faq_confidence"] == 0.38
    assert guessed["status"] == "open" and guessed["target_faq"] is None
    assert guessed["channel"] == "web" and guessed["created_at"]
    assert set(guessed) >= {"id", "message_id", "conversation_id", "intent", "marked_by"}

    assert [i["text"] for i in await listed(gateway, "?reason=low_rating")] == [
        "How much is shipping?"
    ]
    assert await listed(gateway, "?reason=handoff") == []
    assert len(await listed(gateway, "?status=open&language=en")) == 3
    assert await listed(gateway, "?language=de") == []
    first = await listed(gateway, "?limit=2")
    assert len(first) == 2
    rest = await listed(gateway, f"?before={first[-1]['id']}")
    assert [i["text"] for i in rest] == ["do you sell gift cards?"]


async def test_an_admin_adds_to_an_faq_a_new_faq_or_dismisses(
    gateway: TestClient, admin: Agent
) -> None:
    rated, guessed, gift = await listed(gateway)

    response = await gateway.post(
        f"/api/v1/review/{guessed['id']}",
        json={"status": "added", "target_faq": "faq/order_status"},
        headers=admin.headers,
    )
    assert response.status == 200, await response.text()
    marked = await response.json()
    assert marked["status"] == "added" and marked["target_faq"] == "faq/order_status"
    assert marked["marked_by"] == admin.id and marked["marked_at"]
    assert marked["text"] == GUESSED  # the whole item, as the list shows it

    response = await gateway.post(
        f"/api/v1/review/{gift['id']}", json={"status": "added", "target_faq": "new"}, headers=ADMIN
    )
    assert (await response.json())["target_faq"] == "new"
    assert (await response.json())["marked_by"] is None  # the admin token acts as no agent
    response = await gateway.post(
        f"/api/v1/review/{rated['id']}",
        json={"status": "dismissed", "target_faq": None},
        headers=admin.headers,
    )
    assert (await response.json())["status"] == "dismissed"

    assert await listed(gateway, "?status=open") == []
    assert [i["id"] for i in await listed(gateway, "?status=added")] == [guessed["id"], gift["id"]]
    # Reopened: the decision is undone.
    response = await gateway.post(
        f"/api/v1/review/{rated['id']}", json={"status": "open"}, headers=ADMIN
    )
    reopened = await response.json()
    assert (reopened["status"], reopened["marked_at"]) == ("open", None)


async def test_other_agents_are_refused(gateway: TestClient) -> None:
    agent = await add_agent(gateway, "agnes")
    [item, *_] = await listed(gateway)
    response = await gateway.get("/api/v1/review", headers=agent.headers)
    assert response.status == 403 and (await response.json())["error"] == "forbidden"
    response = await gateway.post(
        f"/api/v1/review/{item['id']}", json={"status": "dismissed"}, headers=agent.headers
    )
    assert response.status == 403 and (await response.json())["error"] == "forbidden"
    assert (await gateway.get("/api/v1/review")).status == 401
    assert (await listed(gateway))[0]["status"] == "open"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "archived"},
        {"status": "added"},
        {"status": "added", "target_faq": None},
        {"status": "added", "target_faq": "faq/no_such_faq"},
        {"status": "added", "target_faq": "shipping_cost"},
        {"status": "added", "target_faq": 7},
        {"status": 1},
        {},
        {"status": "dismissed", "note": "spam"},
    ],
)
async def test_bad_decisions_are_400(gateway: TestClient, body: dict[str, Any]) -> None:
    [item, *_] = await listed(gateway)
    response = await gateway.post(f"/api/v1/review/{item['id']}", json=body, headers=ADMIN)
    assert response.status == 400, body
    assert (await response.json())["error"] == "invalid_request"
    assert (await listed(gateway))[0]["status"] == "open"


@pytest.mark.parametrize(
    "query", ["status=archived", "reason=sad", "limit=0", "limit=many", "limit=501", "before=-1"]
)
async def test_bad_parameters_are_400(gateway: TestClient, query: str) -> None:
    response = await gateway.get(f"/api/v1/review?{query}", headers=ADMIN)
    assert response.status == 400, query
    assert (await response.json())["error"] == "invalid_request"


@pytest.mark.parametrize("item_id", ["999999", "0", "x"])
async def test_unknown_items_are_404(gateway: TestClient, item_id: str) -> None:
    response = await gateway.post(
        f"/api/v1/review/{item_id}", json={"status": "dismissed"}, headers=ADMIN
    )
    assert response.status == 404
    assert (await response.json())["error"] == "not_found"
