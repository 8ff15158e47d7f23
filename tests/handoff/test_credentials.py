"""Passwords hashed with scrypt and tokens stored as SHA-256."""

from __future__ import annotations

import hashlib

from handoff.credentials import (
    dummy_password_hash,
    hash_password,
    new_token,
    same_secret,
    token_hash,
    verify_password,
    verify_password_sync,
)


async def test_a_password_verifies_against_its_hash_only() -> None:
    stored = await hash_password("correct horse battery")
    assert stored.startswith("scrypt$16384$8$1$")
    assert "correct horse" not in stored
    assert await verify_password("correct horse battery", stored)
    assert not await verify_password("correct horse batterY", stored)
    assert stored != await hash_password("correct horse battery")  # a fresh salt each time


def test_malformed_hashes_never_match() -> None:
    for stored in (
        "",
        "plain",
        "bcrypt$1$2$3$4$5",
        "scrypt$x$8$1$AAAA$AAAA",
        "scrypt$16384$8$1$!$!",
    ):
        assert not verify_password_sync("anything", stored)
    assert not verify_password_sync("anything", dummy_password_hash())


def test_tokens_are_random_and_stored_as_sha256() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 43
    assert token_hash(first) == hashlib.sha256(first.encode()).hexdigest()
    assert same_secret(first, first) and not same_secret(first, second)
