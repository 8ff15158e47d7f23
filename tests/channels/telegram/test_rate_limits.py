"""Telegram's flood limits as the fake sees them: one message per second and chat."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from channels.telegram.output import TelegramOutput
from channels.telegram.rate_limits import ChatPacer
from tests.fakes.telegram_bot_api import TOKEN, FakeTelegram

pytestmark = pytest.mark.timeout(60)


def arrivals(fake: FakeTelegram) -> list[float]:
    return sorted(call.at for call in fake.calls_to("sendMessage"))


async def test_one_chat_gets_at_most_one_message_per_second(fake: FakeTelegram) -> None:
    output = TelegramOutput(TOKEN, api_url=fake.api_url)  # the production interval of 1 s
    try:
        await asyncio.gather(*(output.send_text("1001", f"part {n}") for n in range(3)))
        times = arrivals(fake)
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert len(times) == 3 and all(gap >= 0.99 for gap in gaps), gaps
        assert times[-1] - times[0] >= 2.0

        fake.calls.clear()
        await asyncio.gather(*(output.send_text(str(2001 + n), "hello") for n in range(3)))
        times = arrivals(fake)
        assert len(times) == 3 and times[-1] - times[0] < 0.5
    finally:
        await output.close()


async def test_a_429_holds_that_chat_for_the_wait_telegram_asked_for() -> None:
    pacer = ChatPacer(interval=0.0)
    loop = asyncio.get_running_loop()
    pacer.hold("1", 0.3)
    started = loop.time()
    async with pacer.turn("2"):
        assert loop.time() - started < 0.1  # other chats do not wait
    async with pacer.turn("1"):
        assert loop.time() - started >= 0.29
