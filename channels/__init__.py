"""Channel adapters: turn a platform's payload into :class:`bot.messages.InboundMessage` and send
:class:`bot.messages.Reply` values back. They know nothing of NLU or the database."""
