"""RasaNluClient against a loopback server replaying answers recorded from the real Rasa server.

The recordings (``tests/nlu/recorded/*.json``) are real ``rasa run --enable-api`` answers for this
project's model, so the mapping is tested against Rasa's true JSON shape; failures (5xx, slowness,
garbage, refused connections) are the loopback server's own doing.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.interfaces import NluClient, NluUnavailable
from bot.settings import NluBehaviour
from nlu.rasa_client import MalformedRasaAnswer, RasaNluClient, parse_result_from_json
from tests.fakes.rasa import FakeRasa, Scripted

RECORDED = Path(__file__).parent / "recorded"
FAQ_EN = "how much does shipping cost?"
FAQ_IT = "quanto costa la spedizione in Italia?"
GREETING = "hello"
WEATHER = "che tempo fa domani"


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    async with FakeRasa.from_directory(RECORDED) as fake:
        yield fake


@pytest.fixture
async def client(rasa: FakeRasa) -> AsyncIterator[RasaNluClient]:
    async with RasaNluClient(rasa.url, timeout=1.0, retries=1, backoff=0.01) as nlu:
        yield nlu


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_it_is_an_nlu_client(client: RasaNluClient) -> None:
    nlu: NluClient = client
    assert nlu is client


# ---------------------------------------------------------------------------------------------
# mapping of real answers


@pytest.mark.parametrize(
    ("text", "key"), [(FAQ_EN, "faq/shipping_cost"), (FAQ_IT, "faq/shipping_cost")]
)
async def test_an_faq_maps_to_its_response_key(
    client: RasaNluClient, rasa: FakeRasa, text: str, key: str
) -> None:
    recorded = rasa.recorded_parse(text)

    result = await client.parse(text)

    assert result.text == text
    assert result.intent == "faq"
    assert result.confidence == recorded["intent"]["confidence"]
    assert result.faq_key == key
    selected = recorded["response_selector"]["faq"]["response"]
    assert result.faq_confidence == selected["confidence"]
    assert [(r.name, r.confidence) for r in result.ranking] == [
        (r["name"], r["confidence"]) for r in recorded["intent_ranking"]
    ]
    assert rasa.requests[-1].json == {"text": text}


@pytest.mark.parametrize(("text", "intent"), [(GREETING, "greet"), (WEATHER, "out_of_scope")])
async def test_other_intents_carry_no_faq_key(
    client: RasaNluClient, rasa: FakeRasa, text: str, intent: str
) -> None:
    # The ResponseSelector names its best FAQ for any text; it must not leak into a greeting.
    assert rasa.recorded_parse(text)["response_selector"]["faq"]["response"]["intent_response_key"]

    result = await client.parse(text)

    assert result.intent == intent
    assert result.faq_key is None
    assert result.faq_confidence == 0.0
    assert result.ranking[0].name == intent


def test_a_selector_without_retrieval_intent_lands_under_default(rasa: FakeRasa) -> None:
    body = rasa.recorded_parse(FAQ_EN)
    body["response_selector"] = {"default": body["response_selector"]["faq"]}
    assert parse_result_from_json(FAQ_EN, body).faq_key == "faq/shipping_cost"


def test_an_answer_without_intent_is_no_intent() -> None:
    result = parse_result_from_json("", {"text": "", "intent": {}, "intent_ranking": []})
    assert (result.intent, result.confidence, result.ranking) == (None, 0.0, ())


# ---------------------------------------------------------------------------------------------
# failures


async def test_a_5xx_is_retried_then_succeeds(client: RasaNluClient, rasa: FakeRasa) -> None:
    rasa.queue(Scripted(status=503, body='{"status": "failure"}'))

    result = await client.parse(FAQ_EN)

    assert result.faq_key == "faq/shipping_cost"
    assert len(rasa.requests) == 2


async def test_a_timeout_is_retried_then_succeeds(rasa: FakeRasa) -> None:
    rasa.queue(Scripted(body="{}", delay=5))
    async with RasaNluClient(rasa.url, timeout=0.2, retries=1, backoff=0.01) as client:
        result = await client.parse(GREETING)
    assert result.intent == "greet"
    assert len(rasa.requests) == 2


async def test_5xx_forever_is_unavailable_after_the_retries(rasa: FakeRasa) -> None:
    rasa.queue(*[Scripted(status=500, body="boom")] * 5)
    async with RasaNluClient(rasa.url, timeout=1.0, retries=2, backoff=0.01) as client:
        with pytest.raises(NluUnavailable, match=r"after 3 attempts: HTTP 500"):
            await client.parse(FAQ_EN)
    assert len(rasa.requests) == 3


async def test_a_slow_rasa_is_unavailable_within_the_timeouts(rasa: FakeRasa) -> None:
    rasa.queue(*[Scripted(body="{}", delay=5)] * 2)
    async with RasaNluClient(rasa.url, timeout=0.2, retries=1, backoff=0.01) as client:
        started = time.monotonic()
        with pytest.raises(NluUnavailable, match=r"within 0\.2 s"):
            await client.parse(FAQ_EN)
        assert time.monotonic() - started < 1.5
    assert len(rasa.requests) == 2


async def test_a_refused_connection_is_unavailable() -> None:
    async with RasaNluClient(f"http://127.0.0.1:{unused_port()}", retries=1, backoff=0.01) as c:
        with pytest.raises(NluUnavailable, match="cannot reach"):
            await c.parse(FAQ_EN)


@pytest.mark.parametrize(
    "body",
    [
        "<html>Bad Gateway</html>",
        '{"intent": {"name": "faq", "confidence": 0.9',
        "[1, 2, 3]",
        '{"intent": "faq"}',
        '{"intent": {"name": "faq", "confidence": "high"}}',
        '{"intent": {"name": "faq", "confidence": 0.9}, "intent_ranking": {"name": "faq"}}',
        '{"intent": {"name": "faq", "confidence": 0.9}, "response_selector": {"faq": {}}}',
    ],
    ids=["html", "truncated", "list", "intent-string", "confidence-string", "ranking", "selector"],
)
async def test_a_malformed_answer_is_unavailable_without_retry(
    client: RasaNluClient, rasa: FakeRasa, body: str
) -> None:
    rasa.queue(Scripted(body=body))
    with pytest.raises(MalformedRasaAnswer, match=r"malformed|not JSON"):
        await client.parse(FAQ_EN)
    assert len(rasa.requests) == 1
    assert issubclass(MalformedRasaAnswer, NluUnavailable)


async def test_a_4xx_is_unavailable_without_retry(client: RasaNluClient, rasa: FakeRasa) -> None:
    conflict = json.dumps(
        {"status": "failure", "reason": "Conflict", "message": "No agent loaded."}
    )
    rasa.queue(Scripted(status=409, body=conflict))
    with pytest.raises(NluUnavailable, match="HTTP 409"):
        await client.parse(FAQ_EN)
    assert len(rasa.requests) == 1


# ---------------------------------------------------------------------------------------------
# readiness and resources


async def test_ready_when_a_model_is_loaded(client: RasaNluClient, rasa: FakeRasa) -> None:
    assert await client.ready() is True
    rasa.use_status(409)
    assert await client.ready() is False


async def test_not_ready_when_status_fails_or_rasa_is_down(
    client: RasaNluClient, rasa: FakeRasa
) -> None:
    rasa.queue(Scripted(status=500, body="boom"), Scripted(body='{"model_file": null}'))
    assert await client.ready() is False
    assert await client.ready() is False
    async with RasaNluClient(f"http://127.0.0.1:{unused_port()}") as down:
        assert await down.ready() is False


async def test_calls_share_one_keep_alive_connection(client: RasaNluClient, rasa: FakeRasa) -> None:
    for text in (FAQ_EN, FAQ_IT, GREETING, WEATHER):
        await client.parse(text)
    await client.ready()
    assert len({seen.peer_port for seen in rasa.requests}) == 1


async def test_a_session_passed_in_stays_open(rasa: FakeRasa) -> None:
    async with aiohttp.ClientSession() as session:
        client = RasaNluClient(rasa.url, session=session)
        await client.parse(GREETING)
        await client.close()
        await client.close()
        assert not session.closed


async def test_from_settings_takes_timeout_and_retries(rasa: FakeRasa) -> None:
    behaviour = NluBehaviour.model_validate({"timeout": "200ms", "retries": 0})
    rasa.queue(Scripted(body="{}", delay=5))
    async with RasaNluClient.from_settings(rasa.url, behaviour) as client:
        with pytest.raises(NluUnavailable, match=r"within 0\.2 s"):
            await client.parse(GREETING)
    assert len(rasa.requests) == 1
