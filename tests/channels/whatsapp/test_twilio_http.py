"""The async HTTP client's additions: Retry-After parsing and basic auth without BasicAuth."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from channels.whatsapp.twilio_http import (
    MAX_RETRY_AFTER,
    ResponseNote,
    basic_auth_header,
    retry_after_seconds,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1", 1.0),
        (" 30 ", 30.0),
        ("2.5", 2.5),
        ("-4", 0.0),
        ("Sat, 01 Mar 2025 12:00:10 GMT", 10.0),
        ("Sat, 01 Mar 2025 11:59:00 GMT", 0.0),
        ("999999", MAX_RETRY_AFTER),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


def test_a_note_sees_nothing_outside_its_block() -> None:
    note = ResponseNote()
    assert note.retry_after() is None
    with note:
        note.headers = {"Retry-After": "3"}
    assert note.retry_after() == 3.0


def test_basic_auth_header() -> None:
    header = basic_auth_header("AC123", "tok:en")
    scheme, encoded = header.split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded) == b"AC123:tok:en"
