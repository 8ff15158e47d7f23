"""The conversation engine: what the bot says to one customer message.

The engine decides; it does not store or send. The inbox worker hands it a :class:`PendingInbound`
(the message with its conversation and customer as they were), the engine consults the NLU and
returns
an :class:`Outcome` that the store applies in one transaction. Keeping the engine free of I/O other
than
the NLU call makes every rule here testable with plain values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from bot.faq_catalog import FaqCatalog
from bot.interfaces import LanguageDetector, NluClient, NluUnavailable
from bot.messages import (
    Attachment,
    Channel,
    Choice,
    ConversationState,
    MessageKind,
    NluResult,
    Reply,
)
from bot.settings import Behaviour
from bot.text_matching import command_of, contains_phrase, match_choice

log = logging.getLogger(__name__)

FAQ_INTENT = "faq"
AWAITING_HANDOFF_OFFER = "handoff_offer"
HANDOFF_YES = "handoff:yes"
HANDOFF_NO = "handoff:no"
# A detection at least this sure switches the conversation's language; weaker ones only break ties.
LANGUAGE_SWITCH_CONFIDENCE = 0.8


class HandoffReason:
    """Why a conversation was handed to a person (stored with the handoff)."""

    CUSTOMER_REQUEST = "customer_request"
    FALLBACK = "fallback"
    NLU_UNAVAILABLE = "nlu_unavailable"
    ENGINE_ERROR = "engine_error"


@dataclass(frozen=True, slots=True)
class ConversationSnapshot:
    id: int
    channel: Channel
    state: ConversationState
    language: str | None
    fallback_streak: int
    awaiting: str | None


@dataclass(frozen=True, slots=True)
class CustomerSnapshot:
    id: int
    platform_id: str
    display_name: str | None
    language: str | None
    language_hint: str | None


@dataclass(frozen=True, slots=True)
class PendingInbound:
    """An unprocessed customer message with the context the engine needs."""

    message_id: int
    conversation: ConversationSnapshot
    customer: CustomerSnapshot
    text: str
    created_at: datetime
    payload: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What handling one message changes: replies to queue and the conversation's new state."""

    language: str
    replies: tuple[Reply, ...]
    state: ConversationState
    fallback_streak: int
    awaiting: str | None
    nlu: NluResult | None = None
    handoff_reason: str | None = None
    handoff_detail: str | None = None
    decision: str = ""  # a short label for logs and tests: "faq", "fallback", "handoff", ...
    extra: dict[str, str] = field(default_factory=dict)


