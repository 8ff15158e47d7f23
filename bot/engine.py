"""The conversation engine: what the bot says to one customer message.

The engine decides; it does not store or send. The inbox worker hands it a :class:`PendingInbound`
(the message with its conversation and customer as they were), the engine consults the NLU and
returns an :class:`Outcome` that the store applies in one transaction. Keeping the engine free of
I/O other than the NLU call (and, at a handoff, the :class:`~bot.interfaces.HandoffOutlook` for the
notice) makes every rule here testable with plain values.

Handoff triggers, in the order they are checked: the customer asks for a person (command or
keyword), angry keywords (``handoff.sentiment``), a yes to an offered person, the NLU unavailable,
then on the NLU's understanding a ``handoff.rules`` entry (e.g. ``faq/complaint``), the
``ask_human`` and ``feedback_negative`` intents, and the fallback streak. While a person owns the
conversation none of them applies: the bot stays silent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.faq_catalog import FaqCatalog
from bot.handoff_notice import handoff_notice
from bot.interfaces import (
    HandoffForecast,
    HandoffOutlook,
    LanguageDetector,
    NluClient,
    NluUnavailable,
)
from bot.messages import (
    Attachment,
    Channel,
    Choice,
    ConversationState,
    MessageKind,
    NluResult,
    Reply,
)
from bot.settings import Behaviour, ConfigError, TriggerAction
from bot.text_matching import PhraseSet, command_of, match_choice

log = logging.getLogger(__name__)

FAQ_INTENT = "faq"
AWAITING_HANDOFF_OFFER = "handoff_offer"  # offered after fallbacks
AWAITING_SENTIMENT_OFFER = "handoff_offer:sentiment"  # offered to an unhappy customer
HANDOFF_OFFERS = {AWAITING_HANDOFF_OFFER, AWAITING_SENTIMENT_OFFER}
HANDOFF_YES = "handoff:yes"
HANDOFF_NO = "handoff:no"
# A detection at least this sure switches the conversation's language; weaker ones only break ties.
LANGUAGE_SWITCH_CONFIDENCE = 0.8
# The handoff notice waits this long for the queue and business hours, then goes out plain.
OUTLOOK_TIMEOUT_S = 1.0


class HandoffReason:
    """Why a conversation was handed to a person (stored with the handoff)."""

    CUSTOMER_REQUEST = "customer_request"
    FALLBACK = "fallback"
    SENTIMENT = "sentiment"  # angry keywords, or the NLU's feedback_negative
    RULE = "rule"  # an FAQ or intent of handoff.rules (e.g. faq/complaint)
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
    """Turns one customer message into an :class:`Outcome`.

    ``outlook``, when given, is asked about the queue and business hours at each handoff so that
    the notice can tell the expected wait or when someone is back; ``clock`` is its "now".
    """

    def __init__(
        self,
        behaviour: Behaviour,
        faqs: FaqCatalog,
        nlu: NluClient,
        language_detector: LanguageDetector,
        *,
        outlook: HandoffOutlook | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._behaviour = behaviour
        self._faqs = faqs
        self._nlu = nlu
        self._detector = language_detector
        self._outlook = outlook
        self._clock = clock
        handoff = behaviour.handoff
        self._handoff_phrases = PhraseSet(
            phrase for phrases in handoff.keywords.values() for phrase in phrases
        )
        self._angry_phrases = PhraseSet(
            [phrase for phrases in handoff.sentiment.keywords.values() for phrase in phrases]
            if handoff.sentiment.keywords_action != "off"
            else []
        )
        unknown = [r for r in handoff.rules if r.startswith(f"{FAQ_INTENT}/") and r not in faqs]
        if unknown:
            raise ConfigError(f"handoff.rules: {unknown[0]} is not an FAQ of the answers file")
        self._rules = frozenset(handoff.rules)

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
            command is None and self._handoff_phrases.find(text)
        ):
            return await self._handoff(pending, language, HandoffReason.CUSTOMER_REQUEST, text)
        angry = self._angry_phrases.find(text) if command is None else None
        if angry is not None:
            action = self._behaviour.handoff.sentiment.keywords_action
            return await self._unhappy(pending, language, action, f"keyword: {angry}", None)

        if conversation.awaiting in HANDOFF_OFFERS:
            answer = self._answer_to_offer(pending, language)
            if answer == HANDOFF_YES:
                reason = (
                    HandoffReason.SENTIMENT
                    if conversation.awaiting == AWAITING_SENTIMENT_OFFER
                    else HandoffReason.FALLBACK
                )
                return await self._handoff(pending, language, reason, "offer accepted")
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
            if not self._behaviour.handoff.on_nlu_unavailable:
                log.warning("NLU unavailable, asking to try again: %s", exc)
                return self._say(
                    pending, language, "nlu_unavailable_no_handoff", decision="nlu_unavailable"
                )
            log.warning("NLU unavailable, handing off: %s", exc)
            return await self._handoff(
                pending, language, HandoffReason.NLU_UNAVAILABLE, str(exc), notice="nlu_unavailable"
            )
        return await self._decide(pending, language, nlu)

    # ---------------------------------------------------------------------------------------------

    async def _decide(self, pending: PendingInbound, language: str, nlu: NluResult) -> Outcome:
        threshold = self._behaviour.nlu.threshold
        confident = nlu.intent is not None and nlu.confidence >= threshold
        intent = nlu.intent if confident else None

        rule = self._rule_for(intent, nlu)
        if rule is not None:
            return await self._handoff(
                pending, language, HandoffReason.RULE, f"rule: {rule}", nlu=nlu
            )
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
            return await self._handoff(
                pending, language, HandoffReason.CUSTOMER_REQUEST, "nlu", nlu=nlu
            )
        elif intent in ("greet", "goodbye", "thanks", "bot_challenge"):
            return self._say(pending, language, intent, decision=intent, streak=0, nlu=nlu)
        elif (
            intent == "feedback_negative"
            and self._behaviour.handoff.sentiment.intent_action != "off"
        ):
            action = self._behaviour.handoff.sentiment.intent_action
            return await self._unhappy(pending, language, action, f"intent: {intent}", nlu)
        elif intent in ("affirm", "deny"):
            return self._say(pending, language, "how_can_i_help", decision=intent, nlu=nlu)
        return self._fallback(pending, language, nlu, out_of_scope=intent == "out_of_scope")

    def _rule_for(self, intent: str | None, nlu: NluResult) -> str | None:
        """The ``handoff.rules`` entry this understanding matches: its FAQ key or its intent."""
        if not self._rules or intent is None:
            return None
        if (
            intent == FAQ_INTENT
            and nlu.faq_key in self._rules
            and nlu.faq_confidence >= self._behaviour.nlu.faq_threshold
        ):
            return nlu.faq_key
        return intent if intent in self._rules else None

    async def _unhappy(
        self,
        pending: PendingInbound,
        language: str,
        action: TriggerAction,
        detail: str,
        nlu: NluResult | None,
    ) -> Outcome:
        """An angry or disappointed customer: a person at once, or the offer of one."""
        if action == "handoff":
            return await self._handoff(
                pending,
                language,
                HandoffReason.SENTIMENT,
                detail,
                notice="handoff_sentiment",
                nlu=nlu,
            )
        return self._offer_human(
            pending,
            language,
            nlu,
            text_key="sorry_offer_human",
            awaiting=AWAITING_SENTIMENT_OFFER,
        )

    def _fallback(
        self, pending: PendingInbound, language: str, nlu: NluResult, *, out_of_scope: bool
    ) -> Outcome:
        streak = pending.conversation.fallback_streak + 1
        offer_after = self._behaviour.fallback.offer_human_after
        if offer_after and streak >= offer_after:
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
        awaiting: str = AWAITING_HANDOFF_OFFER,
    ) -> Outcome:
        reply = Reply(self._behaviour.text(text_key, language), self.handoff_choices(language))
        return Outcome(
            language=language,
            replies=(reply,),
            state=ConversationState.BOT,
            fallback_streak=pending.conversation.fallback_streak if streak is None else streak,
            awaiting=awaiting,
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

    async def _handoff(
        self,
        pending: PendingInbound,
        language: str,
        reason: str,
        detail: str,
        *,
        notice: str = "handoff_requested",
        nlu: NluResult | None = None,
    ) -> Outcome:
        now = self._clock()
        text = handoff_notice(self._behaviour, language, notice, await self._forecast(now), now)
        return Outcome(
            language=language,
            replies=(Reply(text, kind=MessageKind.NOTICE),),
            state=ConversationState.WAITING,
            fallback_streak=0,
            awaiting=None,
            nlu=nlu,
            handoff_reason=reason,
            handoff_detail=detail[:500],
            decision="handoff",
        )

    async def _forecast(self, now: datetime) -> HandoffForecast | None:
        """The outlook's forecast, or None: a slow or broken outlook never holds a handoff up."""
        if self._outlook is None:
            return None
        try:
            async with asyncio.timeout(OUTLOOK_TIMEOUT_S):
                return await self._outlook.forecast(now)
        except TimeoutError:
            log.warning("handoff outlook took over %.1f s; plain notice", OUTLOOK_TIMEOUT_S)
        except Exception:
            log.exception("handoff outlook failed; plain notice")
        return None

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
