"""Sending through the real twilio client against the fake Messages API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.interfaces import DeliveryError
from bot.messages import Channel, Choice, OutboundMessage, Reply
from channels.whatsapp.output import PartialDeliveryError, TwilioWhatsAppOutput
from tests.fakes.twilio_api import WHATSAPP_SANDBOX, FakeTwilio

pytestmark = pytest.mark.timeout(60)

CUSTOMER = "whatsapp:+393331234567"
STATUS_URL = "https://bot.example.com/webhooks/whatsapp/status"
PARAGRAPHS = ["a" * 1000, "b" * 1000, "c" * 1000]  # 3,004 characters together: three messages


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as running:
        yield running


def make_output(fake: FakeTwilio, *, request_timeout: float = 15.0) -> TwilioWhatsAppOutput:
    return TwilioWhatsAppOutput(
        fake.account_sid,
        fake.auth_token,
        WHATSAPP_SANDBOX,
        api_url=fake.url,
        status_callback_url=STATUS_URL,
        request_timeout=request_timeout,
    )


@pytest.fixture
async def output(fake: FakeTwilio) -> AsyncIterator[TwilioWhatsAppOutput]:
    sender = make_output(fake)
    yield sender
    await sender.close()


def reply(text: str, message_id: int = 1, *choices: Choice) -> OutboundMessage:
    return OutboundMessage(
        id=message_id,
        conversation_id=7,
        channel=Channel.WHATSAPP,
        recipient_id=CUSTOMER,
        reply=Reply(text, choices),
        language="it",
    )


def test_the_channel_and_its_24_hour_window(output: TwilioWhatsAppOutput) -> None:
    assert output.channel is Channel.WHATSAPP
    assert output.reply_window is not None and output.reply_window.total_seconds() == 24 * 3600


async def test_a_plain_text_is_one_message(fake: FakeTwilio, output: TwilioWhatsAppOutput) -> None:
    delivery = await output.send_text(CUSTOMER, "Puoi fare un reso entro 30 giorni.")
    [message] = await fake.wait_for(1)
    assert delivery.platform_message_ids == (message.sid,)
    assert message.sid is not None and message.sid.startswith("SM") and len(message.sid) == 34
    assert message.form["To"] == CUSTOMER
    assert message.form["From"] == WHATSAPP_SANDBOX
    assert message.form["Body"] == "Puoi fare un reso entro 30 giorni."
    assert message.form["StatusCallback"] == STATUS_URL


async def test_a_bare_number_gets_the_whatsapp_prefix(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    await output.send_text("+393331234567", "Ciao")
    [message] = await fake.wait_for(1)
    assert message.form["To"] == CUSTOMER


async def test_without_a_status_callback_none_is_sent(fake: FakeTwilio) -> None:
    sender = TwilioWhatsAppOutput(
        fake.account_sid,
        fake.auth_token,
        WHATSAPP_SANDBOX,
        api_url=fake.url,
        status_callback_url=None,
    )
    try:
        await sender.send_text(CUSTOMER, "Ciao")
    finally:
        await sender.close()
    [message] = await fake.wait_for(1)
    assert "StatusCallback" not in message.form


async def test_choices_become_a_numbered_list(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    await output.send_reply(
        reply("Ti è stato utile?", 1, Choice("Sì", "feedback:yes"), Choice("No", "feedback:no"))
    )
    [message] = await fake.wait_for(1)
    assert message.form["Body"] == "Ti è stato utile?\n\n1. Sì\n2. No"


async def test_a_long_reply_is_split_on_paragraphs_and_sent_in_order(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    delivery = await output.send_reply(reply("\n\n".join(PARAGRAPHS)))
    messages = await fake.wait_for(3)
    assert [m.form["Body"] for m in messages] == PARAGRAPHS
    assert delivery.platform_message_ids == tuple(m.sid for m in messages)
    assert len(fake.requests) == 3


async def test_429_is_retryable_with_twilios_retry_after(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    fake.fail_next(1, status=429, code=20429, retry_after=1)
    with pytest.raises(DeliveryError) as caught:
        await output.send_text(CUSTOMER, "Ciao")
    error = caught.value
    assert not error.permanent and not error.unreachable
    assert error.retry_after == 1.0
    assert error.code == "20429"
    assert fake.messages == []
    await output.send_text(CUSTOMER, "Ciao")  # the next attempt goes through
    assert len(await fake.wait_for(1)) == 1


async def test_429_without_retry_after_leaves_the_wait_to_the_outbox(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    fake.fail_next(1, status=429, code=20429)
    with pytest.raises(DeliveryError) as caught:
        await output.send_text(CUSTOMER, "Ciao")
    assert not caught.value.permanent
    assert caught.value.retry_after is None


async def test_a_500_outage_is_retryable(fake: FakeTwilio, output: TwilioWhatsAppOutput) -> None:
    fake.fail_for(60, status=500)
    with pytest.raises(DeliveryError) as caught:
        await output.send_text(CUSTOMER, "Ciao")
    assert not caught.value.permanent
    assert caught.value.code == "20500"


async def test_outside_the_24_hour_window_is_permanent(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    fake.reject(CUSTOMER, code=63016)
    with pytest.raises(DeliveryError) as caught:
        await output.send_text(CUSTOMER, "Ciao")
    error = caught.value
    assert error.permanent and not error.unreachable
    assert error.code == "63016"
    assert "outside the allowed window" in str(error)


@pytest.mark.parametrize("code", [21211, 21614, 21610])
async def test_an_invalid_or_opted_out_number_is_unreachable(
    fake: FakeTwilio, output: TwilioWhatsAppOutput, code: int
) -> None:
    fake.reject(CUSTOMER, code=code)
    with pytest.raises(DeliveryError) as caught:
        await output.send_text(CUSTOMER, "Ciao")
    assert caught.value.permanent and caught.value.unreachable
    assert caught.value.code == str(code)


async def test_a_malformed_number_is_refused_by_twilio_as_unreachable(
    output: TwilioWhatsAppOutput,
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await output.send_text("whatsapp:+12", "Ciao")
    assert caught.value.permanent and caught.value.unreachable
    assert caught.value.code == "21211"


async def test_other_4xx_are_permanent_with_twilios_code(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await output.send_text(CUSTOMER, "")  # Twilio: a body or media is required
    assert caught.value.permanent and not caught.value.unreachable
    assert caught.value.code == "21619"


async def test_a_wrong_auth_token_is_permanent(fake: FakeTwilio) -> None:
    sender = TwilioWhatsAppOutput(
        fake.account_sid,
        "wrong-token",
        WHATSAPP_SANDBOX,
        api_url=fake.url,
        status_callback_url=None,
    )
    try:
        with pytest.raises(DeliveryError) as caught:
            await sender.send_text(CUSTOMER, "Ciao")
    finally:
        await sender.close()
    assert caught.value.permanent
    assert caught.value.code == "20003"
    assert "wrong-token" not in str(caught.value)


async def test_an_unreachable_api_is_retryable() -> None:
    async with FakeTwilio() as gone:
        url, sid, token = gone.url, gone.account_sid, gone.auth_token
    sender = TwilioWhatsAppOutput(
        sid, token, WHATSAPP_SANDBOX, api_url=url, status_callback_url=None
    )
    try:
        with pytest.raises(DeliveryError) as caught:
            await sender.send_text(CUSTOMER, "Ciao")
    finally:
        await sender.close()
    assert not caught.value.permanent


async def test_a_stalled_api_times_out_as_retryable(fake: FakeTwilio) -> None:
    fake.respond_slowly(5)
    sender = make_output(fake, request_timeout=0.2)
    started = time.monotonic()
    try:
        with pytest.raises(DeliveryError) as caught:
            await sender.send_text(CUSTOMER, "Ciao")
    finally:
        await sender.close()
    assert not caught.value.permanent
    assert time.monotonic() - started < 2


async def test_a_slow_api_does_not_block_the_event_loop(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    fake.respond_slowly(0.5)
    ticks = 0
    send = asyncio.create_task(output.send_text(CUSTOMER, "Ciao"))
    while not send.done():
        await asyncio.sleep(0.01)
        ticks += 1
    await send
    # A blocking client would have frozen the loop for the whole 0.5 s: no tick in between.
    assert ticks >= 20
    assert len(fake.messages) == 1


async def test_concurrent_sends_each_get_their_own_retry_after(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    fake.fail_next(1, status=429, code=20429, retry_after=7)
    results = await asyncio.gather(
        *(output.send_text(CUSTOMER, f"n. {i}") for i in range(5)), return_exceptions=True
    )
    errors = [r for r in results if isinstance(r, DeliveryError)]
    assert len(errors) == 1 and errors[0].retry_after == 7.0
    assert len(fake.messages) == 4


async def test_a_retry_after_a_partial_send_does_not_resend_the_sent_parts(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    fake.fail_next(1, status=500, code=20500, after=1)  # the first part goes, the second fails
    message = reply("\n\n".join(PARAGRAPHS), message_id=41)
    with pytest.raises(PartialDeliveryError) as caught:
        await output.send_reply(message)
    assert not caught.value.permanent
    assert caught.value.sent_ids == (fake.messages[0].sid,)
    assert "1 of 3 parts" in str(caught.value)

    delivery = await output.send_reply(message)  # the outbox's retry
    messages = await fake.wait_for(3)
    assert [m.form["Body"] for m in messages] == PARAGRAPHS
    assert delivery.platform_message_ids == tuple(m.sid for m in messages)

    await output.send_reply(message)  # delivered: nothing remembered, a new send is a new send
    assert len(fake.messages) == 6


async def test_after_a_permanent_failure_part_way_nothing_is_remembered(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    fake.fail_next(1, status=400, code=21617, after=1)
    message = reply("\n\n".join(PARAGRAPHS), message_id=42)
    with pytest.raises(PartialDeliveryError) as caught:
        await output.send_reply(message)
    assert caught.value.permanent
    await output.send_reply(message)
    assert [m.form["Body"] for m in fake.messages] == [PARAGRAPHS[0], *PARAGRAPHS]


async def test_a_changed_text_under_the_same_id_is_sent_whole(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    fake.fail_next(1, status=503, code=20503, after=1)
    with pytest.raises(PartialDeliveryError):
        await output.send_reply(reply("\n\n".join(PARAGRAPHS), message_id=43))
    await output.send_reply(reply("Altro testo", message_id=43))
    assert [m.form["Body"] for m in fake.messages] == [PARAGRAPHS[0], "Altro testo"]


async def test_twilio_edge_and_region_cannot_redirect_the_client(
    fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    sender = make_output(fake)
    try:
        await sender.send_text(CUSTOMER, "Ciao")
    finally:
        await sender.close()
    assert len(await fake.wait_for(1)) == 1


async def test_close_then_send_opens_a_new_session(
    fake: FakeTwilio, output: TwilioWhatsAppOutput
) -> None:
    await output.send_text(CUSTOMER, "uno")
    await output.close()
    await output.close()  # twice is fine
    await output.send_text(CUSTOMER, "due")
    assert [m.form["Body"] for m in await fake.wait_for(2)] == ["uno", "due"]


def test_the_token_never_shows_in_a_repr() -> None:
    sender = TwilioWhatsAppOutput(
        "AC" + "0" * 32,
        "s3cr3t-token",
        WHATSAPP_SANDBOX,
        api_url="https://api.twilio.com",
        status_callback_url=None,
    )
    assert "s3cr3t-token" not in repr(sender)
