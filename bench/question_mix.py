"""The questions the NLU-path benchmark asks: what the shop's customers type, in two languages.

They are paraphrases, not copies of the training examples, because Rasa's cost and the engine's
decisions (FAQ answer, rephrase request, offer of a person) depend on how well a text matches; a
benchmark fed the training set would measure a friendlier world than production. About one question
in seven is out of scope, so the fallback path is part of the mix as it is in real traffic.

None of them contains a handoff keyword ("operator", "agent", "operatore", ...): a handed-off
conversation goes silent by design, and a benchmark customer waiting for a reply that never comes
would measure the timeout instead of the gateway.
"""

from __future__ import annotations

FAQ_ENGLISH: tuple[str, ...] = (
    "hi, my parcel still hasn't shown up, where is it?",
    "how long does delivery take to Milan?",
    "how much do you charge for shipping?",
    "is shipping free above a certain amount?",
    "can I return a pair of shoes that don't fit?",
    "when will I get my money back for the return?",
    "I need to cancel the order I made yesterday",
    "I typed the wrong delivery address, can I fix it?",
    "which payment methods do you accept?",
    "my card payment keeps failing, what should I do",
    "do you ship to Switzerland?",
    "I forgot my password and can't log in",
    "how do I get an invoice for my purchase?",
    "my discount code doesn't work at checkout",
    "the blender arrived broken, what now?",
    "how long is the warranty on electronics?",
    "can I swap the jacket for a bigger size?",
    "is the red kettle back in stock?",
    "what are the opening hours of your shop in Bologna?",
    "can I pick up my order in store?",
    "how do I unsubscribe from the newsletter?",
    "do you sell gift cards?",
    "I want to delete my account",
    "what time is customer service open?",
)

FAQ_ITALIAN: tuple[str, ...] = (
    "buongiorno, il mio pacco non è ancora arrivato, dove si trova?",
    "quanto ci mette la consegna a Napoli?",
    "quanto costa la spedizione?",
    "la spedizione è gratis sopra una certa cifra?",
    "posso restituire un paio di scarpe che non mi vanno bene?",
    "quando mi arriva il rimborso del reso?",
    "devo annullare l'ordine che ho fatto ieri",
    "ho sbagliato l'indirizzo di consegna, si può correggere?",
    "quali metodi di pagamento accettate?",
    "il pagamento con la carta non va a buon fine, cosa faccio",
    "spedite anche in Svizzera?",
    "ho dimenticato la password e non riesco ad accedere",
    "come posso avere la fattura del mio acquisto?",
    "il codice sconto non funziona al checkout",
    "il frullatore è arrivato rotto, come faccio?",
    "quanto dura la garanzia sull'elettronica?",
    "posso cambiare la giacca con una taglia più grande?",
    "il bollitore rosso è di nuovo disponibile?",
    "che orari ha il vostro negozio di Bologna?",
    "posso ritirare l'ordine in negozio?",
    "come mi cancello dalla newsletter?",
    "vendete buoni regalo?",
    "voglio eliminare il mio account",
    "a che ora apre il servizio clienti?",
)

OUT_OF_SCOPE: tuple[str, ...] = (
    "what's the weather like in Turin tomorrow?",
    "who won the match last night?",
    "can you recommend a good pizza place?",
    "tell me a joke about cats",
    "che tempo fa domani a Firenze?",
    "chi ha vinto la partita ieri?",
    "mi consigli un buon ristorante in centro?",
    "raccontami una barzelletta",
)


def question_mix() -> tuple[str, ...]:
    """Every question once, languages interleaved and the out-of-scope ones spread evenly.

    Interleaving matters because each customer walks the mix from its own offset: any window of it
    then has both languages and, every few turns, an out-of-scope question.
    """
    faqs = [q for pair in zip(FAQ_ENGLISH, FAQ_ITALIAN, strict=True) for q in pair]
    every = len(faqs) // len(OUT_OF_SCOPE)
    mixed: list[str] = []
    for index, question in enumerate(faqs):
        mixed.append(question)
        if index % every == every - 1 and index // every < len(OUT_OF_SCOPE):
            mixed.append(OUT_OF_SCOPE[index // every])
    return tuple(mixed)


def questions_for(worker: int, count: int) -> list[str]:
    """The ``count`` questions worker ``worker`` asks, in order.

    Workers start at different offsets (a stride coprime with the mix length) so that concurrent
    customers ask different things at the same moment, as real ones do, while the raw Rasa run and
    the gateway run still send exactly the same texts.
    """
    mix = question_mix()
    stride = 7 if len(mix) % 7 else 11
    start = (worker * stride) % len(mix)
    return [mix[(start + turn) % len(mix)] for turn in range(count)]
