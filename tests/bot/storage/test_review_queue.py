"""The review queue (bot.storage.review_queue) and ``carebot nlu export-review``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.feedback_rules import ReviewReason
from bot.messages import NluResult
from bot.storage.conversation_store import SqlConversationStore
from bot.storage.database import Database
from bot.storage.review_queue import ReviewDecisionError, SqlReviewQueue
from tests.bot.storage.test_conversation_store import inbound, next_pending, outcome

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)


async def fallback(store: SqlConversationStore, message_id: str, text: str) -> None:
    accepted = await store.accept(inbound(message_id, text=text, sender=message_id))
    assert accepted is not None
    nlu = NluResult(text, "faq", 0.3, "faq/shipping_cost", 0.2)
    await store.complete(
        await next_pending(store, accepted.conversation_id),
        outcome("Could you rephrase?", nlu=nlu, review_reason=ReviewReason.FALLBACK),
    )


async def test_items_are_listed_marked_and_exported_as_rasa_nlu(database: Database) -> None:
    store = SqlConversationStore(database)
    for n, text in enumerate(["spedite in Svizzera?", "do you ship to Norway?", "gift wrap?"]):
        await fallback(store, f"m{n}", text)
    queue = SqlReviewQueue(database)

    items = await queue.items(status="open")
    assert [i.text for i in items] == [
        "gift wrap?",
        "do you ship to Norway?",
        "spedite in Svizzera?",
    ]
    assert items[0].reason == "fallback" and items[0].faq_confidence == 0.2
    swiss, norway, gift = reversed(items)
    await queue.mark(swiss.id, status="added", target_faq="faq/shipping_countries", agent_id=1)
    await queue.mark(norway.id, status="added", target_faq="faq/shipping_countries", agent_id=1)
    await queue.mark(gift.id, status="added", target_faq="new", agent_id=None)
    with pytest.raises(ReviewDecisionError):
        await queue.mark(gift.id, status="added", target_faq="gift", agent_id=None)
    assert await queue.mark(999, status="dismissed", target_faq=None, agent_id=None) is None

    from nlu.review_export import PLACEHOLDER, review_nlu_yaml

    parsed = yaml.safe_load(review_nlu_yaml(reversed(await queue.items(status="added"))))
    assert parsed["version"] == "3.1"
    blocks = {b["intent"]: b["examples"] for b in parsed["nlu"]}
    assert blocks["faq/shipping_countries"] == "- spedite in Svizzera?\n- do you ship to Norway?\n"
    assert blocks[PLACEHOLDER] == "- gift wrap?\n"


def test_export_review_command_writes_a_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'carebot.db'}"

    async def prepare() -> None:
        from bot.storage.database import upgrade

        await upgrade(url)
        database = Database.connect(url)
        try:
            await fallback(SqlConversationStore(database), "m1", "posso pagare in contanti?")
            queue = SqlReviewQueue(database)
            (item,) = await queue.items()
            await queue.mark(item.id, status="added", target_faq="faq/payment_methods", agent_id=1)
        finally:
            await database.dispose()

    asyncio.run(prepare())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")}
    env["CAREBOT_DATABASE_URL"] = url
    output = tmp_path / "nlu.yml"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "carebot"),
            "nlu",
            "export-review",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed = yaml.safe_load(output.read_text(encoding="utf-8"))
    assert parsed["nlu"] == [
        {"intent": "faq/payment_methods", "examples": "- posso pagare in contanti?\n"}
    ]