class ConversationEngine:
    """Turns one customer message into an :class:`Outcome`."""

    def __init__(
        self,
        behaviour: Behaviour,
        faqs: FaqCatalog,
        nlu: NluClient,
        language_detector: LanguageDetector,
    ) -> None:
        self._behaviour = behaviour
        self._faqs = faqs
        self._nlu = nlu
        self._detector = language_detector
        self._handoff_phrases = [
            phrase for phrases in behaviour.handoff.keywords.values() for phrase in phrases
        ]

    # ---------------------------------------------------------------------------------------------

    def choose_language(self, pending: PendingInbound) -> str:
        """The language to answer in: a confident detection, else what we know of the customer."""
        languages = self._behaviour.languages
        detected = self._detector.detect(pending.text) if pending.text else None
        if detected and detected[1] >= LANGUAGE_SWITCH_CONFIDENCE and detected[0] in languages:
            return detected[0]
        for candidate in (
            pending.conversation.language,
            pending.customer.language,
            _base_language(pending.customer.language_hint),
            detected[0] if detected else None,
        ):
            if candidate in languages:
                return candidate
        return self._behaviour.default_language

    def handoff_choices(self, language: str) -> tuple[Choice, ...]:
        return (
            Choice(self._behaviour.text("choice_yes", language), HANDOFF_YES),
            Choice(self._behaviour.text("choice_no", language), HANDOFF_NO),
        )

    async def handle(self, pending: PendingInbound) -> Outcome:
        """Decide the bot's answer to ``pending``."""
        language = self.choose_language(pending)
        conversation = pending.conversation

        if conversation.state in (ConversationState.WAITING, ConversationState.AGENT):
            # A person owns (or is about to own) the conversation: the bot stays silent.
            return self._keep(pending, language, decision="silent")

        text = pending.text.strip()
        command = command_of(text)
        if command == "/start":
            return self._say(pending, language, "greet", decision="greet", streak=0)
        if command in self._behaviour.handoff.commands or (
            command is None and contains_phrase(text, self._handoff_phrases)
        ):
            return self._handoff(pending, language, HandoffReason.CUSTOMER_REQUEST, text)

        if conversation.awaiting == AWAITING_HANDOFF_OFFER:
            answer = self._answer_to_offer(pending, language)
            if answer == HANDOFF_YES:
                return self._handoff(pending, language, HandoffReason.FALLBACK, "offer accepted")
            if answer == HANDOFF_NO:
                return self._say(
                    pending, language, "offer_declined", decision="offer_declined", streak=0
                )

        if not text:
            # Media, a location or a voice note: kept for an agent, the bot can't read it.
            return self._say(pending, language, "text_only", decision="media")

        try:
            nlu = await self._nlu.parse(text)
        except NluUnavailable as exc:
            log.warning("NLU unavailable, handing off: %s", exc)
            return self._handoff(
                pending, language, HandoffReason.NLU_UNAVAILABLE, str(exc), notice="nlu_unavailable"
            )
        return self._decide(pending, language, nlu)

    # ---------------------------------------------------------------------------------------------

    def _decide(self, pending: PendingInbound, language: str, nlu: NluResult) -> Outcome:
        threshold = self._behaviour.nlu.threshold
        confident = nlu.intent is not None and nlu.confidence >= threshold
        intent = nlu.intent if confident else None

        if intent == FAQ_INTENT:
            answer = (
                self._faqs.answer(nlu.faq_key, language)
                if nlu.faq_key and nlu.faq_confidence >= self._behaviour.nlu.faq_threshold
                else None
            )
            if answer is not None:
                return Outcome(
                    language=language,
                    replies=(Reply(answer),),
                    state=ConversationState.BOT,
                    fallback_streak=0,
                    awaiting=None,
                    nlu=nlu,
                    decision="faq",
                )
        elif intent == "ask_human":
            return self._handoff(pending, language, HandoffReason.CUSTOMER_REQUEST, "nlu", nlu=nlu)
        elif intent in ("greet", "goodbye", "thanks", "bot_challenge"):
            return self._say(pending, language, intent, decision=intent, streak=0, nlu=nlu)
        elif intent == "feedback_negative":
            return self._offer_human(pending, language, nlu, text_key="sorry_offer_human")
        elif intent in ("affirm", "deny"):
            return self._say(pending, language, "how_can_i_help", decision=intent, nlu=nlu)
        return self._fallback(pending, language, nlu, out_of_scope=intent == "out_of_scope")

    def _fallback(
        self, pending: PendingInbound, language: str, nlu: NluResult, *, out_of_scope: bool
    ) -> Outcome:
        streak = pending.conversation.fallback_streak + 1
        if streak >= self._behaviour.fallback.offer_human_after:
            return self._offer_human(pending, language, nlu, text_key="offer_human", streak=streak)
        key = "out_of_scope" if out_of_scope else "rephrase"
        return self._say(pending, language, key, decision="fallback", streak=streak, nlu=nlu)

    def _offer_human(
        self,
        pending: PendingInbound,
        language: str,
        nlu: NluResult | None,
        *,
        text_key: str,
        streak: int | None = None,
    ) -> Outcome:
        reply = Reply(self._behaviour.text(text_key, language), self.handoff_choices(language))
        return Outcome(
            language=language,
            replies=(reply,),
            state=ConversationState.BOT,
            fallback_streak=pending.conversation.fallback_streak if streak is None else streak,
            awaiting=AWAITING_HANDOFF_OFFER,
            nlu=nlu,
            decision="offer_human",
        )

    def _answer_to_offer(self, pending: PendingInbound, language: str) -> str | None:
        choices = self.handoff_choices(language)
        if pending.payload in (HANDOFF_YES, HANDOFF_NO):
            return pending.payload
        synonyms = {
            HANDOFF_YES: self._behaviour.handoff.accept_words,
            HANDOFF_NO: self._behaviour.handoff.decline_words,
        }
        choice = match_choice(pending.text, choices, synonyms)
        return choice.payload if choice else None

    def _handoff(
        self,
        pending: PendingInbound,
        language: str,
        reason: str,
        detail: str,
        *,
        notice: str = "handoff_requested",
        nlu: NluResult | None = None,
    ) -> Outcome:
        return Outcome(
            language=language,
            replies=(Reply(self._behaviour.text(notice, language), kind=MessageKind.NOTICE),),
            state=ConversationState.WAITING,
            fallback_streak=0,
            awaiting=None,
            nlu=nlu,
            handoff_reason=reason,
            handoff_detail=detail[:500],
            decision="handoff",
        )

    def _say(
        self,
        pending: PendingInbound,
        language: str,
        text_key: str,
        *,
        decision: str,
        streak: int | None = None,
        nlu: NluResult | None = None,
    ) -> Outcome:
        return Outcome(
            language=language,
            replies=(Reply(self._behaviour.text(text_key, language)),),
            state=ConversationState.BOT,
            fallback_streak=pending.conversation.fallback_streak if streak is None else streak,
            awaiting=None,
            nlu=nlu,
            decision=decision,
        )

    def _keep(self, pending: PendingInbound, language: str, *, decision: str) -> Outcome:
        conversation = pending.conversation
        return Outcome(
            language=language,
            replies=(),
            state=conversation.state,
            fallback_streak=conversation.fallback_streak,
            awaiting=conversation.awaiting,
            decision=decision,
        )


def _base_language(tag: str | None) -> str | None:
    """``"it-IT"`` → ``"it"``."""
    return tag.split("-", 1)[0].split("_", 1)[0].lower() if tag else None
