"""Cheap, deterministic text matching that runs before (or instead of) the NLU.

Commands, handoff keywords and answers to a numbered list must work even when Rasa is down and must
never be second-guessed by a statistical model, so they are matched here on normalised text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from bot.messages import Choice

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s/]")


def normalize(text: str) -> str:
    """Case-fold, drop accents and punctuation, collapse white space: ``"Sì, grazie!"`` → ``"si
    grazie"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _PUNCT.sub(" ", stripped)).strip()


def command_of(text: str) -> str | None:
    """The bot command at the start of ``text`` (``/human``, ``/start@shop_bot`` → ``/start``)."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    word = stripped.split(maxsplit=1)[0]
    return word.split("@", 1)[0].casefold()


class PhraseSet:
    """Phrases normalised once, to look for in many messages (the engine's keyword lists).

    Normalising every keyword again for every message was most of the engine's own CPU time.
    """

    def __init__(self, phrases: Iterable[str]) -> None:
        self._needles = [(f" {n} ", p) for p in phrases if (n := normalize(p))]

    def __bool__(self) -> bool:
        return bool(self._needles)

    def find(self, text: str) -> str | None:
        """The first phrase found in ``text`` as whole words, if any."""
        if not self._needles:
            return None
        haystack = f" {normalize(text)} "
        for needle, phrase in self._needles:
            if needle in haystack:
                return phrase
        return None


def match_choice(
    text: str, choices: Sequence[Choice], synonyms: Mapping[str, Sequence[str]] | None = None
) -> Choice | None:
    """Map a typed answer back to one of the offered choices.

    Accepts the choice's number (``"1"``, ``"1."``), its title, or one of ``synonyms[payload]``
    (``"si"``, ``"yes"``, ``"ok"`` for a yes). Returns None when the text is something else, so the
    caller can treat it as a new question.
    """
    normalized = normalize(text)
    if not normalized:
        return None
    if normalized.isdigit():
        index = int(normalized) - 1
        return choices[index] if 0 <= index < len(choices) else None
    for choice in choices:
        if normalized == normalize(choice.title):
            return choice
        for synonym in (synonyms or {}).get(choice.payload, ()):
            if normalized == normalize(synonym):
                return choice
    return None
