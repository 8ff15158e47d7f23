"""The FAQ catalog as the web edge sees it: read once, in a thread, when first needed.

The admin pages list its keys and titles (an admin picks the FAQ a question should be added to);
the review API checks a decision's ``target_faq`` against the same keys. The composition root
stores one :class:`FaqSource` under :data:`FAQ_SOURCE`, so both read the same file the pipeline
answers from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from bot.faq_catalog import FaqCatalog


class FaqSource:
    """Loads the catalog on first use (file I/O off the event loop) and keeps it."""

    def __init__(self, load: Callable[[], FaqCatalog]) -> None:
        self._load = load
        self._catalog: FaqCatalog | None = None
        self._lock = asyncio.Lock()

    async def catalog(self) -> FaqCatalog:
        if self._catalog is None:
            async with self._lock:
                if self._catalog is None:
                    self._catalog = await asyncio.to_thread(self._load)
        return self._catalog


FAQ_SOURCE: web.AppKey[FaqSource] = web.AppKey("faq_source", FaqSource)
