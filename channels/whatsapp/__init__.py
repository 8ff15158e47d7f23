"""WhatsApp through Twilio: signed webhooks in, the Messages API out.

- :mod:`channels.whatsapp.signature` checks ``X-Twilio-Signature`` before a webhook's form is used.
- :mod:`channels.whatsapp.inbound` turns Twilio's form into the core's value types (pure functions).
- :mod:`channels.whatsapp.routes` holds the two webhook endpoints.
- :mod:`channels.whatsapp.output` sends replies with the twilio library's async HTTP client.
- :mod:`channels.whatsapp.body_split` cuts long replies at Twilio's 1,600-character body limit.

Nothing here touches storage: inbound messages go to the core's
:class:`~bot.interfaces.MessageSink`, status callbacks to its
:class:`~bot.interfaces.DeliveryReceiptSink`.
"""
