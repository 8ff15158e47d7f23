"""Telegram through python-telegram-bot: webhook or long polling in, the Bot API out.

``updates`` turns a raw Update into the core's value types; ``routes`` is the webhook and the one
function both modes feed; ``polling`` is the alternative for running without a public URL;
``output`` sends replies within Telegram's limits; ``webhook_setup`` registers the webhook.
"""
