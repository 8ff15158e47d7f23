"""The agent API through the whole gateway: a handoff worked end to end, 20 concurrent claims,
the authorisation matrix of every route, console sessions with CSRF, malformed input, OpenAPI."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.web.app import PIPELINE
from handoff.web.api_routes import ROUTES
from tests.fixtures.doubles import RecordedNlu
from tests.fixtures.gateway import SHIPPED_BEHAVIOUR, ChatCustomer, gateway_client, settings_for

pytestmark = pytest.mark.timeout(120)

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
PASSWORD = "correct horse battery"


@dataclass
class Agent:
    id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def add_agent(client: TestClient, username: str, **extra: Any) -> Agent:
    agents = client.app[PIPELINE].desk.agents
    record = await agents.add_agent(username, PASSWORD, display_name=username.capitalize(), **extra)
    return Agent(record.id, (await agents.issue_token(record)).token)


async def wait_for_queue(client: TestClient, agent: Agent, count: int) -> list[dict[str, Any]]:
    """Poll the queue until ``count`` conversations wait (the worker hands off asynchronously)."""
    async with asyncio.timeout(10):
        while True:
            response = await client.get("/api/v1/queue", headers=agent.headers)
            body = await response.json()
            if body["count"] >= count:
                return list(body["waiting"])
            await asyncio.sleep(0.05)


async def customer_asking_for_a_person(client: TestClient) -> ChatCustomer:
    customer = await ChatCustomer(client).start()
    await customer.say("/human")
    notice = await customer.next_reply()
    assert notice["text"] == SHIPPED_BEHAVIOUR.text("handoff_requested", "en") or notice["text"]
    return customer


@pytest.fixture
async def gateway(sqlite_url: str) -> AsyncIterator[TestClient]:
    settings = settings_for(sqlite_url, admin_token=ADMIN_TOKEN)
    async with gateway_client(settings, nlu=RecordedNlu()) as client:
        yield client


async def test_a_handoff_worked_through_the_api(gateway: TestClient) -> None:
    giulia = await add_agent(gateway, "giulia", languages=["en"])
    customer = await customer_asking_for_a_person(gateway)
    [waiting] = await wait_for_queue(gateway, giulia, 1)
    conversation_id = waiting["id"]
    assert waiting["state"] == "waiting" and waiting["handoff"]["reason"] == "customer_request"

    response = await gateway.post(
        f"/api/v1/conversations/{conversation_id}/claim", headers=giulia.headers
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["agent"]["id"] == giulia.id

    response = await gateway.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "Hello, I'm here to help"},
        headers=giulia.headers,
    )
    assert response.status == 201, await response.text()
    sent = await response.json()
    assert sent["author"] == "agent" and sent["agent"]["display_name"] == "Giulia"
    assert (await customer.next_reply())["text"] == "Giulia: Hello, I'm here to help"

    await customer.say("thanks, one more thing")
    async with asyncio.timeout(10):
        while True:
            response = await gateway.get(
                f"/api/v1/conversations/{conversation_id}/messages",
                params={"after": str(sent["id"])},
                headers=giulia.headers,
            )
            messages = (await response.json())["messages"]
            if messages:
                break
            await asyncio.sleep(0.05)
    assert [m["text"] for m in messages] == ["thanks, one more thing"]

    response = await gateway.post(
        f"/api/v1/conversations/{conversation_id}/resolve", headers=giulia.headers
    )
    assert response.status == 200 and (await response.json())["state"] == "bot"
    feedback = await customer.next_reply()
    assert feedback["text"].startswith(SHIPPED_BEHAVIOUR.text("feedback_request", "en"))
    await customer.close()


async def test_twenty_agents_claim_at_once_one_wins(database_url: str) -> None:
    settings = settings_for(database_url, admin_token=ADMIN_TOKEN)
    async with gateway_client(settings, nlu=RecordedNlu()) as client:
        agents = [await add_agent(client, f"agent{i}") for i in range(20)]
        customer = await customer_asking_for_a_person(client)
        [waiting] = await wait_for_queue(client, agents[0], 1)
        url = f"/api/v1/conversations/{waiting['id']}/claim"

        async def claim(agent: Agent) -> tuple[int, dict[str, Any]]:
            response = await client.post(url, headers=agent.headers)
            return response.status, await response.json()

        results = await asyncio.gather(*(claim(a) for a in agents))
        await customer.close()

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * 19
    [winner] = [body for status, body in results if status == 200]
    losers = [body for status, body in results if status == 409]
    assert {body["error"] for body in losers} == {"already_claimed"}
    assert {body["agent"]["id"] for body in losers} == {winner["agent"]["id"]}


# ---------------------------------------------------------------------------------- authorisation


def _fill(path: str, conversation_id: int, canned_id: int, customer_id: int) -> str:
    if path.startswith("/api/v1/canned-replies/"):
        return path.replace("{id}", str(canned_id))
    if path.startswith("/api/v1/customers/"):
        return path.replace("{id}", str(customer_id))
    return path.replace("{id}", str(conversation_id))


BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/auth/token"): {"username": "owner", "password": "wrong password"},
    ("PUT", "/api/v1/me/status"): {"status": "away"},
    ("POST", "/api/v1/conversations/{id}/messages"): {"text": "hello"},
    ("POST", "/api/v1/conversations/{id}/notes"): {"text": "a note"},
    ("POST", "/api/v1/conversations/{id}/transfer"): {"agent_id": None},
    ("POST", "/api/v1/canned-replies"): {"shortcut": "new", "title": "New", "text": "Hi"},
    ("PUT", "/api/v1/canned-replies/{id}"): {"text": "changed"},
    ("POST", "/api/v1/review/{id}"): {"status": "dismissed", "target_faq": None},
}


async def test_every_route_refuses_missing_and_wrong_tokens_and_other_agents(
    gateway: TestClient,
) -> None:
    owner = await add_agent(gateway, "owner")
    other = await add_agent(gateway, "other")
    customer = await customer_asking_for_a_person(gateway)
    [waiting] = await wait_for_queue(gateway, owner, 1)
    conversation_id, customer_id = waiting["id"], waiting["customer"]["id"]
    claimed = await gateway.post(
        f"/api/v1/conversations/{conversation_id}/claim", headers=owner.headers
    )
    assert claimed.status == 200
    created = await gateway.post(
        "/api/v1/canned-replies",
        json={"shortcut": "hi", "title": "Hi", "text": "Hi {name}"},
        headers=owner.headers,
    )
    canned_id = (await created.json())["id"]

    # The token-revoking route last, so "other" keeps its token for the rest.
    routes = sorted(ROUTES, key=lambda r: (r.method, r.path) == ("DELETE", "/api/v1/auth/token"))
    checked = 0
    for route in routes:
        path = _fill(route.path, conversation_id, canned_id, customer_id)
        body = BODIES.get((route.method, route.path))
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        label = f"{route.method} {route.path}"
        if not route.authenticated:
            response = await gateway.request(route.method, path, **kwargs)
            assert response.status == 401, label  # wrong password
            continue
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic x"}):
            response = await gateway.request(route.method, path, headers=headers, **kwargs)
            assert response.status == 401, f"{label} with {headers}"
            assert (await response.json())["error"] == "unauthorized"
        response = await gateway.request(route.method, path, headers=other.headers, **kwargs)
        if route.owner_only or route.admin_only:
            assert response.status == 403, f"{label}: {await response.text()}"
            assert (await response.json())["error"] == "forbidden"
        elif route.operation_id == "claimConversation":
            assert response.status == 409 and (await response.json())["error"] == "already_claimed"
        else:
            assert response.status < 400, f"{label}: {await response.text()}"
        checked += 1
    assert checked == len(ROUTES) - 1
    # The revoked token no longer works.
    assert (await gateway.get("/api/v1/me", headers=other.headers)).status == 401
    await customer.close()


async def test_the_admin_token_reads_and_resolves_but_does_not_claim(gateway: TestClient) -> None:
    owner = await add_agent(gateway, "owner")
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    customer = await customer_asking_for_a_person(gateway)
    [waiting] = await wait_for_queue(gateway, owner, 1)
    url = f"/api/v1/conversations/{waiting['id']}"

    assert (await gateway.get(url, headers=admin)).status == 200
    response = await gateway.post(f"{url}/claim", headers=admin)
    assert response.status == 403 and (await response.json())["error"] == "forbidden"
    assert (await gateway.get("/api/v1/me", headers=admin)).status == 403
    response = await gateway.post(f"{url}/resolve", headers=admin)
    assert response.status == 200 and (await response.json())["state"] == "bot"
    await customer.close()


# ---------------------------------------------------------------------------------- sessions


async def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    client.session.cookie_jar.update_cookies({"carebot_login_csrf": "login-csrf-value"})
    return await client.post(
        "/agent/login",
        data={"username": username, "password": password, "csrf": "login-csrf-value"},
        headers={"Accept": "text/html"},
        allow_redirects=False,
    )


def cookie(client: TestClient, name: str) -> str | None:
    for morsel in client.session.cookie_jar:
        if morsel.key == name:
            return morsel.value
    return None


async def test_console_sessions_need_the_csrf_token_on_unsafe_requests(
    gateway: TestClient,
) -> None:
    owner = await add_agent(gateway, "owner")
    customer = await customer_asking_for_a_person(gateway)
    [waiting] = await wait_for_queue(gateway, owner, 1)
    claim_url = f"/api/v1/conversations/{waiting['id']}/claim"

    response = await login(gateway, "owner")
    assert response.status == 303 and response.headers["Location"] == "/agent/"
    set_cookie = response.headers.getall("Set-Cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("carebot_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
    assert "Path=/" in session_cookie and "Secure" not in session_cookie
    assert cookie(gateway, "carebot_session")

    me = await gateway.get("/api/v1/me")  # a safe request needs no CSRF token
    assert me.status == 200 and (await me.json())["username"] == "owner"
    for headers in ({}, {"X-CSRF-Token": "wrong"}):
        response = await gateway.post(claim_url, headers=headers)
        assert response.status == 403 and (await response.json())["error"] == "csrf_failed"

    session = await gateway.app[PIPELINE].desk.agents.resolve_token(
        cookie(gateway, "carebot_session") or ""
    )
    assert session is not None and session.csrf_token
    response = await gateway.post(claim_url, headers={"X-CSRF-Token": session.csrf_token})
    assert response.status == 200

    response = await gateway.post("/agent/logout", headers={"X-CSRF-Token": "wrong"})
    assert response.status == 403
    response = await gateway.post("/agent/logout", headers={"X-CSRF-Token": session.csrf_token})
    assert response.status == 204
    gateway.session.cookie_jar.update_cookies(
        {"carebot_session": session_cookie.split(";")[0][16:]}
    )
    assert (await gateway.get("/api/v1/me")).status == 401  # revoked on the server
    await customer.close()


async def test_login_needs_the_form_csrf_and_right_password(gateway: TestClient) -> None:
    await add_agent(gateway, "owner")
    response = await gateway.post(
        "/agent/login",
        data={"username": "owner", "password": PASSWORD, "csrf": "no-cookie"},
        headers={"Accept": "text/html"},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"].endswith("error=csrf")
    response = await login(gateway, "owner", "wrong password")
    assert response.status == 303 and response.headers["Location"].endswith("error=failed")
    assert cookie(gateway, "carebot_session") is None
    response = await gateway.post(
        "/agent/login",
        data={"username": "owner", "password": PASSWORD, "csrf": "login-csrf-value"},
        allow_redirects=False,
    )
    assert response.status == 200 and (await response.json())["csrf_token"]


async def test_failed_logins_are_limited_per_address(gateway: TestClient) -> None:
    await add_agent(gateway, "owner")
    statuses = []
    for _ in range(11):
        response = await gateway.post(
            "/api/v1/auth/token", json={"username": "owner", "password": "guess"}
        )
        statuses.append(response.status)
    assert statuses == [401] * 10 + [429]
    assert (await response.json())["error"] == "rate_limited"
    # Even the right password waits now.
    response = await gateway.post(
        "/api/v1/auth/token", json={"username": "owner", "password": PASSWORD}
    )
    assert response.status == 429


async def test_a_token_from_username_and_password(gateway: TestClient) -> None:
    await add_agent(gateway, "owner", languages=["it"])
    response = await gateway.post(
        "/api/v1/auth/token", json={"username": "Owner", "password": PASSWORD}
    )
    assert response.status == 201
    body = await response.json()
    assert body["agent"]["username"] == "owner" and body["agent"]["languages"] == ["it"]
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert (await gateway.get("/api/v1/me", headers=headers)).status == 200
    assert (await gateway.delete("/api/v1/auth/token", headers=headers)).status == 204
    assert (await gateway.get("/api/v1/me", headers=headers)).status == 401


# ---------------------------------------------------------------------------------- bad input


async def test_malformed_input_gets_a_4xx_json_error_never_a_500(gateway: TestClient) -> None:
    owner = await add_agent(gateway, "owner")
    customer = await customer_asking_for_a_person(gateway)
    [waiting] = await wait_for_queue(gateway, owner, 1)
    base = f"/api/v1/conversations/{waiting['id']}"
    await gateway.post(f"{base}/claim", headers=owner.headers)
    json_headers = {**owner.headers, "Content-Type": "application/json"}
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", f"{base}/messages", {"data": b"{not json"}, 400, "invalid_request"),
        ("POST", f"{base}/messages", {"data": b"\xff\xfe"}, 400, "invalid_request"),
        ("POST", f"{base}/messages", {"data": b"[1, 2]"}, 400, "invalid_request"),
        ("POST", f"{base}/messages", {"data": b'{"text": 5}'}, 400, "invalid_request"),
        ("POST", f"{base}/messages", {"data": b"{}"}, 400, "invalid_request"),
        ("POST", f"{base}/messages", {"data": b'{"text": "   "}'}, 400, "invalid_request"),
        (
            "POST",
            f"{base}/messages",
            {"data": b'{"canned_reply_id": true}'},
            400,
            "invalid_request",
        ),
        ("POST", f"{base}/transfer", {"data": b'{"agent_id": "x"}'}, 400, "invalid_request"),
        ("POST", f"{base}/transfer", {"data": b"{}"}, 400, "invalid_request"),
        ("PUT", "/api/v1/me/status", {"data": b'{"status": "gone"}'}, 400, "invalid_request"),
        ("GET", f"{base}/messages?limit=abc", {}, 400, "invalid_request"),
        ("GET", "/api/v1/conversations?state=nope", {}, 400, "invalid_request"),
        ("GET", "/api/v1/conversations/abc", {}, 404, "not_found"),
        ("GET", "/api/v1/conversations/999999", {}, 404, "not_found"),
        ("POST", f"{base}/messages", {"data": b"x" * (300 * 1024)}, 413, "too_large"),
    ]
    for method, url, kwargs, status, code in cases:
        response = await gateway.request(method, url, headers=json_headers, **kwargs)
        assert response.status == status, f"{method} {url} {kwargs}: {await response.text()}"
        assert (await response.json())["error"] == code, f"{method} {url} {kwargs}"
    response = await gateway.post(
        f"{base}/messages", data="text=hi", headers={**owner.headers, "Content-Type": "text/plain"}
    )
    assert response.status == 415 and (await response.json())["error"] == "unsupported_media_type"
    await customer.close()


# ---------------------------------------------------------------------------------- openapi


async def test_openapi_describes_every_api_route(gateway: TestClient) -> None:
    response = await gateway.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")

    served = {
        (route.method, re.sub(r"\{(\w+)\}", r"{\1}", route.resource.canonical))
        for route in gateway.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method != "HEAD"
    }
    described = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert served <= described, served - described
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if "$ref" in node else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
