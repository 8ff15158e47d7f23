"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import pytest

from tests.fixtures.doubles import RecordedNlu
from tests.fixtures.gateway import gateway_client, settings_for

pytestmark = pytest.mark.timeout(60)


async def test_healthz(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        response = await client.get("/healthz")
        assert response.status == 200


async def test_readyz_names_rasa_when_it_is_down(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu(down=True)) as client:
        response = await client.get("/readyz")
        assert response.status == 503
        body = await response.json()
        assert body["down"] == ["rasa"]
        assert body["checks"]["database"] == "ok"


async def test_readyz_ok_when_everything_answers(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        response = await client.get("/readyz")
        assert response.status == 200
        assert (await response.json())["down"] == []


async def test_readyz_against_a_rasa_url_nobody_listens_on(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url, rasa_url="http://127.0.0.1:9")
    async with gateway_client(settings) as client:
        response = await client.get("/readyz")
        assert response.status == 503
        assert "rasa" in (await response.json())["down"]


async def test_metrics_exposition(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
        assert "carebot_messages_received_total" in text


async def test_unknown_path_is_a_json_404(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        response = await client.get("/nope")
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"
