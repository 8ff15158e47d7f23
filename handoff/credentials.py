"""Passwords and bearer tokens: how secrets are made, stored and checked.

Passwords are hashed with scrypt (memory-hard, in the standard library) in a worker thread, since a
hash takes tens of milliseconds that the event loop must not spend. Tokens are random and only their
SHA-256 is stored: a leaked database then holds nothing that logs anyone in, and a fast hash is
enough because the token itself has 256 bits of entropy. Every comparison is constant-time.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets

# scrypt parameters (docs/agent-api.md): n=2**14, r=8, p=1 costs 16 MiB and ~50 ms per hash.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
_SCHEME = "scrypt"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2**26, dklen=KEY_BYTES
    )


def hash_password_sync(password: str) -> str:
    """``scrypt$n$r$p$salt$key``: the parameters travel with the hash, so they can be raised."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password_sync(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(key)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


async def hash_password(password: str) -> str:
    """:func:`hash_password_sync` off the event loop."""
    return await asyncio.to_thread(hash_password_sync, password)


async def verify_password(password: str, stored: str) -> bool:
    """:func:`verify_password_sync` off the event loop."""
    return await asyncio.to_thread(verify_password_sync, password, stored)


@functools.cache
def dummy_password_hash() -> str:
    """A hash of a random password, made once.

    Checking a login for an unknown username against it costs what a real check costs, so response
    times do not tell which usernames exist.
    """
    return hash_password_sync(secrets.token_urlsafe(16))


def new_token() -> str:
    """A new bearer token or session secret (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time equality of two secrets (CSRF tokens, the admin token)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
