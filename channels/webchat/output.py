"""The web chat's :class:`OutputChannel`: replies go to the customer's open streams.

The reply is already stored when this runs, so a customer who is not connected right now still gets
it: the stream replays history on (re)connect. Sending therefore never fails for the web chat.
"""

from __future__ import annotations

from bot.interfaces import OutputChannel
from bot.messages import Channel, Delivery, OutboundMessage
from channels.webchat.live_hub import LiveHub


class WebChatOutput(OutputChannel):
    channel = Channel.WEB

    def __init__(self, hub: LiveHub) -> None:
        self._hub = hub

    async def send_text(self, recipient_id: str, text: str) -> Delivery:
        self._hub.publish(recipient_id, {"direction": "out", "text": text, "choices": []})
        return Delivery()

    async def send_reply(self, message: OutboundMessage) -> Delivery:
        reply = message.reply
        self._hub.publish(
            message.recipient_id,
            {
                "id": message.id,
                "direction": "out",
                "kind": reply.kind.value,
                "text": reply.text,
                "choices": [{"title": c.title, "payload": c.payload} for c in reply.choices],
            },
        )
        return Delivery((f"web-{message.id}",))
