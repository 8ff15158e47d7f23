"""A real conversation (web chat, real Rasa), then ``carebot report --format json``: its turn is
counted, answered by the bot."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.cli import main
from tests.fixtures.gateway import SHIPPED_FAQS, ChatCustomer, gateway_client, settings_for

pytestmark = [pytest.mark.rasa, pytest.mark.timeout(300)]


async def test_report_counts_a_real_conversation_answered_by_the_bot(
    rasa_url: str,
    sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with gateway_client(settings_for(sqlite_url, rasa_url=rasa_url)) as client:
        customer = await ChatCustomer(client).start()
        await customer.say("How much is shipping?")
        reply = await asyncio.wait_for(customer.next_reply(), 30)
        assert reply["text"] == SHIPPED_FAQS.answer("faq/shipping_cost", "en")
        await customer.close()

    monkeypatch.setenv("CAREBOT_DATABASE_URL", sqlite_url)
    code = await asyncio.to_thread(main, ["report", "--since", "1h", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    figures = json.loads(captured.out)
    assert (figures["turns"], figures["answered_turns"]) == (1, 1)
    assert figures["response_rate"] == 1.0
    bot = figures["response_time_s"]["bot"]
    assert bot["mean"] is not None
    assert 0 <= bot["mean"] < 30
    assert figures["response_time_s"]["agent"]["mean"] is None
    assert figures["first_response_time_s"]["bot"] == bot
    assert [row["channel"] for row in figures["by_channel"]] == ["web"]
