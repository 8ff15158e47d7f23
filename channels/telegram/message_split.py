"""Splitting long replies into Telegram messages of at most 4096 characters.

Telegram refuses a longer text outright, so a long answer must go out in parts. Parts end at a
paragraph break if one is in the second half of the allowed length, else at a line break, else at a
space, and only as a last resort in the middle of a word. Length is counted in UTF-16 code units,
the unit of Telegram's own offsets: an emoji counts twice, which keeps a part under the limit
whether Telegram counts code points or code units. The split is deterministic, so a retried reply
is cut in the same places and the parts already delivered can be skipped.
"""

from __future__ import annotations

from typing import Final

MAX_MESSAGE_LENGTH: Final = 4096

_SEPARATORS: Final = ("\n\n", "\n", " ")


def telegram_length(text: str) -> int:
    """The length of ``text`` in UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def split_text(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """``text`` cut into parts of at most ``limit`` UTF-16 code units, none of them blank.

    Leading and trailing whitespace of each part is dropped, as Telegram drops it anyway. An empty
    or blank text gives an empty list.
    """
    if limit < 2:
        raise ValueError("limit must leave room for at least one character")
    parts: list[str] = []
    rest = text.strip()
    while rest:
        window = _longest_prefix(rest, limit)
        if len(window) == len(rest):
            parts.append(rest)
            break
        cut = _cut_point(window)
        head = rest[:cut].rstrip()
        if head:
            parts.append(head)
        rest = rest[cut:].lstrip()
    return parts


def _longest_prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` code units, never ending inside a pair."""
    if len(text) * 2 <= limit:  # fast path: even all-astral text fits
        return text
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def _cut_point(window: str) -> int:
    """Where to end a part inside ``window``: after the last separator worth cutting at."""
    half = len(window) // 2
    for separator in _SEPARATORS:
        index = window.rfind(separator)
        if index >= half or (separator == " " and index > 0):
            return index + len(separator)
    return len(window)
