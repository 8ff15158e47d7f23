"""Liveness, readiness and Prometheus endpoints for load balancers and monitoring."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import telemetry
from bot.pipeline import Pipeline

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def readyz_handler(
    pipeline_key: web.AppKey[Pipeline],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def readyz(request: web.Request) -> web.Response:
        """200 when the database and Rasa answer, else 503 naming what is down."""
        pipeline = request.app[pipeline_key]
        database, rasa = await asyncio.gather(
            _check(pipeline.database.ping()), _check(pipeline.nlu.ready()), return_exceptions=False
        )
        checks = {"database": database, "rasa": rasa}
        down = sorted(name for name, state in checks.items() if state != "ok")
        body = {"status": "ok" if not down else "unavailable", "checks": checks, "down": down}
        return web.json_response(body, status=200 if not down else 503)

    return readyz


async def _check(awaitable: Awaitable[object]) -> str:
    try:
        result = await asyncio.wait_for(awaitable, CHECK_TIMEOUT)
    except Exception as exc:  # readiness reports any failure, whatever its type
        log.info("readiness check failed: %s", type(exc).__name__)
        return "down"
    return "down" if result is False else "ok"


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(telemetry.REGISTRY)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response
