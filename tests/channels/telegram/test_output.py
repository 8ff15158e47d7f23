"""Sending through the real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import pytest

from bot.interfaces import DeliveryError
from bot.messages import Channel, Choice, Delivery, OutboundMessage, Reply
from channels.telegram.output import TelegramOutput, TelegramStartError, build_keyboard
from tests.fakes.telegram_bot_api import TOKEN, FakeTelegram

pytestmark = pytest.mark.timeout(60)

CHAT = 424242


def outbound(
    text: str, *choices: Choice, message_id: int = 1, to: int | str = CHAT
) -> OutboundMessage:
    return OutboundMessage(
        id=message_id,
        conversation_id=7,
        channel=Channel.TELEGRAM,
        recipient_id=str(to),
        reply=Reply(text, choices=choices),
        language="en",
    )


async def test_start_checks_the_token_with_get_me(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    assert [call.method for call in fake.calls] == ["getMe"]
    assert output.bot.username == "carebot_test_bot"


async def test_a_wrong_token_fails_start_with_a_clear_error(fake: FakeTelegram) -> None:
    output = TelegramOutput("42:wrong", api_url=fake.api_url)
    with pytest.raises(TelegramStartError, match="CAREBOT_TELEGRAM_TOKEN"):
        await output.start()
    await output.close()


async def test_a_reply_is_sent_as_plain_text(fake: FakeTelegram, output: TelegramOutput) -> None:
    text = "Shipping costs <b>5 €</b> & takes *2-3* days_"
    delivery = await output.send_reply(outbound(text))
    (call,) = fake.calls_to("sendMessage")
    assert call.params["chat_id"] == CHAT
    assert call.params["text"] == text  # nothing escaped, nothing interpreted
    assert "parse_mode" not in call.params and "reply_markup" not in call.params
    (sent,) = fake.sent_messages
    assert delivery == Delivery((str(sent["message_id"]),))


async def test_a_long_reply_is_split_in_order(fake: FakeTelegram, output: TelegramOutput) -> None:
    paragraphs = [f"{n}" * 3000 for n in range(1, 4)]
    delivery = await output.send_reply(outbound("\n\n".join(paragraphs)))
    assert [m["text"] for m in fake.sent_messages] == paragraphs
    assert delivery.platform_message_ids == tuple(str(m["message_id"]) for m in fake.sent_messages)


async def test_choices_become_inline_buttons_on_the_last_part(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    choices = (Choice("👍 Yes", "feedback:yes"), Choice("👎 No", "feedback:no"))
    await output.send_reply(outbound("a" * 4090 + "\n\nWas this helpful?", *choices))
    first, last = fake.sent_messages
    assert "reply_markup" not in first
    assert last["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "👍 Yes", "callback_data": "feedback:yes"}],
            [{"text": "👎 No", "callback_data": "feedback:no"}],
        ]
    }


async def test_a_payload_longer_than_64_bytes_is_refused_before_sending(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    too_long = Choice("Menu", "é" * 33)  # 66 bytes of UTF-8
    with pytest.raises(ValueError, match="1-64 bytes"):
        build_keyboard([too_long])
    assert build_keyboard([Choice("Ok", "x" * 64)]) is not None
    with pytest.raises(DeliveryError) as raised:
        await output.send_reply(outbound("Pick one", too_long))
    assert raised.value.permanent
    assert fake.calls_to("sendMessage") == []


async def test_a_429_is_retryable_after_telegrams_wait(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    fake.fail_next(1, 429, retry_after=3)
    with pytest.raises(DeliveryError) as raised:
        await output.send_reply(outbound("hi"))
    error = raised.value
    assert (error.permanent, error.retry_after, error.code) == (False, 3.0, "429")
    assert fake.sent_messages == []


async def test_a_blocked_bot_is_permanent_and_marks_the_customer_unreachable(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    fake.block(CHAT)
    with pytest.raises(DeliveryError) as raised:
        await output.send_reply(outbound("hi"))
    error = raised.value
    assert error.permanent and error.unreachable and error.code == "403"
    assert "blocked by the user" in str(error)


async def test_server_errors_and_timeouts_are_retryable(fake: FakeTelegram) -> None:
    output = TelegramOutput(TOKEN, api_url=fake.api_url, per_chat_interval=0, request_timeout=0.5)
    try:
        fake.fail_next(1, 500)
        with pytest.raises(DeliveryError) as raised:
            await output.send_reply(outbound("hi"))
        assert not raised.value.permanent and not raised.value.unreachable
        fake.respond_slowly(2)
        with pytest.raises(DeliveryError) as raised:
            await output.send_reply(outbound("hi", message_id=2))
        assert not raised.value.permanent and raised.value.code == "timeout"
    finally:
        fake.respond_slowly(0)
        await output.close()


async def test_an_unknown_chat_is_a_permanent_bad_request(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    with pytest.raises(DeliveryError) as raised:
        await output.send_text("@no_such_channel", "hi")
    error = raised.value
    assert error.permanent and not error.unreachable and error.code == "400"
    assert "Chat not found" in str(error)


async def test_a_retry_sends_only_the_parts_that_did_not_get_through(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    text = "first part " * 300 + "\n\n" + "second part " * 300
    fake.fail_next(1, 502, skip=1)
    with pytest.raises(DeliveryError):
        await output.send_reply(outbound(text, message_id=9))
    assert len(fake.sent_messages) == 1
    delivery = await output.send_reply(outbound(text, message_id=9))
    first, second = fake.sent_messages
    assert first["text"].startswith("first") and second["text"].startswith("second")
    assert delivery.platform_message_ids == (str(first["message_id"]), str(second["message_id"]))
    assert len(fake.calls_to("sendMessage")) == 3


async def test_a_channel_by_username(fake: FakeTelegram, output: TelegramOutput) -> None:
    chat_id = fake.add_channel("@shop_news")
    await output.send_text("@shop_news", "News!")
    (sent,) = fake.messages_to(chat_id)
    assert sent["text"] == "News!" and sent["chat"]["type"] == "channel"


async def test_answering_a_callback_query(fake: FakeTelegram, output: TelegramOutput) -> None:
    await output.answer_callback("4000000000000000123")
    (call,) = fake.calls_to("answerCallbackQuery")
    assert call.params["callback_query_id"] == "4000000000000000123"
