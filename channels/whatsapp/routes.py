"""The WhatsApp webhooks Twilio calls: inbound messages and delivery status callbacks.

Both are signed (:class:`~channels.whatsapp.signature.TwilioSignature` runs before the handlers) and
both answer fast: an inbound message is handed to the core's sink, which stores it durably, and the
200 goes back at once, before any NLU work, well inside Twilio's 15-second deadline. Replies go out
later through the Messages API, so the TwiML answer is always empty.

Twilio retries a webhook that fails, so the answers are chosen to stop retries that cannot help:
a redelivered ``MessageSid`` gets the same 200 (the sink drops it), and a status callback about a
message we do not know, or with a status we do not record, gets a 200 too.
"""

from __future__ import annotations

import logging

from aiohttp import web
from multidict import MultiDictProxy

from bot import log_context
from bot.interfaces import DeliveryReceiptSink, MessageSink
from bot.messages import Channel
from bot.web.errors import json_error
from channels.whatsapp.inbound import InvalidWebhook, parse_inbound, parse_status_callback
from channels.whatsapp.signature import TwilioSignature

log = logging.getLogger(__name__)

INBOUND_PATH = "/webhooks/whatsapp"
STATUS_PATH = "/webhooks/whatsapp/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class WhatsAppWebhook:
    """The two Twilio webhook endpoints, bound to the core's sinks.

    Args:
        sink: stores inbound messages; returns False for a redelivery.
        receipts: records delivery reports on stored outbound messages.
        auth_token: the Twilio auth token, the key of the webhook signatures.
        public_url: ``CAREBOT_PUBLIC_URL``; signatures are checked for this URL plus the path.
    """

    def __init__(
        self,
        sink: MessageSink,
        receipts: DeliveryReceiptSink,
        *,
        auth_token: str,
        public_url: str,
    ) -> None:
        self._sink = sink
        self._receipts = receipts
        self._signature = TwilioSignature(auth_token, public_url)

    def add_routes(self, app: web.Application) -> None:
        """Add ``POST /webhooks/whatsapp`` and ``POST /webhooks/whatsapp/status``, both signed."""
        app.router.add_post(INBOUND_PATH, self._signature.required(self.inbound))
        app.router.add_post(STATUS_PATH, self._signature.required(self.status))

    async def inbound(self, request: web.Request, form: MultiDictProxy[str]) -> web.Response:
        """Store one customer message, then acknowledge with empty TwiML (also for a duplicate)."""
        token = log_context.channel.set(Channel.WHATSAPP.value)
        try:
            try:
                message = parse_inbound(form)
            except InvalidWebhook as exc:
                log.warning("whatsapp inbound refused: %s", exc)
                raise json_error(422, str(exc)) from None
            accepted = await self._sink.accept(message)
            log.info(
                "whatsapp inbound %s %s (%d attachment(s))",
                message.message_id,
                "stored" if accepted else "was a redelivery, ignored",
                len(message.attachments),
            )
        finally:
            log_context.channel.reset(token)
        return web.Response(text=EMPTY_TWIML, content_type="text/xml", charset="utf-8")

    async def status(self, request: web.Request, form: MultiDictProxy[str]) -> web.Response:
        """Record a delivery report; unknown messages and statuses are acknowledged and logged."""
        token = log_context.channel.set(Channel.WHATSAPP.value)
        try:
            try:
                report = parse_status_callback(form)
            except InvalidWebhook as exc:
                log.warning("whatsapp status callback refused: %s", exc)
                raise json_error(422, str(exc)) from None
            if report.status is None:
                log.info(
                    "whatsapp status %r for %s ignored (not a status we record)",
                    report.raw_status,
                    report.message_sid,
                )
                return web.Response()
            known = await self._receipts.record_delivery(
                Channel.WHATSAPP,
                report.message_sid,
                report.status,
                error_code=report.error_code,
                error_detail=report.error_detail,
            )
            if known:
                log.info(
                    "whatsapp message %s is %s%s",
                    report.message_sid,
                    report.status.value,
                    f" (error {report.error_code})" if report.error_code else "",
                )
            else:
                log.info(
                    "whatsapp status %s for unknown message %s ignored",
                    report.status.value,
                    report.message_sid,
                )
        finally:
            log_context.channel.reset(token)
        return web.Response()
