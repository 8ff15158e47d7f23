"""The engine's feedback rules (bot.feedback_rules): asking, reading ratings, comments, review."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.engine import ConversationEngine, ConversationSnapshot, CustomerSnapshot, PendingInbound
from bot.faq_catalog import FaqCatalog
from bot.feedback_rules import (
    AWAITING_COMMENT,
    AWAITING_HELPFUL,
    AWAITING_RATING,
    HELPFUL_NO,
    HELPFUL_YES,
    FeedbackKind,
    ReviewReason,
    read_rating,
)
from bot.messages import Channel, ConversationState, MessageKind
from bot.settings import Behaviour, load_behaviour
from nlu.language import detector_from_project
from tests.fixtures.doubles import RecordedNlu, faq, intent

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def behaviour() -> Behaviour:
    return load_behaviour(ROOT / "config" / "carebot.yml")


@pytest.fixture(scope="module")
def catalog(behaviour: Behaviour) -> FaqCatalog:
    return FaqCatalog.load(ROOT / "nlu" / "answers" / "faq.yml", behaviour.languages, "en")


@pytest.fixture(scope="module")
def detector(behaviour: Behaviour):  # type: ignore[no-untyped-def]
    return detector_from_project(ROOT / "nlu" / "data", behaviour.languages)


QUESTION = "How much is shipping?"


def pending(
    text: str,
    *,
    awaiting: str | None = None,
    asked: bool = False,
    payload: str | None = None,
    language: str | None = "en",
) -> PendingInbound:
    return PendingInbound(
        message_id=7,
        conversation=ConversationSnapshot(
            1, Channel.TELEGRAM, ConversationState.BOT, language, 0, awaiting, asked
        ),
        customer=CustomerSnapshot(1, "c1", "Ada", language, None),
        text=text,
        created_at=datetime.now(UTC),
        payload=payload,
    )


def engine(behaviour, catalog, detector, nlu=None, **feedback) -> ConversationEngine:  # type: ignore[no-untyped-def]
    if feedback:
        behaviour = behaviour.model_copy(
            update={"feedback": behaviour.feedback.model_copy(update=feedback)}
        )
    return ConversationEngine(behaviour, catalog, nlu or RecordedNlu(), detector)


async def test_first_faq_answer_asks_was_this_helpful_as_a_notice(
    behaviour: Behaviour, catalog, detector
) -> None:
    nlu = RecordedNlu({QUESTION: faq(QUESTION, "faq/shipping_cost")})
    outcome = await engine(behaviour, catalog, detector, nlu).handle(pending(QUESTION))

    answer, request = outcome.replies
    assert answer.kind == MessageKind.REPLY and not answer.choices
    assert request.kind == MessageKind.NOTICE  # not a reply: the answer answered the turn
    assert [c.payload for c in request.choices] == [HELPFUL_YES, HELPFUL_NO]
    assert outcome.awaiting == AWAITING_HELPFUL and outcome.asks_helpful


async def test_helpful_is_asked_once_per_conversation(behaviour, catalog, detector) -> None:
    nlu = RecordedNlu({QUESTION: faq(QUESTION, "faq/shipping_cost")})
    outcome = await engine(behaviour, catalog, detector, nlu).handle(pending(QUESTION, asked=True))
    assert len(outcome.replies) == 1 and outcome.awaiting is None and not outcome.asks_helpful


async def test_helpful_can_be_switched_off(behaviour, catalog, detector) -> None:
    nlu = RecordedNlu({QUESTION: faq(QUESTION, "faq/shipping_cost")})
    outcome = await engine(behaviour, catalog, detector, nlu, helpful=False).handle(
        pending(QUESTION)
    )
    assert len(outcome.replies) == 1 and not outcome.asks_helpful


@pytest.mark.parametrize(
    ("text", "payload", "rating"),
    [
        ("", HELPFUL_YES, 5),
        ("", HELPFUL_NO, 1),
        ("1", None, 5),
        ("2", None, 1),
        ("👎", None, 1),
        ("no", None, 1),
        ("yes", None, 5),
    ],
)
async def test_helpful_answers_are_thumbs_stored_as_5_or_1(
    behaviour, catalog, detector, text: str, payload: str | None, rating: int
) -> None:
    nlu = RecordedNlu()  # the NLU is never asked
    outcome = await engine(behaviour, catalog, detector, nlu).handle(
        pending(text, awaiting=AWAITING_HELPFUL, payload=payload, asked=True)
    )
    assert outcome.feedback is not None
    assert (outcome.feedback.kind, outcome.feedback.rating) == (FeedbackKind.HELPFUL, rating)
    assert outcome.decision == "feedback" and outcome.awaiting is None
    assert outcome.replies[0].kind == MessageKind.REPLY  # "thanks" answers the rating turn
    assert outcome.review_reason == (ReviewReason.LOW_RATING if rating == 1 else None)


async def test_an_ignored_helpful_request_lets_the_next_question_through(
    behaviour, catalog, detector
) -> None:
    other = "Where is my order?"
    nlu = RecordedNlu({other: faq(other, "faq/order_status")})
    outcome = await engine(behaviour, catalog, detector, nlu).handle(
        pending(other, awaiting=AWAITING_HELPFUL, asked=True)
    )
    assert outcome.decision == "faq" and outcome.feedback is None
    assert len(outcome.replies) == 1 and outcome.awaiting is None  # not asked again


@pytest.mark.parametrize(
    ("text", "payload", "expected"),
    [
        ("", "feedback:4", 4),
        ("4", None, 4),
        ("4 stelle", None, 4),
        ("5 stars", None, 5),
        ("⭐⭐⭐", None, 3),
        ("2/5", None, 2),
        ("6", None, None),
        ("4 ordini", None, None),
    ],
)
def test_ratings_are_read_from_payloads_and_typed_text(
    text: str, payload: str | None, expected: int | None
) -> None:
    assert read_rating(text, payload) == expected


async def test_a_rating_is_stored_and_one_comment_invited(behaviour, catalog, detector) -> None:
    outcome = await engine(behaviour, catalog, detector).handle(
        pending("", awaiting=AWAITING_RATING, payload="feedback:5")
    )
    assert outcome.feedback is not None and outcome.feedback.rating == 5
    assert outcome.feedback.kind == FeedbackKind.RATING
    assert outcome.awaiting == AWAITING_COMMENT and outcome.review_reason is None


async def test_a_low_typed_rating_goes_to_review_without_comment_when_off(
    behaviour, catalog, detector
) -> None:
    outcome = await engine(behaviour, catalog, detector, ask_comment=False).handle(
        pending("2 stelle", awaiting=AWAITING_RATING, language="it")
    )
    assert outcome.feedback is not None and outcome.feedback.rating == 2
    assert outcome.awaiting is None and outcome.review_reason == ReviewReason.LOW_RATING
    assert outcome.replies[0].text == behaviour.text("feedback_thanks", "it")


async def test_an_ignored_rating_request_lets_the_question_through(
    behaviour, catalog, detector
) -> None:
    nlu = RecordedNlu({QUESTION: faq(QUESTION, "faq/shipping_cost")})
    outcome = await engine(behaviour, catalog, detector, nlu).handle(
        pending(QUESTION, awaiting=AWAITING_RATING)
    )
    assert outcome.decision == "faq" and outcome.feedback is None


async def test_free_text_after_the_invitation_is_the_comment(behaviour, catalog, detector) -> None:
    text = "the agent was quick but I had to wait a day"
    nlu = RecordedNlu({text: intent(text, "out_of_scope", 0.4)})
    outcome = await engine(behaviour, catalog, detector, nlu).handle(
        pending(text, awaiting=AWAITING_COMMENT)
    )
    assert outcome.feedback is not None
    assert (outcome.feedback.kind, outcome.feedback.comment) == (FeedbackKind.COMMENT, text)
    assert outcome.awaiting is None and outcome.review_reason is None


async def test_a_question_after_the_invitation_is_answered_not_kept(
    behaviour, catalog, detector
) -> None:
    nlu = RecordedNlu({QUESTION: faq(QUESTION, "faq/shipping_cost")})
    outcome = await engine(behaviour, catalog, detector, nlu).handle(
        pending(QUESTION, awaiting=AWAITING_COMMENT)
    )
    assert outcome.decision == "faq" and outcome.feedback is None


async def test_typed_praise_is_kept_as_a_comment(behaviour, catalog, detector) -> None:
    text = "grazie, molto utile"
    nlu = RecordedNlu({text: intent(text, "feedback_positive")})
    outcome = await engine(behaviour, catalog, detector, nlu).handle(pending(text, language="it"))
    assert outcome.feedback is not None and outcome.feedback.comment == text
    assert outcome.replies[0].text == behaviour.text("feedback_thanks", "it")


async def test_typed_blame_is_kept_as_a_comment_and_offers_a_person(
    behaviour, catalog, detector
) -> None:
    text = "il bot non mi ha aiutato"
    nlu = RecordedNlu({text: intent(text, "feedback_negative")})
    outcome = await engine(behaviour, catalog, detector, nlu).handle(pending(text, language="it"))
    assert outcome.feedback is not None and outcome.feedback.kind == FeedbackKind.COMMENT
    assert outcome.decision == "offer_human"


async def test_fallbacks_and_rule_handoffs_go_to_the_review_queue(
    behaviour, catalog, detector
) -> None:
    vague = "blorp the frobnicator"
    complaint = "I want to complain about my order"
    nlu = RecordedNlu(
        {vague: intent(vague, "faq", 0.2), complaint: faq(complaint, "faq/complaint")}
    )
    eng = engine(behaviour, catalog, detector, nlu)
    assert (await eng.handle(pending(vague))).review_reason == ReviewReason.FALLBACK
    handed = await eng.handle(pending(complaint))
    assert handed.handoff_reason and handed.review_reason == ReviewReason.HANDOFF
    asked = await eng.handle(pending("/human"))
    assert asked.handoff_reason and asked.review_reason is None
