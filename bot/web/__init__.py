"""The aiohttp edge of the gateway: the app factory, error handling, health endpoints.

aiohttp stops here: handlers turn requests into value types and hand them to the core.
"""
