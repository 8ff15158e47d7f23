"""Whole-path scenarios against the real Rasa server trained from the project's data.

webhook (web chat) → stored inbound message → engine → Rasa → stored reply → sender → stream.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.storage.database import Database
from bot.storage.models import Conversation, Handoff
from tests.fakes.stalled_rasa import stalled_rasa
from tests.fixtures.gateway import (
    ROOT,
    SHIPPED_BEHAVIOUR,
    SHIPPED_FAQS,
    ChatCustomer,
    gateway_client,
    settings_for,
)

pytestmark = [pytest.mark.rasa, pytest.mark.timeout(300)]

BEHAVIOUR = SHIPPED_BEHAVIOUR
CATALOG = SHIPPED_FAQS


async def test_shipping_question_in_italian_and_english(rasa_url: str, sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url, rasa_url=rasa_url)) as client:
        italian = await ChatCustomer(client).start()
        english = await ChatCustomer(client).start()
        await italian.say("Quanto costa la spedizione?")
        await english.say("How much is shipping?")
        it_reply = await asyncio.wait_for(italian.next_reply(), 30)
        en_reply = await asyncio.wait_for(english.next_reply(), 30)
        assert it_reply["text"] == CATALOG.answer("faq/shipping_cost", "it")
        assert en_reply["text"] == CATALOG.answer("faq/shipping_cost", "en")
        await italian.close()
        await english.close()


@pytest.mark.parametrize("question", ["what's the weather", "chi ha vinto la partita"])
async def test_out_of_scope_gets_no_faq_answer(
    rasa_url: str, sqlite_url: str, question: str
) -> None:
    faq_keys = CATALOG.keys()
    faq_answers = {CATALOG.answer(key, lang) for key in faq_keys for lang in ("it", "en")}
    async with gateway_client(settings_for(sqlite_url, rasa_url=rasa_url)) as client:
        customer = await ChatCustomer(client).start()
        await customer.say(question)
        reply = await asyncio.wait_for(customer.next_reply(), 30)
        assert reply["text"] not in faq_answers
        assert reply["text"] in {
            BEHAVIOUR.text(key, lang)
            for key in ("rephrase", "out_of_scope")
            for lang in ("it", "en")
        }
        await customer.close()


async def test_second_fallback_offers_a_person_and_yes_hands_off(
    rasa_url: str, sqlite_url: str
) -> None:
    async with gateway_client(settings_for(sqlite_url, rasa_url=rasa_url)) as client:
        customer = await ChatCustomer(client).start()
        await customer.say("what's the weather like in Paris tomorrow?")
        first = await asyncio.wait_for(customer.next_reply(), 30)
        assert first["choices"] == []
        await customer.say("who won the football match yesterday?")
        offer = await asyncio.wait_for(customer.next_reply(), 30)
        assert [c["payload"] for c in offer["choices"]] == ["handoff:yes", "handoff:no"]
        await customer.say("1")
        notice = await asyncio.wait_for(customer.next_reply(), 30)
        assert notice["kind"] == "notice"
        assert notice["text"] == BEHAVIOUR.text("handoff_requested", "en")
        # While waiting for a person the bot stays silent.
        await customer.say("How much is shipping?")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(customer.next_reply(), 2)
        await customer.close()
    database = Database.connect(sqlite_url)
    async with database.read() as session:
        state = await session.scalar(select(Conversation.state))
        reason = await session.scalar(select(Handoff.reason))
    await database.dispose()
    assert state == "waiting"
    assert reason == "fallback"


async def test_rasa_too_slow_gives_a_holding_message_and_hands_off(sqlite_url: str) -> None:
    """A Rasa that never answers in time: holding message, handoff, nothing lost."""
    behaviour = BEHAVIOUR.model_copy(
        update={
            "nlu": BEHAVIOUR.nlu.model_copy(
                update={"timeout": timedelta(milliseconds=500), "retries": 0}
            )
        }
    )
    async with (
        stalled_rasa() as rasa,
        gateway_client(settings_for(sqlite_url, rasa_url=rasa), behaviour) as client,
    ):
        customer = await ChatCustomer(client).start()
        await customer.say("Dov'è il mio ordine?")
        reply = await asyncio.wait_for(customer.next_reply(), 30)
        assert reply["text"] == BEHAVIOUR.text("nlu_unavailable", "it")
        # The gateway keeps accepting messages meanwhile.
        second = await customer.say("ci siete?")
        assert second["accepted"] is True
        await customer.close()


async def test_shell_answers_in_both_languages(rasa_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")}
    env.update(
        CAREBOT_RASA_URL=rasa_url,
        CAREBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'shell.db'}",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "shell",
        "--user",
        "tester",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(
        process.communicate(b"Quanto costa la spedizione?\nHow much is shipping?\n"), 120
    )
    output = stdout.decode()
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert CATALOG.answer("faq/shipping_cost", "it").splitlines()[0] in output  # type: ignore[union-attr]
    assert CATALOG.answer("faq/shipping_cost", "en").splitlines()[0] in output  # type: ignore[union-attr]


def test_every_faq_in_the_data_has_answers_in_every_language() -> None:
    keys: set[str] = set()
    for path in (ROOT / "nlu" / "data").glob("*/*.yml"):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            if block.get("intent", "").startswith("faq/"):
                keys.add(block["intent"])
    assert len(keys) >= 25
    assert keys == set(CATALOG.keys())
