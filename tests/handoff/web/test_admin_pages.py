"""The dashboard and review pages without a browser: who may open them, headers, escaping."""

from __future__ import annotations

import json
import re

import pytest
from aiohttp.test_utils import TestClient

from bot.web.app import PIPELINE
from handoff.web.console_text import EN, IT
from tests.fixtures.doubles import RecordedNlu
from tests.fixtures.gateway import SHIPPED_FAQS, gateway_client, settings_for

pytestmark = pytest.mark.timeout(60)

PASSWORD = "correct horse battery"
ADMIN_PAGES = ("/agent/dashboard", "/agent/review")
SCRIPTS = ("page_kit.js", "admin_api.js", "charts.js", "dashboard.js", "review.js")


async def log_in(client: TestClient, username: str, display_name: str, *, admin: bool) -> None:
    await client.app[PIPELINE].desk.agents.add_agent(
        username, PASSWORD, display_name=display_name, languages=["it", "en"], is_admin=admin
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


def _data_block(page: str, ident: str) -> object:
    found = re.search(rf'<script type="application/json" id="{ident}">(.*?)</script>', page, re.S)
    assert found is not None, ident
    return json.loads(found.group(1))


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_strangers_are_sent_to_the_login_page(sqlite_url: str, path: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        response = await client.get(path, allow_redirects=False)
        assert response.status == 302 and response.headers["Location"] == "/agent/login"


async def test_an_agent_who_is_not_an_admin_gets_403_and_no_nav_entry(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        await log_in(client, "agnes", "Agnes", admin=False)
        for path in ADMIN_PAGES:
            response = await client.get(f"{path}?lang=it")
            assert response.status == 403
            page = await response.text()
            assert IT["admin_only"] in page and "csrf-token" not in page
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        console = await (await client.get("/agent/")).text()
        assert "/agent/dashboard" not in console and "/agent/review" not in console


async def test_an_admin_gets_the_dashboard_with_a_strict_policy(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        await log_in(client, "root", '<script>alert("x")</script> Root', admin=True)
        console = await (await client.get("/agent/?lang=en")).text()
        assert 'href="/agent/dashboard"' in console and 'href="/agent/review"' in console

        response = await client.get("/agent/dashboard")
        assert response.status == 200
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "unsafe-inline" not in policy and response.headers["Cache-Control"] == "no-store"
        page = await response.text()
        assert '<script>alert("x")' not in page and "&lt;script&gt;" in page
        assert re.search(r'<meta name="csrf-token" content="[^"]{20,}">', page)
        assert EN["dash_title"] in page and EN["dash_export_csv"] in page
        assert 'id="tab-dashboard" class="active" aria-current="page"' in page
        # No inline script or style: everything executable comes from /agent/static/.
        scripts = re.findall(r"<script([^>]*)>", page)
        assert all('type="application/json"' in s or 'src="/agent/static/' in s for s in scripts)
        assert "style=" not in page and "<style" not in page
        texts = _data_block(page, "console-texts")
        assert isinstance(texts, dict) and texts["dash_csat"] == EN["dash_csat"]

        italian = await (await client.get("/agent/dashboard?lang=it")).text()
        assert IT["dash_title"] in italian and 'lang="it"' in italian


async def test_the_review_page_carries_the_faq_catalog(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        await log_in(client, "root", "Root", admin=True)
        response = await client.get("/agent/review?lang=it")
        assert response.status == 200
        page = await response.text()
        assert IT["review_title"] in page
        faqs = _data_block(page, "faq-catalog")
        assert isinstance(faqs, list)
        assert [f["key"] for f in faqs] == SHIPPED_FAQS.keys()
        first = SHIPPED_FAQS.keys()[0]
        assert faqs[0]["title"] == SHIPPED_FAQS.title(first, "it")


async def test_the_admin_scripts_are_served_and_build_the_dom_with_text_only(
    sqlite_url: str,
) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        for name in SCRIPTS:
            script = await client.get(f"/agent/static/{name}")
            assert script.status == 200, name
            assert "javascript" in script.headers["Content-Type"]
            body = await script.text()
            assert ".innerHTML" not in body and "insertAdjacentHTML" not in body, name
            assert "http://" not in body.replace("http://www.w3.org/2000/svg", ""), name
            assert "https://" not in body, name
        assert (await client.get("/agent/static/admin.css")).status == 200
