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

Feedback (asking for it, reading ratings and comments) follows :mod:`bot.feedback_rules`; the
outcome carries what to store (:attr:`Outcome.feedback`) and which question to put in the review
queue (:attr:`Outcome.review_reason`), so the store records them with the rest of the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.faq_catalog import FaqCatalog
from bot.feedback_rules import (
    AWAITING_COMMENT,
    AWAITING_HELPFUL,
    AWAITING_RATING,
    HELPFUL_CHOICES,
    HELPFUL_NO,
    HELPFUL_YES,
    FeedbackEntry,
    FeedbackKind,
    ReviewReason,
    read_helpful,
    read_rating,
)
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
    helpful_asked: bool = False  # "was this helpful?" already asked in this conversation


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
    feedback: FeedbackEntry | None = None  # a rating or comment read from this message
    review_reason: str | None = None  # put a question in the review queue (ReviewReason)
    asks_helpful: bool = False  # the replies include the once-per-conversation helpful request


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
        # An invited comment is read by the NLU, not by keywords: "the agent was rude" is a
        # comment on the agent, not a request for one (commands still work).
        keywords = command is None and conversation.awaiting != AWAITING_COMMENT
        if command in self._behaviour.handoff.commands or (
            keywords and self._handoff_phrases.find(text)
        ):
            return await self._handoff(pending, language, HandoffReason.CUSTOMER_REQUEST, text)
        angry = self._angry_phrases.find(text) if keywords else None
        if angry is not None:
            action = self._behaviour.handoff.sentiment.keywords_action
            return await self._unhappy(pending, language, action, f"keyword: {angry}", None)

        answered = self._answer_to_feedback_request(pending, language)
        if answered is not None:
            return answered

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
            if conversation.awaiting == AWAITING_COMMENT:
                # Can't tell a comment from a question without the NLU: keep it as the comment
                # it was invited as, rather than hand off a customer who just rated us.
                return self._comment(pending, language, None)
            if not self._behaviour.handoff.on_nlu_unavailable:
                log.warning("NLU unavailable, asking to try again: %s", exc)
                return self._say(
                    pending, language, "nlu_unavailable_no_handoff", decision="nlu_unavailable"
                )
            log.warning("NLU unavailable, handing off: %s", exc)
            return await self._handoff(
                pending, language, HandoffReason.NLU_UNAVAILABLE, str(exc), notice="nlu_unavailable"
            )
        if conversation.awaiting == AWAITING_COMMENT and not self._is_new_question(nlu):
            return self._comment(pending, language, nlu)
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
                return self._faq_answer(pending, language, answer, nlu)
        elif intent == "ask_human":
            return await self._handoff(
                pending, language, HandoffReason.CUSTOMER_REQUEST, "nlu", nlu=nlu, review=False
            )
        elif intent in ("greet", "goodbye", "thanks", "bot_challenge"):
            return self._say(pending, language, intent, decision=intent, streak=0, nlu=nlu)
        elif intent == "feedback_positive":
            return self._comment(pending, language, nlu)
        elif intent == "feedback_negative":
            action = self._behaviour.handoff.sentiment.intent_action
            if action == "off":
                return self._comment(pending, language, nlu)
            unhappy = await self._unhappy(pending, language, action, f"intent: {intent}", nlu)
            return replace(
                unhappy, feedback=FeedbackEntry(FeedbackKind.COMMENT, comment=text_of(pending))
            )
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
                review=False,
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
            outcome = self._offer_human(
                pending, language, nlu, text_key="offer_human", streak=streak
            )
        else:
            key = "out_of_scope" if out_of_scope else "rephrase"
            outcome = self._say(pending, language, key, decision="fallback", streak=streak, nlu=nlu)
        return replace(outcome, review_reason=ReviewReason.FALLBACK)

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
        review: bool = True,
    ) -> Outcome:
        """Hand off; a question the NLU read (a rule, ``ask_human``) goes to the review queue."""
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
            review_reason=ReviewReason.HANDOFF if review and nlu is not None else None,
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

    # ------------------------------------------------------------------------------ feedback

    def _faq_answer(
        self, pending: PendingInbound, language: str, answer: str, nlu: NluResult
    ) -> Outcome:
        """The FAQ's answer, followed the first time in a conversation by "was this helpful?"."""
        replies = [Reply(answer)]
        ask = self._behaviour.feedback.helpful and not pending.conversation.helpful_asked
        if ask:
            replies.append(
                Reply(
                    self._behaviour.text("helpful_request", language),
                    HELPFUL_CHOICES,
                    kind=MessageKind.NOTICE,
                )
            )
        return Outcome(
            language=language,
            replies=tuple(replies),
            state=ConversationState.BOT,
            fallback_streak=0,
            awaiting=AWAITING_HELPFUL if ask else None,
            nlu=nlu,
            decision="faq",
            asks_helpful=ask,
        )

    def _answer_to_feedback_request(self, pending: PendingInbound, language: str) -> Outcome | None:
        """The customer's answer to a pending feedback request, or None if this is not one.

        Button payloads count whatever the conversation awaits (a late tap on an old request still
        rates); typed answers only while the request is the last thing asked.
        """
        awaiting = pending.conversation.awaiting
        low = self._behaviour.feedback.low_rating
        if awaiting == AWAITING_HELPFUL or pending.payload in (HELPFUL_YES, HELPFUL_NO):
            words = {
                HELPFUL_YES: self._behaviour.handoff.accept_words,
                HELPFUL_NO: self._behaviour.handoff.decline_words,
            }
            text = pending.text if awaiting == AWAITING_HELPFUL else ""
            helpful = read_helpful(text, pending.payload, words)
            if helpful is not None:
                thumbs = 5 if helpful else 1
                return self._feedback_reply(
                    pending,
                    language,
                    FeedbackEntry(FeedbackKind.HELPFUL, rating=thumbs),
                    review=thumbs <= low,
                )
        rating = read_rating(pending.text if awaiting == AWAITING_RATING else "", pending.payload)
        if rating is not None:
            ask_comment = self._behaviour.feedback.ask_comment
            return self._feedback_reply(
                pending,
                language,
                FeedbackEntry(FeedbackKind.RATING, rating=rating),
                review=rating <= low,
                text_key="feedback_comment_request" if ask_comment else "feedback_thanks",
                awaiting=AWAITING_COMMENT if ask_comment else None,
            )
        return None

    def _feedback_reply(
        self,
        pending: PendingInbound,
        language: str,
        entry: FeedbackEntry,
        *,
        review: bool,
        text_key: str = "feedback_thanks",
        awaiting: str | None = None,
    ) -> Outcome:
        return Outcome(
            language=language,
            replies=(Reply(self._behaviour.text(text_key, language)),),
            state=ConversationState.BOT,
            fallback_streak=pending.conversation.fallback_streak,
            awaiting=awaiting,
            decision="feedback",
            feedback=entry,
            review_reason=ReviewReason.LOW_RATING if review else None,
        )

    def _is_new_question(self, nlu: NluResult) -> bool:
        """Whether text sent after the comment invitation asks something rather than comments."""
        if nlu.intent is None or nlu.confidence < self._behaviour.nlu.threshold:
            return False
        if nlu.intent == FAQ_INTENT:
            return nlu.faq_key in self._faqs and (
                nlu.faq_confidence >= self._behaviour.nlu.faq_threshold
            )
        return nlu.intent in ("ask_human", "greet", "bot_challenge")

    def _comment(self, pending: PendingInbound, language: str, nlu: NluResult | None) -> Outcome:
        """Free text kept as a comment (invited after a rating, or typed praise or blame)."""
        invited = pending.conversation.awaiting == AWAITING_COMMENT
        outcome = self._say(
            pending,
            language,
            "feedback_comment_thanks" if invited else "feedback_thanks",
            decision="feedback",
            nlu=nlu,
        )
        return replace(
            outcome, feedback=FeedbackEntry(FeedbackKind.COMMENT, comment=text_of(pending))
        )


def text_of(pending: PendingInbound) -> str:
    """The customer's text as a comment (bounded: a comment is not an essay store)."""
    return pending.text.strip()[:2000]


def _base_language(tag: str | None) -> str | None:
    """``"it-IT"`` → ``"it"``."""
    return tag.split("-", 1)[0].split("_", 1)[0].lower() if tag else None
