"""The console's pages without a browser: login, the shell, languages, escaping, headers."""

from __future__ import annotations

import json
import re

import pytest
from aiohttp.test_utils import TestClient

from bot.web.app import PIPELINE
from handoff.web.console_text import EN, IT, TEXTS, choose_language
from tests.fixtures.doubles import RecordedNlu
from tests.fixtures.gateway import gateway_client, settings_for

pytestmark = pytest.mark.timeout(60)

PASSWORD = "correct horse battery"


async def log_in(client: TestClient, username: str, display_name: str) -> None:
    await client.app[PIPELINE].desk.agents.add_agent(
        username, PASSWORD, display_name=display_name, languages=["it", "en"]
    )
    page = await client.get("/agent/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert csrf is not None
    response = await client.post(
        "/agent/login",
        data={"username": username, "password": PASSWORD, "csrf": csrf.group(1)},
        headers={"Accept": "text/html"},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/agent/"


def test_every_language_has_every_string() -> None:
    assert EN.keys() == IT.keys()
    assert all(value.strip() for texts in TEXTS.values() for value in texts.values())


@pytest.mark.parametrize(
    ("query", "cookie", "header", "expected"),
    [
        (None, None, "it-IT,it;q=0.9,en;q=0.8", "it"),
        (None, None, "de-DE, en;q=0.5, it;q=0.7", "it"),
        (None, None, "fr", "en"),
        (None, None, "", "en"),
        (None, "it", "en", "it"),
        ("en", "it", "it", "en"),
        ("xx", None, "it", "it"),
    ],
)
def test_the_interface_language(
    query: str | None, cookie: str | None, header: str, expected: str
) -> None:
    assert choose_language(query, cookie, header) == expected


async def test_the_console_sends_strangers_to_the_login_page(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        response = await client.get("/agent/", allow_redirects=False)
        assert response.status == 302 and response.headers["Location"] == "/agent/login"
        login = await client.get("/agent/login", headers={"Accept-Language": "it-IT,it"})
        page = await login.text()
        assert 'lang="it"' in page and IT["sign_in"] in page
        assert "carebot_login_csrf" in login.cookies
        assert "script-src 'self'" in login.headers["Content-Security-Policy"]
        failed = await client.get("/agent/login?error=failed&lang=en")
        assert EN["login_failed"] in await failed.text()
        assert (await client.get("/agent", allow_redirects=False)).status == 302


async def test_a_logged_in_agent_gets_the_console_with_its_csrf_token(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        await log_in(client, "mallory", '<img src=x onerror="alert(1)"> Mallory')
        response = await client.get("/agent/?lang=it")
        assert response.status == 200
        page = await response.text()
        assert re.search(r'<meta name="csrf-token" content="[^"]{20,}">', page)
        # The display name is escaped in the HTML and in the JSON data block.
        assert "<img src=x" not in page
        me = re.search(r'<script type="application/json" id="console-me">(.*?)</script>', page)
        assert me is not None
        assert json.loads(me.group(1))["display_name"].startswith("<img")
        assert IT["queue"] in page
        assert response.cookies["carebot_lang"].value == "it"
        # The language choice sticks.
        assert IT["queue"] in await (await client.get("/agent/")).text()
        # Already logged in: the login page sends the agent on.
        again = await client.get("/agent/login", allow_redirects=False)
        assert again.status == 302


async def test_static_assets_are_served(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        script = await client.get("/agent/static/console.js")
        assert script.status == 200
        assert "javascript" in script.headers["Content-Type"]
        body = await script.text()
        # The DOM is built with textContent only.
        assert ".innerHTML" not in body and "insertAdjacentHTML" not in body
        assert (await client.get("/agent/static/console.css")).status == 200
        assert (await client.get("/agent/static/../console.py")).status in (403, 404)
