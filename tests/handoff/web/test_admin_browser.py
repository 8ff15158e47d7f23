"""The dashboard and the review queue in real headless Chromium (same set-up as the console's).

An admin opens the dashboard: the tiles show the summary API's figures, the four charts are drawn
as SVG with data, the FAQ table lists the worst FAQ first; a screenshot is saved to
``var/artifacts/dashboard.png``. On the review page the admin adds a question to an FAQ.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.web.app import PIPELINE
from tests.fixtures.doubles import RecordedNlu
from tests.fixtures.gateway import gateway_client, settings_for
from tests.handoff.web.test_console_browser import (
    ARTIFACTS,
    PASSWORD,
    _chromium_path,
    browser,  # noqa: F401 - the fixture
    console_page,
    expect,
    log_in,
    playwright_api,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(120),
    pytest.mark.skipif(_chromium_path() is None, reason="no chromium: run `make setup`"),
]

STATS = {"mean": 4.25, "p50": 1.5, "p90": 12.0}
SUMMARY: dict[str, Any] = {
    "period": {"since": "2026-11-01T00:00:00.000Z", "until": "2026-11-08T00:00:00.000Z"},
    "turns": 40,
    "answered_turns": 37,
    "response_rate": 0.925,
    "response_time_s": {
        "bot": {"mean": 0.8, "p50": 0.6, "p90": 1.4},
        "agent": {"mean": 140.0, "p50": 95.0, "p90": 310.0},
        "all": STATS,
    },
    "first_response_time_s": {"bot": STATS, "agent": STATS, "all": STATS},
    "handoffs": 6,
    "handoff_wait_s": {"mean": 150.0, "p50": 180.0, "p90": 420.0},
    "containment_rate": 0.8125,
    "csat": 0.75,
    "ratings": 12,
    "feedback_count": 14,
}
TIMESERIES = {
    "bucket": "day",
    "buckets": [
        {
            "start": f"2026-11-0{day}T00:00:00.000Z",
            "turns": 4 + day,
            "answered_turns": 3 + day,
            "response_rate": round((3 + day) / (4 + day), 4),
            "response_time_s": {"all": {"p50": 1.0 + day, "p90": 10.0 + 3 * day}},
            "handoffs": day % 3,
            "csat": None if day == 4 else 0.5 + day / 20,
            "turns_by_channel": {"web": 2 + day, "telegram": 2},
        }
        for day in range(1, 8)
    ],
}
FAQS = {
    "faqs": [
        {
            "faq": "faq/returns",
            "title": "Returns <b>and</b> refunds",
            "asked": 9,
            "ratings": 4,
            "csat": 0.25,
        },
        {
            "faq": "faq/shipping_cost",
            "title": "Shipping costs",
            "asked": 12,
            "ratings": 5,
            "csat": 0.8,
        },
    ]
}


async def _serve_reports(page: playwright_api.Page) -> list[str]:
    """Answer the reports API from the fixtures above; returns the URLs asked for."""
    asked: list[str] = []

    async def fulfil(route: playwright_api.Route) -> None:
        url = route.request.url
        asked.append(url)
        body = SUMMARY if "/summary" in url else TIMESERIES if "/timeseries" in url else FAQS
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    await page.route("**/api/v1/reports/**", fulfil)
    return asked


async def test_an_admin_reads_the_dashboard(
    sqlite_url: str,
    browser: playwright_api.Browser,  # noqa: F811 - the fixture
) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        await client.app[PIPELINE].desk.agents.add_agent(
            "root", PASSWORD, display_name="Root", languages=["en"], is_admin=True
        )
        page = await console_page(browser, client)
        asked = await _serve_reports(page)
        await log_in(page, "root")
        await page.get_by_role("link", name="Dashboard").click()
        await expect(page).to_have_title("Dashboard — carebot")
        await expect(page.locator("body[data-ready=true]")).to_be_attached()

        # Tiles: the summary's figures.
        rate = page.locator("[data-metric=response_rate] .value")
        await expect(rate).to_have_text("92.5%")
        await expect(rate).to_have_attribute("data-value", str(SUMMARY["response_rate"]))
        times = page.locator("[data-metric=response_time_s]")
        for who in ("bot", "agent", "all"):
            for p in ("p50", "p90"):
                cell = times.locator(f"tr[data-responder={who}] td.{p}")
                expected = SUMMARY["response_time_s"][who][p]
                await expect(cell).to_have_attribute("data-value", _js_number(expected))
        await expect(times.locator("tr[data-responder=agent] td.p50")).to_have_text("1m 35s")
        await expect(times.locator("tr[data-responder=bot] td.p50")).to_have_text("0.6s")
        for metric, text in (
            ("containment_rate", "81.3%"),
            ("csat", "75%"),
            ("handoffs", "6"),
            ("feedback_count", "14"),
            ("first_response_time_s", "1.5s"),
        ):
            await expect(page.locator(f"[data-metric={metric}] .value")).to_have_text(text)
        await expect(page.locator("[data-metric=handoffs] .sub")).to_contain_text("3m 0s")

        # Charts: four SVGs with data, with titles and a table fallback.
        charts = page.locator("figure.chart-card")
        await expect(charts).to_have_count(4)
        await expect(page.locator("[data-chart=response_time] svg .series")).to_have_count(2)
        await expect(page.locator("[data-chart=response_time] circle.point")).to_have_count(14)
        await expect(page.locator("[data-chart=response_rate] circle.point")).to_have_count(7)
        await expect(page.locator("[data-chart=volume] rect.bar")).to_have_count(14)
        await expect(page.locator("[data-chart=csat] circle.point")).to_have_count(6)
        await expect(page.locator("[data-chart=volume] svg title").first).to_have_text(
            "Volume by channel"
        )
        await expect(page.locator("[data-chart=volume] .legend")).to_contain_text("telegram")
        await expect(page.locator("[data-chart=csat] table tbody tr")).to_have_count(7)

        # Worst FAQ first; its title is text, never markup.
        first = page.locator(".faq-table tbody tr").first
        await expect(first.locator("th")).to_contain_text("Returns <b>and</b> refunds")
        await expect(first.locator("td.bad")).to_have_text("25%")

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # CSV export: a download built from the same JSON.
        async with page.expect_download() as download_info:
            await page.get_by_role("button", name="Export CSV").click()
        download = await download_info.value
        text = (await download.path()).read_text("utf-8")
        assert "response_rate,0.925" in text and "faq/returns" in text
        assert download.suggested_filename == "carebot-report-2026-11-01-2026-11-08.csv"

        # The period picker and the channel filter become query parameters.
        async with page.expect_request(lambda r: "/reports/faqs" in r.url) as request_info:
            await page.locator("#channel").select_option("telegram")
        assert "channel=telegram" in (await request_info.value).url
        async with page.expect_request(lambda r: "/reports/summary" in r.url) as request_info:
            await page.locator("#period").select_option("30d")
        url = (await request_info.value).url
        assert "channel=telegram" in url and "since=" in url and "until=" in url
        assert any("bucket=day" in url for url in asked)


def _js_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
