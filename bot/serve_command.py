"""``carebot serve``: run the gateway, optionally with its Rasa server (``make run``).

With ``--with-rasa`` the Rasa server is a child process started before the gateway and stopped after
it, so one Ctrl-C stops both cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from bot.nlu_commands import rasa_port, train_model
from bot.settings import Behaviour, Settings
from bot.web.app import create_app
from nlu.rasa_server import RasaServer

log = logging.getLogger(__name__)


GIL_SWITCH_INTERVAL_S = 0.001


# Young collections every 10,000 allocations instead of 700, and the oldest generation rarely.
GC_THRESHOLDS = (10_000, 20, 100)


def _tune_garbage_collector() -> None:
    """Keep the garbage collector's pauses out of the webhooks' ack times.

    Everything loaded at start (SQLAlchemy, python-telegram-bot, twilio, pydantic models, the
    language model) lives for the whole process, yet every full collection walked all of it:
    under bench/webhooks.py, full collections paused the event loop for 100 to 300 ms, which was the
    ack p99. ``gc.freeze()`` moves what exists after start-up out of the collector's sight, and
    larger thresholds make collections rarer (each young one is still short: it only sees objects
    made since the last). Reference counting frees almost everything anyway; the collector is only
    for cycles.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve(settings: Settings, behaviour: Behaviour, *, with_rasa: bool) -> int:
    model = train_model(settings) if with_rasa else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings, behaviour, model))
    return 0


async def _serve(settings: Settings, behaviour: Behaviour, model: Path | None) -> None:
    # The SQLite writer thread gives up the GIL on every call into SQLite and must win it back from
    # the event loop each time; with the default 5 ms switch interval a busy loop made it wait up
    # to that long per statement (the "convoy effect"), which is what a webhook's ack waited for.
    # Measured with bench/webhooks.py at 550/s: ack p50 15 ms at 5 ms, 6 ms at 1 ms.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        if model is not None:
            print(
                f"starting Rasa on port {rasa_port(settings)} (takes about 30 s)…", file=sys.stderr
            )
            await stack.enter_async_context(
                RasaServer(model, settings.rasa_venv.absolute(), port=rasa_port(settings))
            )
        runner = web.AppRunner(create_app(settings, behaviour), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        _tune_garbage_collector()
        print(
            f"carebot is running: web chat http://{settings.host}:{settings.port}/chat "
            "(Ctrl-C to stop)",
            file=sys.stderr,
        )
        await stop.wait()
        print("stopping…", file=sys.stderr)
