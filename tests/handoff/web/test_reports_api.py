"""``/api/v1/reports/*`` through the gateway: admins get the figures, others 403, bad input 400."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from bot.web.app import PIPELINE
from tests.bot.reports.conversation_set import load_conversation_set, whole_seconds_now
from tests.fixtures.doubles import RecordedNlu
from tests.fixtures.gateway import gateway_client, settings_for

pytestmark = pytest.mark.timeout(120)
ADMIN = {"Authorization": "Bearer admin-token-for-tests-0123456789"}


@pytest.fixture
async def gateway(sqlite_url: str) -> AsyncIterator[TestClient]:
    settings = settings_for(sqlite_url, admin_token=ADMIN["Authorization"].split()[1])
    async with gateway_client(settings, nlu=RecordedNlu()) as client:
        await load_conversation_set(client.app[PIPELINE].desk.database, whole_seconds_now())
        yield client


async def test_the_summary_is_the_report(gateway: TestClient) -> None:
    response = await gateway.get("/api/v1/reports/summary?since=3d", headers=ADMIN)
    assert response.status == 200, await response.text()
    body = await response.json()
    # the hand-computed figures of tests/bot/reports/test_report_figures.py
    assert (body["turns"], body["answered_turns"], body["response_rate"]) == (9, 8, 0.8889)
    assert body["handoff_wait_s"] == {"mean": 390.0, "p50": 390.0, "p90": 558.0}
    assert (body["csat"], body["feedback_count"]) == (0.4286, 8)
    web_only = await (
        await gateway.get("/api/v1/reports/summary?since=3d&channel=web", headers=ADMIN)
    ).json()
    assert web_only["turns"] == 4


async def test_timeseries_and_faqs(gateway: TestClient) -> None:
    response = await gateway.get("/api/v1/reports/timeseries?since=3d&bucket=day", headers=ADMIN)
    assert response.status == 200, await response.text()
    series = await response.json()
    assert sum(b["turns"] for b in series["buckets"]) == 9
    assert sum(b["handoffs"] for b in series["buckets"]) == 2
    assert series["channels"] == ["telegram", "web"]
    faqs = await (await gateway.get("/api/v1/reports/faqs?since=3d", headers=ADMIN)).json()
    # faq/stores: one thumbs down (csat 0) comes before faq/shipping_cost (asked once, thumbs up)
    assert [row["faq"] for row in faqs["faqs"]] == ["faq/stores", "faq/shipping_cost"]
    assert faqs["faqs"][1] == {
        "faq": "faq/shipping_cost",
        "asked": 1,
        "ratings": 1,
        "csat": 1.0,
        "helpful": 1.0,
    }


@pytest.mark.parametrize(
    "query",
    ["since=yesterday", "channel=fax", "since=1d&until=2d", "language=xx", "agent=me"],
)
async def test_bad_parameters_are_400(gateway: TestClient, query: str) -> None:
    response = await gateway.get(f"/api/v1/reports/summary?{query}", headers=ADMIN)
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_request"
    response = await gateway.get("/api/v1/reports/timeseries?bucket=week", headers=ADMIN)
    assert response.status == 400
