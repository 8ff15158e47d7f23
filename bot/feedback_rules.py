"""Feedback: when the bot asks for it and how a customer's answer is read.

Rules (the engine applies them, :mod:`bot.storage.feedback_records` stores the result):

* **"Was this helpful?"** (``feedback.helpful``) follows an FAQ answer, at most once per
  conversation (``conversations.helpful_asked_at``), and not while the customer is still writing:
  when another of their messages is already waiting, the store drops the request
  (:func:`without_helpful_request`) and a later answer asks instead. Choices 👍 ``helpful:yes``
  / 👎 ``helpful:no``; typed ``1``/``2``, the emoji, or a yes/no word count too. 👍 is stored
  as rating 5, 👎 as 1 (CONTRACT section 6, csat).
* **1-5 after a resolved handoff**: the desk sends the request and sets ``awaiting='feedback'``;
  the answer is the payload ``feedback:N`` (Telegram button) or a typed ``4``, ``4 stelle``,
  ``4/5``, ``⭐⭐⭐⭐``. With ``feedback.ask_comment`` one follow-up invites a comment: the next
  free text is stored as the comment unless it is a new question (an answerable FAQ, a request for
  a person, a greeting), which goes on to the bot as usual.
* A customer who ignores a request is not asked again (the helpful request is once per
  conversation; the rating request comes only with a resolve) and their message is handled
  normally: an unmatched answer just clears ``awaiting``.
* A second rating for the same thing (same conversation, kind and target) replaces the first.
* Free text the NLU reads as ``feedback_positive`` / ``feedback_negative`` is stored as a comment.

Message kinds (CONTRACT section 6): the helpful question and the desk's rating request are stored
as :attr:`MessageKind.NOTICE`: they do not answer a customer turn (the FAQ answer before the
helpful question does). The "thanks for your feedback" that answers a rating is a
:attr:`MessageKind.REPLY`: it answers the customer's rating turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.messages import Choice
from bot.text_matching import match_choice, normalize

if TYPE_CHECKING:
    from bot.engine import Outcome

HELPFUL_YES = "helpful:yes"
HELPFUL_NO = "helpful:no"
HELPFUL_CHOICES = (Choice("👍", HELPFUL_YES), Choice("👎", HELPFUL_NO))
RATING_PAYLOAD = re.compile(r"^feedback:([1-5])$")

#: ``conversations.awaiting`` values of the feedback rules (``feedback`` is the desk's).
AWAITING_HELPFUL = "helpful"
AWAITING_RATING = "feedback"
AWAITING_COMMENT = "feedback_comment"

# "4", "4 stelle", "4 stars", "4/5", "voto 4", "4 su 5", "4!"
_TYPED_RATING = re.compile(
    r"^(?:voto |rating |do |give )?([1-5])(?: ?/ ?5| su 5| out of 5)?"
    r"(?: (?:stelle|stella|stars?|punti))?$"
)
_STARS = re.compile(r"^[⭐★*\s]+$")
_HELPFUL_WORDS = {
    HELPFUL_YES: ("👍", "si", "yes", "utile", "helpful", "molto utile", "very helpful", "ok"),
    HELPFUL_NO: ("👎", "no", "non utile", "not helpful", "inutile", "useless", "no grazie"),
}


class FeedbackKind:
    """``feedback.kind``."""

    HELPFUL = "helpful"
    RATING = "rating"
    COMMENT = "comment"


class ReviewReason:
    """``review_items.reason``: why a customer question is put before the team."""

    FALLBACK = "fallback"
    LOW_RATING = "low_rating"
    HANDOFF = "handoff"


@dataclass(frozen=True, slots=True)
class FeedbackEntry:
    """A rating or comment the engine read from a customer message; the store finds its target."""

    kind: str
    rating: int | None = None
    comment: str | None = None


def read_rating(text: str, payload: str | None) -> int | None:
    """A 1-5 rating from a button payload or typed text, or None if it is something else."""
    if payload:
        match = RATING_PAYLOAD.match(payload)
        if match:
            return int(match.group(1))
    stripped = text.strip()
    if stripped and _STARS.match(stripped):
        stars = sum(1 for ch in stripped if ch in "⭐★*")
        return stars if 1 <= stars <= 5 else None
    match = _TYPED_RATING.match(normalize(stripped))
    return int(match.group(1)) if match else None


def read_helpful(text: str, payload: str | None, extra_words: dict[str, list[str]]) -> bool | None:
    """True for 👍, False for 👎 (payload, ``1``/``2``, emoji or word), None for anything else."""
    if payload in (HELPFUL_YES, HELPFUL_NO):
        return payload == HELPFUL_YES
    stripped = text.strip()
    if stripped.startswith("👍"):
        return True
    if stripped.startswith("👎"):
        return False
    synonyms = {key: [*words, *extra_words.get(key, ())] for key, words in _HELPFUL_WORDS.items()}
    choice = match_choice(stripped, HELPFUL_CHOICES, synonyms)
    return None if choice is None else choice.payload == HELPFUL_YES


def without_helpful_request(outcome: Outcome) -> Outcome:
    """``outcome`` without its "was this helpful?" (the customer is mid-burst; ask later)."""
    replies = tuple(r for r in outcome.replies if r.choices != HELPFUL_CHOICES)
    return replace(outcome, replies=replies, awaiting=None, asks_helpful=False)
