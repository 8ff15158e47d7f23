"""The console in real headless Chromium (Debian's ``chromium``, driven by Playwright).

One agent's whole shift in miniature: log in, see a web chat customer's handoff appear live,
claim it, answer with a canned reply, see the customer's next message arrive without a reload,
resolve. A screenshot of the console is saved to ``var/artifacts/console.png``.

``make setup`` installs chromium; these tests are skipped only when it truly is absent.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bot.web.app import PIPELINE
from tests.fixtures.doubles import RecordedNlu
from tests.fixtures.gateway import ROOT, ChatCustomer, gateway_client, settings_for

CHROMIUM = os.environ.get("CAREBOT_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "var" / "artifacts"
PASSWORD = "correct horse battery"


def _chromium_path() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        _chromium_path() is None,
        reason=f"no chromium at {CHROMIUM}: run `make setup` (apt-get install -y chromium)",
    ),
]
expect = playwright_api.expect


@pytest.fixture
async def browser() -> AsyncIterator[playwright_api.Browser]:
    executable = _chromium_path()
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # As root (CI containers) Chromium's sandbox cannot start; nothing untrusted is browsed.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def console_page(
    browser: playwright_api.Browser, client: TestClient, language: str = "en-GB"
) -> playwright_api.Page:
    context = await browser.new_context(
        base_url=str(client.make_url("")).rstrip("/"),
        locale=language,
        viewport={"width": 1360, "height": 820},
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    page.on("console", lambda message: print(f"[browser {message.type}] {message.text}"))
    return page


async def log_in(page: playwright_api.Page, username: str) -> None:
    await page.goto("/agent/")
    await expect(page).to_have_url(page.url.split("/agent")[0] + "/agent/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("body[data-ready=true]")).to_be_attached()


async def test_an_agent_handles_a_handoff_live(
    sqlite_url: str, browser: playwright_api.Browser
) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        desk = client.app[PIPELINE].desk
        alice = await desk.agents.add_agent(
            "alice", PASSWORD, display_name="Alice", languages=["en", "it"]
        )
        await desk.agents.add_canned_reply(
            shortcut="thanks",
            title="Thanks, on it",
            text="Thanks {name}, I am {agent} and I am looking into it now.",
            language=None,
            created_by=alice.id,
        )
        page = await console_page(browser, client)
        await log_in(page, "alice")
        await expect(page).to_have_title("carebot")
        await expect(page.get_by_text("Nobody is waiting. Nice.")).to_be_visible()
        await expect(page.locator("#live-state")).to_have_text("live")

        # A web chat customer asks for a person: the queue shows it without a reload.
        customer = await ChatCustomer(client).start()
        await customer.say("/human")
        row = page.locator("#list .row")
        await expect(row).to_have_count(1)
        await expect(row.locator(".wait")).to_contain_text("waiting")
        await expect(page).to_have_title("(1) carebot")

        await row.get_by_role("button", name="Claim").click()
        await expect(page.locator(".conv-header .state")).to_have_text("with an agent")
        await expect(page).to_have_title("carebot")
        await expect(page.locator(".message.in").first).to_contain_text("/human")

        # A canned reply picked by its shortcut, placeholders filled, sent with Enter.
        composer = page.get_by_label("Reply to the customer")
        await composer.fill("/tha")
        await expect(page.get_by_role("option", name="/thanks Thanks, on it")).to_be_visible()
        await composer.press("Enter")
        await expect(composer).to_have_value("Thanks , I am Alice and I am looking into it now.")
        await composer.press("Enter")
        agent_message = page.locator(".message.author-agent")
        await expect(agent_message).to_contain_text("I am Alice")
        await expect(agent_message.locator(".status")).to_have_text("sent")
        reply = await _reply_containing(customer, "I am Alice")
        assert str(reply["text"]).endswith("Thanks , I am Alice and I am looking into it now.")

        # The customer's next message appears within a second, as text (never as HTML).
        await customer.say("<b>still</b> there?")
        await expect(page.locator(".message.in .text").last).to_have_text(
            "<b>still</b> there?", timeout=1_000
        )

        # A private note is shown apart and never sent.
        await page.get_by_label("Private note").check()
        await composer.fill("Customer sounds worried")
        await composer.press("Enter")
        await expect(page.locator(".message.note")).to_contain_text("Customer sounds worried")

        # The profile names the channel.
        await expect(page.locator("#profile")).to_contain_text("web")

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)

        await page.get_by_role("button", name="Resolve").click()
        await expect(page.locator("#toast")).to_contain_text("Resolved")
        state = page.locator(".conv-header .state")
        await expect(state).to_have_text(re.compile("closed|with the bot"))
        feedback = await _next_reply(customer)
        assert feedback["kind"] in ("notice", "reply")
        await customer.close()


async def test_the_console_speaks_italian(sqlite_url: str, browser: playwright_api.Browser) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        await client.app[PIPELINE].desk.agents.add_agent("bianca", PASSWORD, languages=["it"])
        page = await console_page(browser, client, language="it-IT")
        await page.goto("/agent/login")
        await page.get_by_label("Nome utente").fill("bianca")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Accedi").click()
        await expect(page.locator("body[data-ready=true]")).to_be_attached()
        await expect(page.get_by_text("Nessuno in attesa.")).to_be_visible()
        await page.get_by_role("link", name="English").click()
        await expect(page.get_by_text("Nobody is waiting. Nice.")).to_be_visible()


async def _next_reply(customer: ChatCustomer) -> dict[str, object]:
    return await asyncio.wait_for(customer.next_reply(), 10)


async def _reply_containing(customer: ChatCustomer, text: str) -> dict[str, object]:
    while True:
        reply = await _next_reply(customer)
        if text in str(reply.get("text")):
            return reply
