"""``POST /webhooks/telegram``: secret token, storing, deduplication, answers, bad input."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.messages import Channel, InboundMessage
from channels.telegram.output import TelegramOutput
from channels.telegram.routes import SECRET_HEADER, WEBHOOK_PATH, TelegramWebhook
from tests.channels.telegram.conftest import SECRET, webhook_client
from tests.channels.telegram.recording import RecordingReachability, RecordingSink
from tests.fakes.telegram_bot_api import FakeTelegram, TelegramUpdates

pytestmark = pytest.mark.timeout(60)

CHAT = 31337
AUTH = {SECRET_HEADER: SECRET}


@pytest.fixture
def updates() -> TelegramUpdates:
    return TelegramUpdates()


async def post(
    client: TestClient, update: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    response = await client.post(
        WEBHOOK_PATH, json=update, headers=AUTH if headers is None else headers
    )
    assert response.content_type == "application/json"
    return response.status, await response.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}, {SECRET_HEADER: ""}],
    ids=["missing", "wrong", "longer", "empty"],
)
async def test_a_missing_or_wrong_secret_is_403_and_nothing_is_stored(
    client: TestClient, sink: RecordingSink, updates: TelegramUpdates, headers: dict[str, str]
) -> None:
    status, body = await post(client, updates.text(CHAT, "hi"), headers)
    assert status == 403 and body["error"] == "forbidden"
    assert sink.accept_calls == 0


async def test_a_non_ascii_secret_header_is_403(client: TestClient, sink: RecordingSink) -> None:
    response = await client.post(
        WEBHOOK_PATH,
        data=b"{}",
        headers={
            "Content-Type": "application/json",
            SECRET_HEADER: "s\u00e9cret".encode().decode("latin-1"),
        },
    )
    assert response.status == 403 and sink.accept_calls == 0


async def test_a_message_is_stored_then_acknowledged(
    client: TestClient, sink: RecordingSink, updates: TelegramUpdates
) -> None:
    update = updates.text(CHAT, "How much is shipping?")
    assert await post(client, update) == (200, {})
    (message,) = sink.messages
    assert message.channel is Channel.TELEGRAM and message.sender_id == str(CHAT)
    assert message.message_id == f"u{update['update_id']}"
    assert message.text == "How much is shipping?"


@pytest.mark.parametrize(
    "kind", ["start", "human", "edited", "photo", "voice", "document", "location"]
)
async def test_each_message_kind_reaches_the_sink(
    client: TestClient, sink: RecordingSink, updates: TelegramUpdates, kind: str
) -> None:
    update = {
        "start": lambda: updates.text(CHAT, "/start"),
        "human": lambda: updates.text(CHAT, "/human"),
        "edited": lambda: updates.edited(CHAT, "fixed typo", message_id=3),
        "photo": lambda: updates.photo(CHAT, caption="look"),
        "voice": lambda: updates.voice(CHAT),
        "document": lambda: updates.document(CHAT),
        "location": lambda: updates.location(CHAT, 41.9, 12.5),
    }[kind]()
    assert await post(client, update) == (200, {})
    (message,) = sink.messages
    assert message.text or message.attachments


async def test_a_redelivered_update_is_processed_once(
    client: TestClient, sink: RecordingSink, updates: TelegramUpdates
) -> None:
    update = updates.text(CHAT, "once")
    for _ in range(3):
        assert await post(client, update) == (200, {})
    concurrent = updates.text(CHAT, "once, concurrently")
    results = await asyncio.gather(*(post(client, concurrent) for _ in range(3)))
    assert results == [(200, {})] * 3
    assert [m.text for m in sink.messages] == ["once", "once, concurrently"]
    assert sink.accept_calls == 6


class TimedSink(RecordingSink):
    """Remembers when each message was stored, to compare with when the fake saw the answer."""

    def __init__(self) -> None:
        super().__init__()
        self.stored_at: list[float] = []

    async def accept(self, message: InboundMessage) -> bool:
        stored = await super().accept(message)
        self.stored_at.append(time.monotonic())
        return stored


async def test_a_pressed_button_is_stored_then_answered_without_making_telegram_wait(
    fake: FakeTelegram,
    output: TelegramOutput,
    reachability: RecordingReachability,
    updates: TelegramUpdates,
) -> None:
    sink = TimedSink()
    fake.respond_slowly(1.0, method="answerCallbackQuery")
    webhook = TelegramWebhook(sink, reachability, output, secret=SECRET)
    async with webhook_client(webhook) as client:
        update = updates.callback_query(CHAT, "feedback:5", buttons=[("Great", "feedback:5")])
        started = time.monotonic()
        assert await post(client, update) == (200, {})
        assert time.monotonic() - started < 0.8  # acknowledged before the slow answer returned
        (answer,) = await fake.wait_for_calls("answerCallbackQuery", timeout=5)
    assert answer.params["callback_query_id"] == update["callback_query"]["id"]
    assert answer.at >= sink.stored_at[0]
    (message,) = sink.messages
    assert (message.payload, message.text) == ("feedback:5", "Great")


async def test_closing_waits_for_answers_in_flight(
    fake: FakeTelegram, webhook: TelegramWebhook, updates: TelegramUpdates
) -> None:
    fake.respond_slowly(0.3, method="answerCallbackQuery")
    await webhook.process_update(updates.callback_query(CHAT, "menu:1"))
    assert fake.calls_to("answerCallbackQuery") == []
    await webhook.close()
    assert len(fake.calls_to("answerCallbackQuery")) == 1


async def test_a_failed_answer_is_logged_not_raised(
    fake: FakeTelegram,
    webhook: TelegramWebhook,
    client: TestClient,
    sink: RecordingSink,
    updates: TelegramUpdates,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.fail_next(1, 400, method="answerCallbackQuery")
    assert await post(client, updates.callback_query(CHAT, "menu:1")) == (200, {})
    await webhook.close()  # waits for the answer in flight
    assert len(fake.calls_to("answerCallbackQuery")) == 1
    assert len(sink.messages) == 1
    assert "could not answer telegram callback query" in caplog.text


async def test_blocking_and_restarting_reach_the_reachability_sink(
    client: TestClient,
    sink: RecordingSink,
    reachability: RecordingReachability,
    updates: TelegramUpdates,
) -> None:
    assert await post(client, updates.my_chat_member(CHAT, "kicked")) == (200, {})
    assert await post(client, updates.my_chat_member(CHAT, "member", old_status="kicked")) == (
        200,
        {},
    )
    assert reachability.changes == [
        (Channel.TELEGRAM, str(CHAT), False),
        (Channel.TELEGRAM, str(CHAT), True),
    ]
    assert sink.accept_calls == 0


async def test_update_types_we_do_not_handle_are_acknowledged_and_dropped(
    client: TestClient, sink: RecordingSink
) -> None:
    assert await post(client, {"update_id": 5, "channel_post": {"message_id": 1}}) == (200, {})
    assert await post(client, {"update_id": 6, "poll": {"id": "p"}}) == (200, {})
    assert sink.accept_calls == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"null", "application/json", 400),
        (b"{}", "application/json", 400),
        (b'{"update_id": "1"}', "application/json", 400),
        (b'{"update_id": 1, "message": {"text": "hi"}}', "application/json", 400),
        (b'{"update_id": 1e400}', "application/json", 400),
        (b'{"update_id": ' + b"9" * 5000 + b"}", "application/json", 400),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
        (b"update_id=1", "application/x-www-form-urlencoded", 415),
        (b"{}", "text/plain", 415),
        (b'{"update_id": 1, "pad": "' + b"x" * 300_000 + b'"}', "application/json", 413),
    ],
    ids=[
        "bad-json",
        "bad-utf8",
        "array",
        "null",
        "no-update-id",
        "string-id",
        "message-without-fields",
        "float-overflow",
        "huge-int",
        "deep-nesting",
        "form",
        "text",
        "too-large",
    ],
)
async def test_malformed_bodies_get_a_json_4xx_and_store_nothing(
    client: TestClient, sink: RecordingSink, body: bytes, content_type: str, status: int
) -> None:
    response = await client.post(
        WEBHOOK_PATH, data=body, headers={"Content-Type": content_type, **AUTH}
    )
    assert response.status == status
    assert response.content_type == "application/json"
    assert "message" in await response.json()
    assert sink.accept_calls == 0


async def test_a_store_failure_is_a_5xx_so_telegram_delivers_again(
    output: TelegramOutput, reachability: RecordingReachability, updates: TelegramUpdates
) -> None:
    webhook = TelegramWebhook(RecordingSink(fail=True), reachability, output, secret=SECRET)
    async with webhook_client(webhook) as client:
        response = await client.post(WEBHOOK_PATH, json=updates.text(CHAT, "hi"), headers=AUTH)
        assert response.status == 500


async def test_the_route_is_never_added_without_a_secret(
    sink: RecordingSink, reachability: RecordingReachability, output: TelegramOutput
) -> None:
    webhook = TelegramWebhook(sink, reachability, output, secret="")
    with pytest.raises(ValueError, match="CAREBOT_TELEGRAM_WEBHOOK_SECRET"):
        webhook.add_routes(web.Application())
    assert SECRET not in repr(webhook)
