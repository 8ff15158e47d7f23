"""The web chat through the whole pipeline (real SQLite, recorded NLU answers)."""

from __future__ import annotations

import asyncio

import pytest

from tests.fixtures.doubles import RecordedNlu, faq
from tests.fixtures.gateway import ChatCustomer, gateway_client, settings_for

pytestmark = pytest.mark.timeout(60)

QUESTION = "How much is shipping?"


async def test_a_question_gets_its_faq_answer_live(sqlite_url: str) -> None:
    nlu = RecordedNlu({QUESTION: faq(QUESTION, "faq/shipping_cost")})
    async with gateway_client(settings_for(sqlite_url), nlu=nlu) as client:
        customer = await ChatCustomer(client).start()
        await customer.say(QUESTION)
        reply = await asyncio.wait_for(customer.next_reply(), 10)
        assert "shipping" in reply["text"].lower()
        assert reply["kind"] == "reply"
        await customer.close()


async def test_history_replays_what_a_customer_missed(sqlite_url: str) -> None:
    nlu = RecordedNlu({QUESTION: faq(QUESTION, "faq/shipping_cost")})
    async with gateway_client(settings_for(sqlite_url), nlu=nlu) as client:
        session = (await (await client.post("/chat/api/sessions")).json())["session"]
        await client.post("/chat/api/messages", json={"session": session, "text": QUESTION})
        # No stream open: the reply is stored; a stream opened later replays it.
        stream = await client.get("/chat/api/stream", params={"session": session})
        line = b""
        while not line.startswith(b"data: "):
            line = await asyncio.wait_for(stream.content.readline(), 10)
        assert b"shipping" in line.lower()
        history = await (await client.get("/chat/api/history", params={"session": session})).json()
        # The answer, then the "was this helpful?" request that follows an FAQ answer.
        assert [m["direction"] for m in history["messages"]] == ["in", "out", "out"]
        stream.close()


async def test_a_repeated_client_id_is_processed_once(sqlite_url: str) -> None:
    nlu = RecordedNlu({QUESTION: faq(QUESTION, "faq/shipping_cost")})
    async with gateway_client(settings_for(sqlite_url), nlu=nlu) as client:
        customer = await ChatCustomer(client).start()
        results = await asyncio.gather(*(customer.say(QUESTION, client_id="m-1") for _ in range(5)))
        assert sorted(r["duplicate"] for r in results) == [False, True, True, True, True]
        await asyncio.wait_for(customer.next_reply(), 10)
        history = await (
            await client.get("/chat/api/history", params={"session": customer.session})
        ).json()
        # One question stored, answered once (the answer and its "was this helpful?" request).
        assert [m["direction"] for m in history["messages"]] == ["in", "out", "out"]
        assert nlu.calls == [QUESTION]
        await customer.close()


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"text": ' + b"9" * 5000 + b"}", "application/json", 400),
        (b"[" * 150_000 + b"]" * 150_000, "application/json", 413),
        (b"[" * 20_000 + b"]" * 20_000, "application/json", 400),
        (b"text=hi", "application/x-www-form-urlencoded", 415),
        (b'{"session": "short", "text": "hi"}', "application/json", 422),
        (b'{"session": "aaaaaaaaaaaaaaaaaaaaaa", "text": 5}', "application/json", 422),
        (b'{"session": "aaaaaaaaaaaaaaaaaaaaaa", "text": "   "}', "application/json", 422),
        (
            b'{"session": "aaaaaaaaaaaaaaaaaaaaaa", "text": "' + b"x" * 5000 + b'"}',
            "application/json",
            422,
        ),
        (
            b'{"session": "aaaaaaaaaaaaaaaaaaaaaa", "text": "' + b"x" * 300_000 + b'"}',
            "application/json",
            413,
        ),
    ],
)
async def test_malformed_messages_get_a_json_4xx_and_store_nothing(
    sqlite_url: str, body: bytes, content_type: str, status: int
) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        response = await client.post(
            "/chat/api/messages", data=body, headers={"Content-Type": content_type}
        )
        assert response.status == status
        error = await response.json()
        assert set(error) == {"error", "message"}
        history = await (
            await client.get("/chat/api/history", params={"session": "aaaaaaaaaaaaaaaaaaaaaa"})
        ).json()
        assert history["messages"] == []


async def test_the_page_is_served(sqlite_url: str) -> None:
    async with gateway_client(settings_for(sqlite_url), nlu=RecordedNlu()) as client:
        response = await client.get("/chat")
        assert response.status == 200
        assert "text/html" in response.headers["Content-Type"]
        assert "/chat/api/stream" in await response.text()
