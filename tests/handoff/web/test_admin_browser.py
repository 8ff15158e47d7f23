"""The dashboard and the review queue in real headless Chromium (same set-up as the console's).

An admin opens the dashboard over the report tests' hand-computed conversation set: the tiles hold
the summary API's figures, the four charts are drawn as SVG with data; a screenshot is saved to
``var/artifacts/dashboard.png``. A second test answers ``/api/v1/reports/*`` from fixtures to pin
every tile's text, every chart's points, the FAQ table and the CSV export. On the review page the
admin adds a question the pipeline put in the review queue to an FAQ through the real
``/api/v1/review``, screenshot ``var/artifacts/review.png``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.storage.review_queue import SqlReviewQueue
from bot.web.app import PIPELINE
from tests.bot.reports.conversation_set import load_conversation_set, whole_seconds_now
from tests.fixtures.doubles import RecordedNlu, faq
from tests.fixtures.gateway import ChatCustomer, gateway_client, settings_for
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
    "period": SUMMARY["period"],
    "bucket": "day",
    "channels": ["telegram", "web"],
    "buckets": [
        {
            "start": f"2026-11-0{day}T00:00:00Z",
            "turns": 4 + day,
            "answered_turns": 3 + day,
            "response_rate": round((3 + day) / (4 + day), 4),
            "response_time_p50_s": 1.0 + day,
            "response_time_p90_s": 10.0 + 3 * day,
            "handoffs": day % 3,
            "csat": None if day == 4 else 0.5 + day / 20,
            "ratings": 0 if day == 4 else 2,
            "turns_by_channel": {"web": 2 + day, "telegram": 2},
        }
        for day in range(1, 8)
    ],
}
FAQS = {
    "period": SUMMARY["period"],
    "faqs": [
        {"faq": "faq/<img src=x>", "asked": 9, "ratings": 4, "csat": 0.25, "helpful": 0.4},
        {"faq": "faq/order_status", "asked": 12, "ratings": 5, "csat": 0.8, "helpful": None},
    ],
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


async def test_the_dashboard_draws_every_figure(
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

        # Worst FAQ first; a key is text, never markup; known keys show the catalog's title.
        rows = page.locator(".faq-table tbody tr")
        await expect(rows.first.locator("th")).to_contain_text("faq/<img src=x>")
        await expect(rows.first.locator("td.bad")).to_have_text(["25%", "40%"])
        await expect(rows.nth(1).locator("th")).to_contain_text("Order status and tracking")

        # CSV export: a download built from the same JSON.
        async with page.expect_download() as download_info:
            await page.get_by_role("button", name="Export CSV").click()
        download = await download_info.value
        text = (await download.path()).read_text("utf-8")
        assert (
            "response_rate,0.925" in text and "faq/order_status,Order status and tracking" in text
        )
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


async def test_the_dashboard_shows_the_summary_api_figures(
    sqlite_url: str,
    browser: playwright_api.Browser,  # noqa: F811 - the fixture
) -> None:
    """Real figures: the hand-computed conversation set of the report tests, through the API."""
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        pipeline = client.app[PIPELINE]
        await load_conversation_set(pipeline.database, whole_seconds_now())
        await pipeline.desk.agents.add_agent(
            "root", PASSWORD, display_name="Root", languages=["en"], is_admin=True
        )
        page = await console_page(browser, client)
        await log_in(page, "root")
        async with page.expect_response(lambda r: "/api/v1/reports/summary" in r.url) as info:
            await page.goto("/agent/dashboard")
        response = await info.value
        assert response.status == 200
        summary = await response.json()
        await expect(page.locator("body[data-ready=true]")).to_be_attached()
        assert summary["turns"] > 0 and summary["ratings"] > 0

        # Every tile holds the API's number.
        for metric in ("response_rate", "containment_rate", "csat", "handoffs", "feedback_count"):
            value = page.locator(f"[data-metric={metric}] .value")
            await expect(value).to_have_attribute("data-value", _js_number(summary[metric]))
        await expect(page.locator("[data-metric=response_rate] .value")).to_have_text(
            f"{_percent(summary['response_rate'])}"
        )
        await expect(page.locator("[data-metric=handoffs] .value")).to_have_text(
            str(summary["handoffs"])
        )
        times = page.locator("[data-metric=response_time_s]")
        for who in ("bot", "agent", "all"):
            for p in ("p50", "p90"):
                expected = summary["response_time_s"][who][p]
                await expect(times.locator(f"tr[data-responder={who}] td.{p}")).to_have_attribute(
                    "data-value", "" if expected is None else _js_number(expected)
                )
        first = summary["first_response_time_s"]["all"]["p50"]
        await expect(page.locator("[data-metric=first_response_time_s] .value")).to_have_attribute(
            "data-value", _js_number(first)
        )

        # The charts are drawn from the time series, with data.
        await expect(page.locator("figure.chart-card")).to_have_count(4)
        for chart in ("response_time", "response_rate", "csat"):
            points = page.locator(f"[data-chart={chart}] circle.point")
            await expect(points.first).to_be_attached()
        await expect(page.locator("[data-chart=volume] rect.bar").first).to_be_attached()
        await expect(page.locator("[data-chart=volume] .legend")).to_contain_text("telegram")
        await expect(page.locator(".faq-table tbody tr").first).to_be_attached()

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # An agent who is not an admin is refused by the page and by the API.
        await pipeline.desk.agents.add_agent("agnes", PASSWORD, languages=["en"])
        other = await console_page(browser, client)
        await log_in(other, "agnes")
        await expect(other.locator("#tab-dashboard")).to_have_count(0)
        refused = await other.goto("/agent/dashboard")
        assert refused is not None and refused.status == 403
        api = await other.request.get("/api/v1/reports/summary")
        assert api.status == 403


def _percent(share: float) -> str:
    text = f"{share * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


REVIEWED = "where is my <b>parcel</b>??"


async def test_an_admin_adds_a_question_to_an_faq(
    sqlite_url: str,
    browser: playwright_api.Browser,  # noqa: F811 - the fixture
) -> None:
    """Over the real ``/api/v1/review``: a question the bot was unsure of (a fallback with the
    NLU's guess) is written by the pipeline, listed on the page and added to another FAQ."""
    nlu = RecordedNlu({REVIEWED: faq(REVIEWED, "faq/shipping_cost", 0.38)})
    async with gateway_client(settings_for(sqlite_url), nlu=nlu) as client:
        pipeline = client.app[PIPELINE]
        root = await pipeline.desk.agents.add_agent(
            "root", PASSWORD, display_name="Root", languages=["en"], is_admin=True
        )
        customer = await ChatCustomer(client).start()
        await customer.say(REVIEWED)
        await customer.next_reply()
        await customer.close()
        [item] = await SqlReviewQueue(pipeline.database).items()
        page = await console_page(browser, client)
        await log_in(page, "root")
        async with page.expect_response(lambda r: "/api/v1/review?" in r.url) as listing:
            await page.get_by_role("link", name="Review").click()
        assert (await listing.value).status == 200
        assert "status=open" in (await listing.value).url
        await expect(page.locator("body[data-ready=true]")).to_be_attached()
        row = page.locator(f"tr[data-item='{item.id}']")
        await expect(row.locator(".question")).to_have_text(REVIEWED)
        await expect(row).to_contain_text("not understood")
        await expect(row.locator(".guess")).to_contain_text("faq/shipping_cost")
        await expect(row.locator(".guess")).to_contain_text("38% confident")
        await expect(row.locator(".status-open")).to_have_text("to review")

        # The guess is preselected; the admin picks another FAQ and adds the question to it.
        pick = row.get_by_label("FAQ to add it to")
        await expect(pick).to_have_value("faq/shipping_cost")
        await pick.select_option("faq/order_status")
        async with page.expect_request(lambda r: r.method == "POST") as posted:
            await row.get_by_role("button", name="Add to FAQ").click()
        request = await posted.value
        assert request.post_data_json == {"status": "added", "target_faq": "faq/order_status"}
        assert request.headers.get("x-csrf-token")
        await expect(row.locator(".state")).to_have_text("added to an FAQ")
        await expect(page.locator("#toast")).to_contain_text("Marked: added to an FAQ")
        await expect(row.get_by_role("button", name="Dismiss")).to_have_count(0)
        [stored] = await SqlReviewQueue(pipeline.database).items()
        assert (stored.status, stored.target_faq, stored.marked_by) == (
            "added",
            "faq/order_status",
            root.id,
        )

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "review.png"), full_page=True)
        # The filters ask the API again: no low-rated answers here.
        async with page.expect_response(lambda r: "reason=low_rating" in r.url) as filtered:
            await page.locator("#reason").select_option("low_rating")
        assert (await filtered.value).status == 200
        await expect(page.locator("#items .empty")).to_be_visible()
