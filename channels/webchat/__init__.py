"""The web chat: a small page at ``/chat`` that talks to the bot through the real pipeline.

Customers post messages (``POST /chat/api/messages``) and receive replies live over server-sent
events
(``GET /chat/api/stream``), which also replay what they missed, so a reload loses nothing.
"""
