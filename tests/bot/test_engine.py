"""The engine's decisions, with recorded NLU answers (the end-to-end tests use the real Rasa)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.engine import (
    AWAITING_HANDOFF_OFFER,
    AWAITING_SENTIMENT_OFFER,
    HANDOFF_YES,
    ConversationEngine,
    ConversationSnapshot,
    CustomerSnapshot,
    HandoffReason,
    PendingInbound,
)
from bot.faq_catalog import FaqCatalog
from bot.interfaces import HandoffForecast
from bot.messages import Channel, ConversationState, MessageKind, NluResult
from bot.settings import Behaviour, ConfigError, load_behaviour
from nlu.language import detector_from_project
from tests.fixtures.doubles import FakeOutlook, RecordedNlu, faq, intent

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


def make_engine(
    behaviour: Behaviour, catalog: FaqCatalog, detector, nlu: RecordedNlu
) -> ConversationEngine:  # type: ignore[no-untyped-def]
    return ConversationEngine(behaviour, catalog, nlu, detector)


def pending(
    text: str,
    *,
    state: ConversationState = ConversationState.BOT,
    streak: int = 0,
    awaiting: str | None = None,
    language: str | None = None,
    hint: str | None = None,
    payload: str | None = None,
) -> PendingInbound:
    return PendingInbound(
        message_id=1,
        conversation=ConversationSnapshot(1, Channel.WEB, state, language, streak, awaiting),
        customer=CustomerSnapshot(1, "c1", "Ada", language, hint),
        text=text,
        created_at=datetime.now(UTC),
        payload=payload,
    )


async def test_faq_is_answered_in_the_customers_language(behaviour, catalog, detector) -> None:
    it_q, en_q = "Quanto costa la spedizione?", "How much is shipping?"
    nlu = RecordedNlu({it_q: faq(it_q, "faq/shipping_cost"), en_q: faq(en_q, "faq/shipping_cost")})
    engine = make_engine(behaviour, catalog, detector, nlu)

    italian = await engine.handle(pending(it_q))
    english = await engine.handle(pending(en_q))

    assert italian.decision == english.decision == "faq"
    assert italian.language == "it" and english.language == "en"
    assert italian.replies[0].text == catalog.answer("faq/shipping_cost", "it")
    assert english.replies[0].text == catalog.answer("faq/shipping_cost", "en")
    assert italian.replies[0].text != english.replies[0].text


async def test_low_confidence_asks_to_rephrase_then_offers_a_human(
    behaviour, catalog, detector
) -> None:
    text = "blorp the frobnicator"
    nlu = RecordedNlu({text: faq(text, "faq/shipping_cost", confidence=0.2)})
    engine = make_engine(behaviour, catalog, detector, nlu)

    first = await engine.handle(pending(text, language="en"))
    assert first.decision == "fallback"
    assert first.replies[0].text == behaviour.text("rephrase", "en")
    assert first.fallback_streak == 1 and first.awaiting is None

    second = await engine.handle(pending(text, language="en", streak=1))
    assert second.decision == "offer_human"
    assert second.awaiting == AWAITING_HANDOFF_OFFER
    assert [c.payload for c in second.replies[0].choices] == ["handoff:yes", "handoff:no"]


@pytest.mark.parametrize("answer", ["1", "Sì", "si grazie", "yes"])
async def test_accepting_the_offer_hands_off(behaviour, catalog, detector, answer) -> None:
    nlu = RecordedNlu()
    engine = make_engine(behaviour, catalog, detector, nlu)
    outcome = await engine.handle(
        pending(answer, awaiting=AWAITING_HANDOFF_OFFER, streak=2, language="it")
    )
    assert outcome.decision == "handoff"
    assert outcome.state is ConversationState.WAITING
    assert outcome.handoff_reason == HandoffReason.FALLBACK
    assert outcome.replies[0].kind is MessageKind.NOTICE
    assert nlu.calls == []  # a typed answer to a choice never needs the NLU


async def test_button_payload_accepts_the_offer(behaviour, catalog, detector) -> None:
    engine = make_engine(behaviour, catalog, detector, RecordedNlu())
    outcome = await engine.handle(
        pending("Yes, please", awaiting=AWAITING_HANDOFF_OFFER, payload=HANDOFF_YES, language="en")
    )
    assert outcome.handoff_reason == HandoffReason.FALLBACK


async def test_declining_the_offer_resets_the_streak(behaviour, catalog, detector) -> None:
    engine = make_engine(behaviour, catalog, detector, RecordedNlu())
    outcome = await engine.handle(
        pending("2", awaiting=AWAITING_HANDOFF_OFFER, streak=2, language="en")
    )
    assert outcome.decision == "offer_declined"
    assert outcome.fallback_streak == 0 and outcome.awaiting is None


@pytest.mark.parametrize(
    "text",
    [
        "/human",
        "/human@aurora_bot",
        "voglio parlare con un operatore",
        "Can I talk to a HUMAN agent?",
    ],
)
async def test_asking_for_a_person_hands_off_without_nlu(
    behaviour, catalog, detector, text
) -> None:
    nlu = RecordedNlu()
    outcome = await make_engine(behaviour, catalog, detector, nlu).handle(pending(text))
    assert outcome.handoff_reason == HandoffReason.CUSTOMER_REQUEST
    assert outcome.state is ConversationState.WAITING
    assert nlu.calls == []


async def test_nlu_ask_human_intent_hands_off(behaviour, catalog, detector) -> None:
    text = "mi serve qualcuno in carne e ossa"
    nlu = RecordedNlu({text: intent(text, "ask_human")})
    outcome = await make_engine(behaviour, catalog, detector, nlu).handle(pending(text))
    assert outcome.handoff_reason == HandoffReason.CUSTOMER_REQUEST
    assert outcome.language == "it"


async def test_rasa_down_gives_a_holding_message_and_hands_off(
    behaviour, catalog, detector
) -> None:
    engine = make_engine(behaviour, catalog, detector, RecordedNlu(down=True))
    outcome = await engine.handle(pending("Dov'è il mio ordine?"))
    assert outcome.handoff_reason == HandoffReason.NLU_UNAVAILABLE
    assert outcome.state is ConversationState.WAITING
    assert outcome.replies[0].text == behaviour.text("nlu_unavailable", "it")
    assert outcome.replies[0].kind is MessageKind.NOTICE


@pytest.mark.parametrize("state", [ConversationState.WAITING, ConversationState.AGENT])
async def test_bot_is_silent_while_a_person_owns_the_conversation(
    behaviour, catalog, detector, state
) -> None:
    nlu = RecordedNlu()
    outcome = await make_engine(behaviour, catalog, detector, nlu).handle(
        pending("hello?", state=state)
    )
    assert outcome.replies == ()
    assert outcome.state is state
    assert nlu.calls == []


async def test_start_command_greets(behaviour, catalog, detector) -> None:
    outcome = await make_engine(behaviour, catalog, detector, RecordedNlu()).handle(
        pending("/start", hint="it-IT")
    )
    assert outcome.decision == "greet"
    assert outcome.replies[0].text == behaviour.text("greet", "it")


async def test_out_of_scope_is_not_answered_with_an_faq(behaviour, catalog, detector) -> None:
    text = "what's the weather"
    nlu = RecordedNlu({text: intent(text, "out_of_scope", 0.99)})
    outcome = await make_engine(behaviour, catalog, detector, nlu).handle(pending(text))
    assert outcome.decision == "fallback"
    assert outcome.replies[0].text == behaviour.text("out_of_scope", "en")


async def test_short_ambiguous_text_keeps_the_conversations_language(
    behaviour, catalog, detector
) -> None:
    text = "ok"
    nlu = RecordedNlu({text: intent(text, "affirm")})
    outcome = await make_engine(behaviour, catalog, detector, nlu).handle(
        pending(text, language="it")
    )
    assert outcome.language == "it"


async def test_media_without_text_is_kept_for_an_agent(behaviour, catalog, detector) -> None:
    nlu = RecordedNlu()
    outcome = await make_engine(behaviour, catalog, detector, nlu).handle(
        pending("", language="en")
    )
    assert outcome.decision == "media"
    assert outcome.replies[0].text == behaviour.text("text_only", "en")
    assert nlu.calls == []


def test_unknown_faq_key_falls_back(behaviour, catalog) -> None:
    assert catalog.answer("faq/does_not_exist", "en") is None


def test_every_configured_text_exists_in_every_language(behaviour: Behaviour) -> None:
    for key in (
        "greet",
        "rephrase",
        "offer_human",
        "handoff_requested",
        "nlu_unavailable",
        "text_only",
    ):
        for language in behaviour.languages:
            assert behaviour.text(key, language)


def test_nlu_result_default_ranking_is_empty() -> None:
    assert NluResult("x", None, 0.0).ranking == ()


# --- handoff triggers -------------------------------------------------------------------------


def with_handoff(behaviour: Behaviour, **changes: Any) -> Behaviour:
    """``behaviour`` with ``handoff.<key>`` (or ``handoff.sentiment.<key>`` for ``sentiment_*``)
    replaced."""
    handoff = behaviour.handoff
    sentiment = {k.removeprefix("sentiment_"): v for k, v in changes.items() if "sentiment_" in k}
    if sentiment:
        handoff = handoff.model_copy(
            update={"sentiment": handoff.sentiment.model_copy(update=sentiment)}
        )
    plain = {k: v for k, v in changes.items() if not k.startswith("sentiment_")}
    return behaviour.model_copy(update={"handoff": handoff.model_copy(update=plain)})


@pytest.mark.parametrize(
    ("text", "keyword", "language"),
    [
        ("Che vergogna, il pacco è ancora fermo!", "vergogna", "it"),
        ("Pessimo servizio, aspetto da due settimane", "pessimo servizio", "it"),
        ("questo negozio fa SCHIFO", "schifo", "it"),
        ("This is ridiculous, where is my parcel?", "this is ridiculous", "en"),
        ("Terrible service, nobody answers my emails", "terrible service", "en"),
    ],
)
async def test_angry_keywords_hand_off_with_reason_sentiment(
    behaviour, catalog, detector, text, keyword, language
) -> None:
    nlu = RecordedNlu()
    outcome = await make_engine(behaviour, catalog, detector, nlu).handle(pending(text))
    assert outcome.decision == "handoff"
    assert outcome.state is ConversationState.WAITING
    assert outcome.handoff_reason == HandoffReason.SENTIMENT
    assert outcome.handoff_detail == f"keyword: {keyword}"
    assert outcome.language == language
    assert outcome.replies[0].text == behaviour.text("handoff_sentiment", language)
    assert outcome.replies[0].kind is MessageKind.NOTICE
    assert nlu.calls == []  # angry words are matched before, and without, the NLU


async def test_angry_keywords_can_offer_a_person_first(behaviour, catalog, detector) -> None:
    offering = with_handoff(behaviour, sentiment_keywords_action="offer")
    engine = make_engine(offering, catalog, detector, RecordedNlu())
    offer = await engine.handle(pending("che schifo", language="it"))
    assert offer.decision == "offer_human"
    assert offer.awaiting == AWAITING_SENTIMENT_OFFER
    assert offer.replies[0].text == behaviour.text("sorry_offer_human", "it")
    assert offer.handoff_reason is None

    accepted = await engine.handle(pending("sì", awaiting=AWAITING_SENTIMENT_OFFER, language="it"))
    assert accepted.handoff_reason == HandoffReason.SENTIMENT
    assert accepted.state is ConversationState.WAITING


async def test_angry_keywords_can_be_switched_off(behaviour, catalog, detector) -> None:
    text = "this is ridiculous"
    nlu = RecordedNlu({text: intent(text, "out_of_scope")})
    quiet = with_handoff(behaviour, sentiment_keywords_action="off")
    outcome = await make_engine(quiet, catalog, detector, nlu).handle(pending(text))
    assert outcome.handoff_reason is None
    assert nlu.calls == [text]


async def test_negative_feedback_intent_offers_a_person_by_default(
    behaviour, catalog, detector
) -> None:
    text = "questo bot non mi aiuta proprio"
    nlu = RecordedNlu({text: intent(text, "feedback_negative")})
    outcome = await make_engine(behaviour, catalog, detector, nlu).handle(pending(text))
    assert outcome.decision == "offer_human"
    assert outcome.awaiting == AWAITING_SENTIMENT_OFFER
    assert outcome.replies[0].text == behaviour.text("sorry_offer_human", "it")


async def test_negative_feedback_intent_can_hand_off_directly(behaviour, catalog, detector) -> None:
    text = "you are not helpful at all"
    nlu = RecordedNlu({text: intent(text, "feedback_negative")})
    direct = with_handoff(behaviour, sentiment_intent_action="handoff")
    outcome = await make_engine(direct, catalog, detector, nlu).handle(pending(text))
    assert outcome.handoff_reason == HandoffReason.SENTIMENT
    assert outcome.handoff_detail == "intent: feedback_negative"
    assert outcome.replies[0].text == behaviour.text("handoff_sentiment", "en")


async def test_negative_feedback_intent_switched_off_is_only_kept_as_a_comment(
    behaviour, catalog, detector
) -> None:
    text = "you are not helpful at all"
    nlu = RecordedNlu({text: intent(text, "feedback_negative")})
    off = with_handoff(behaviour, sentiment_intent_action="off")
    outcome = await make_engine(off, catalog, detector, nlu).handle(pending(text))
    assert outcome.decision == "feedback"
    assert outcome.handoff_reason is None
    assert outcome.feedback is not None and outcome.feedback.comment == text


async def test_accepting_a_fallback_offer_is_still_reason_fallback(
    behaviour, catalog, detector
) -> None:
    engine = make_engine(behaviour, catalog, detector, RecordedNlu())
    outcome = await engine.handle(pending("yes", awaiting=AWAITING_HANDOFF_OFFER, language="en"))
    assert outcome.handoff_reason == HandoffReason.FALLBACK


async def test_rule_sends_a_complaint_to_a_person(behaviour, catalog, detector) -> None:
    text = "voglio fare un reclamo"
    nlu = RecordedNlu({text: faq(text, "faq/complaint")})
    assert "faq/complaint" in behaviour.handoff.rules
    outcome = await make_engine(behaviour, catalog, detector, nlu).handle(pending(text))
    assert outcome.handoff_reason == HandoffReason.RULE
    assert outcome.handoff_detail == "rule: faq/complaint"
    assert outcome.state is ConversationState.WAITING
    assert outcome.replies[0].text == behaviour.text("handoff_requested", "it")
    assert outcome.nlu is not None and outcome.nlu.faq_key == "faq/complaint"


async def test_without_the_rule_a_complaint_gets_its_faq_answer(
    behaviour, catalog, detector
) -> None:
    text = "I want to make a complaint"
    nlu = RecordedNlu({text: faq(text, "faq/complaint")})
    no_rules = with_handoff(behaviour, rules=[])
    outcome = await make_engine(no_rules, catalog, detector, nlu).handle(pending(text))
    assert outcome.decision == "faq"
    assert outcome.replies[0].text == catalog.answer("faq/complaint", "en")


async def test_rule_needs_a_confident_faq(behaviour, catalog, detector) -> None:
    text = "hmm complaint maybe"
    nlu = RecordedNlu({text: faq(text, "faq/complaint", confidence=0.3)})
    outcome = await make_engine(behaviour, catalog, detector, nlu).handle(pending(text))
    assert outcome.handoff_reason is None


async def test_rule_can_name_an_intent(behaviour, catalog, detector) -> None:
    text = "are you a robot?"
    nlu = RecordedNlu({text: intent(text, "bot_challenge")})
    rules = with_handoff(behaviour, rules=["bot_challenge"])
    outcome = await make_engine(rules, catalog, detector, nlu).handle(pending(text))
    assert outcome.handoff_reason == HandoffReason.RULE
    assert outcome.handoff_detail == "rule: bot_challenge"


def test_a_rule_naming_an_unknown_faq_is_a_config_error(behaviour, catalog, detector) -> None:
    typo = with_handoff(behaviour, rules=["faq/complaints"])
    with pytest.raises(ConfigError, match=r"handoff\.rules: faq/complaints is not an FAQ"):
        make_engine(typo, catalog, detector, RecordedNlu())


async def test_rasa_down_without_handoff_asks_to_try_again(behaviour, catalog, detector) -> None:
    keep = with_handoff(behaviour, on_nlu_unavailable=False)
    outcome = await make_engine(keep, catalog, detector, RecordedNlu(down=True)).handle(
        pending("Dov'è il mio ordine?")
    )
    assert outcome.handoff_reason is None
    assert outcome.state is ConversationState.BOT
    assert outcome.decision == "nlu_unavailable"
    assert outcome.replies[0].text == behaviour.text("nlu_unavailable_no_handoff", "it")


async def test_human_command_still_works_with_rasa_down(behaviour, catalog, detector) -> None:
    keep = with_handoff(behaviour, on_nlu_unavailable=False)
    outcome = await make_engine(keep, catalog, detector, RecordedNlu(down=True)).handle(
        pending("/human")
    )
    assert outcome.handoff_reason == HandoffReason.CUSTOMER_REQUEST


async def test_fallback_offer_can_be_switched_off(behaviour, catalog, detector) -> None:
    text = "blorp"
    never = behaviour.model_copy(
        update={"fallback": behaviour.fallback.model_copy(update={"offer_human_after": 0})}
    )
    outcome = await make_engine(never, catalog, detector, RecordedNlu()).handle(
        pending(text, language="en", streak=5)
    )
    assert outcome.decision == "fallback"
    assert outcome.awaiting is None and outcome.fallback_streak == 6


@pytest.mark.parametrize("state", [ConversationState.WAITING, ConversationState.AGENT])
@pytest.mark.parametrize(
    "text", ["/human", "voglio parlare con un operatore", "che vergogna!", "voglio fare un reclamo"]
)
async def test_no_second_handoff_while_a_person_owns_the_conversation(
    behaviour, catalog, detector, state, text
) -> None:
    nlu = RecordedNlu({text: faq(text, "faq/complaint")})
    outlook = FakeOutlook()
    engine = ConversationEngine(behaviour, catalog, nlu, detector, outlook=outlook)
    outcome = await engine.handle(pending(text, state=state, language="it"))
    assert outcome.decision == "silent"
    assert outcome.replies == ()
    assert outcome.handoff_reason is None
    assert outcome.state is state
    assert nlu.calls == [] and outlook.calls == []


# --- what the customer is told at handoff -------------------------------------------------------

ROME = ZoneInfo("Europe/Rome")
# A Friday evening in Rome.
NOW = datetime(2025, 6, 6, 19, 30, tzinfo=ROME).astimezone(UTC)


def engine_with(
    behaviour: Behaviour,
    catalog: FaqCatalog,
    detector: Any,
    outlook: FakeOutlook,
    nlu: RecordedNlu | None = None,
) -> ConversationEngine:
    return ConversationEngine(
        behaviour, catalog, nlu or RecordedNlu(), detector, outlook=outlook, clock=lambda: NOW
    )


async def test_long_queue_tells_the_expected_wait(behaviour, catalog, detector) -> None:
    outlook = FakeOutlook(HandoffForecast(waiting=4, expected_wait=timedelta(minutes=5)))
    outcome = await engine_with(behaviour, catalog, detector, outlook).handle(
        pending("/human", language="it")
    )
    text = outcome.replies[0].text
    assert text.startswith(behaviour.text("handoff_requested", "it"))
    assert "4 clienti in attesa" in text
    assert "circa 5 minuti" in text
    assert outlook.calls == [NOW]


async def test_short_queue_gets_the_plain_notice(behaviour, catalog, detector) -> None:
    outlook = FakeOutlook(HandoffForecast(waiting=1, expected_wait=timedelta(minutes=5)))
    outcome = await engine_with(behaviour, catalog, detector, outlook).handle(
        pending("talk to a human", language="en")
    )
    assert outcome.replies[0].text == behaviour.text("handoff_requested", "en")


async def test_outside_business_hours_says_when_someone_is_back(
    behaviour, catalog, detector
) -> None:
    monday = datetime(2025, 6, 9, 9, 0, tzinfo=ROME)
    outlook = FakeOutlook(
        HandoffForecast(
            waiting=9, expected_wait=timedelta(hours=1), open_now=False, next_opening=monday
        )
    )
    engine = engine_with(behaviour, catalog, detector, outlook)
    italian = await engine.handle(pending("che vergogna", language="it"))
    english = await engine.handle(pending("/human", language="en"))
    assert italian.replies[0].text == (
        behaviour.text("handoff_sentiment", "it")
        + " Il servizio clienti ora è chiuso: saremo di nuovo qui lunedì alle 09:00."
    )
    assert english.replies[0].text.endswith("someone will be back Monday at 09:00.")
    assert "waiting" not in english.replies[0].text  # no wait estimate while closed


async def test_rasa_down_notice_gets_the_outlook_too(behaviour, catalog, detector) -> None:
    saturday = datetime(2025, 6, 7, 9, 0, tzinfo=ROME)
    outlook = FakeOutlook(HandoffForecast(waiting=0, open_now=False, next_opening=saturday))
    engine = engine_with(behaviour, catalog, detector, outlook, RecordedNlu(down=True))
    outcome = await engine.handle(pending("where is my order?", language="en"))
    assert outcome.handoff_reason == HandoffReason.NLU_UNAVAILABLE
    assert outcome.replies[0].text.startswith(behaviour.text("nlu_unavailable", "en"))
    assert outcome.replies[0].text.endswith("tomorrow at 09:00.")


@pytest.mark.parametrize(
    "outlook", [FakeOutlook(delay=5.0), FakeOutlook(error=RuntimeError("database gone"))]
)
async def test_slow_or_broken_outlook_never_holds_up_the_handoff(
    behaviour, catalog, detector, outlook
) -> None:
    outcome = await engine_with(behaviour, catalog, detector, outlook).handle(
        pending("/human", language="en")
    )
    assert outcome.handoff_reason == HandoffReason.CUSTOMER_REQUEST
    assert outcome.replies[0].text == behaviour.text("handoff_requested", "en")


async def test_outlook_is_asked_only_at_a_handoff(behaviour, catalog, detector) -> None:
    text = "How much is shipping?"
    outlook = FakeOutlook()
    nlu = RecordedNlu({text: faq(text, "faq/shipping_cost")})
    outcome = await engine_with(behaviour, catalog, detector, outlook, nlu).handle(pending(text))
    assert outcome.decision == "faq"
    assert outlook.calls == []
