"""Cutting a long reply into parts that fit Twilio's 1,600-character message body.

Twilio refuses a longer body outright (error 21617), so a long FAQ answer must go out as several
messages. Where it is cut matters to the reader: between paragraphs if at all possible, else between
lines, else after a sentence, else between words, and through a word only when one word alone is
longer than the limit. Each part is as long as it can be at the best boundary available (greedy), so
a text is cut into as few parts as that boundary allows. The text inside a part is left untouched;
only the whitespace at a cut is dropped.
"""

from __future__ import annotations

import re

MAX_BODY = 1600
_LOOKAHEAD = 64

# Boundaries from best to worst. The group ``gap`` is the whitespace dropped at a cut: a part ends
# where the gap starts and the next part starts where it ends.
_BOUNDARIES = (
    re.compile(r"(?P<gap>[ \t]*\n[ \t]*\n\s*)"),  # a blank line: between paragraphs
    re.compile(r"(?P<gap>[ \t]*\n\s*)"),  # between lines
    # after a sentence, and the quote or bracket closing it
    re.compile("[.!?\u2026;:][\"'\u201d\u2019\u00bb)\\]]*(?P<gap>\\s+)"),
    re.compile(r"(?P<gap>\s+)"),  # between words
)


def split_body(text: str, limit: int = MAX_BODY) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, in order, cut at the best boundaries.

    Args:
        text: the whole message. A text that fits is returned as it is (even empty).
        limit: the longest part allowed.

    Returns:
        The parts; joining them with the dropped whitespace gives back ``text`` minus whitespace at
        its very start and end.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        end, resume = _cut(rest, limit)
        parts.append(rest[:end])
        rest = rest[resume:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _cut(text: str, limit: int) -> tuple[int, int]:
    """Where to end the first part of ``text`` (longer than ``limit``) and where the next starts."""
    # Only the start of the text can hold the cut; scanning a little past ``limit`` finds a gap that
    # starts right at it, and keeps splitting a long text linear in its length.
    window = limit + _LOOKAHEAD
    for boundary in _BOUNDARIES:
        best: tuple[int, int] | None = None
        for match in boundary.finditer(text, 0, window):
            start, end = match.span("gap")
            if start > limit:  # a gap right at ``limit`` still works: the part before it fits
                break
            if start > 0:
                best = (start, end)
        if best is not None:
            return best
    return limit, limit  # one word longer than the limit: no better place than the limit itself
