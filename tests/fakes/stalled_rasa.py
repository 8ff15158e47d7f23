"""A Rasa that accepts ``/model/parse`` and never answers: the NLU-timeout and crash scenarios."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def stalled_rasa() -> AsyncIterator[str]:
    """Serve a parse endpoint that hangs until the context exits; yields its base URL."""
    release = asyncio.Event()

    async def parse(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        release.set()
        await runner.cleanup()
