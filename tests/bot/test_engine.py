"""The engine's decisions, with recorded NLU answers (the end-to-end tests use the real Rasa)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.engine import (
    AWAITING_HANDOFF_OFFER,
    HANDOFF_YES,
    ConversationEngine,
    ConversationSnapshot,
    CustomerSnapshot,
    HandoffReason,
    PendingInbound,
)
from bot.faq_catalog import FaqCatalog
from bot.messages import Channel, ConversationState, MessageKind, NluResult
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
