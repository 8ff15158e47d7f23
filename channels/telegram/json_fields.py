"""Typed reads from untrusted JSON objects, with errors that name the offending field.

A webhook body is attacker-controlled until the secret is checked and malformed even after that if a
client misbehaves, so every field is checked for its type before use. The error message carries the
path (``message.chat.id``) because the 400 it becomes is all a caller gets to debug with.
"""

from __future__ import annotations

import math
from typing import Any

# Telegram ids fit in a signed 64-bit integer; anything larger is not Telegram's.
_MAX_ID = 2**63


class MalformedUpdate(ValueError):
    """The body is not an Update we can read; the message says which field is wrong and how."""


class JsonObject:
    """A JSON object at ``path``; each accessor checks the field's type or raises MalformedUpdate.

    Optional accessors treat a missing field and ``null`` alike, as the Bot API omits empty fields.
    """

    __slots__ = ("_data", "path")

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise MalformedUpdate(f"{path} must be a JSON object")
        self._data: dict[str, Any] = data
        self.path = path

    def has(self, key: str) -> bool:
        return self._data.get(key) is not None

    def field_names(self) -> list[str]:
        return [str(key) for key in self._data]

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def integer(self, key: str) -> int:
        value = self.optional_integer(key)
        if value is None:
            raise MalformedUpdate(f"{self._where(key)} is missing")
        return value

    def optional_integer(self, key: str) -> int | None:
        value = self._data.get(key)
        if value is None:
            return None
        # bool is an int in Python but never an id or a date in JSON.
        if not isinstance(value, int) or isinstance(value, bool):
            raise MalformedUpdate(f"{self._where(key)} must be an integer")
        if not -_MAX_ID < value < _MAX_ID:
            raise MalformedUpdate(f"{self._where(key)} does not fit in 64 bits")
        return value

    def string(self, key: str) -> str:
        value = self.optional_string(key)
        if value is None:
            raise MalformedUpdate(f"{self._where(key)} is missing")
        return value

    def optional_string(self, key: str) -> str | None:
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise MalformedUpdate(f"{self._where(key)} must be a string")
        return checked_text(value, self._where(key))

    def number(self, key: str) -> float:
        value = self._data.get(key)
        if value is None:
            raise MalformedUpdate(f"{self._where(key)} is missing")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise MalformedUpdate(f"{self._where(key)} must be a number")
        try:
            number = float(value)
        except OverflowError:
            raise MalformedUpdate(f"{self._where(key)} is out of range") from None
        if not math.isfinite(number):
            raise MalformedUpdate(f"{self._where(key)} must be a finite number")
        return number

    def obj(self, key: str) -> JsonObject:
        if self._data.get(key) is None:
            raise MalformedUpdate(f"{self._where(key)} is missing")
        return JsonObject(self._data[key], self._where(key))

    def optional_obj(self, key: str) -> JsonObject | None:
        if self._data.get(key) is None:
            return None
        return JsonObject(self._data[key], self._where(key))

    def optional_list(self, key: str) -> list[Any] | None:
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise MalformedUpdate(f"{self._where(key)} must be a JSON array")
        return value

    def raw(self, key: str) -> object:
        """The field as it is, for lenient lookups that must never fail (button titles)."""
        return self._data.get(key)


def checked_text(value: str, where: str) -> str:
    """``value`` if a database can store it: JSON allows lone surrogates and NULs, SQL doesn't."""
    if "\x00" in value:
        raise MalformedUpdate(f"{where} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedUpdate(f"{where} is not valid Unicode (lone surrogate)") from None
    return value
