"""Choosing the agent for auto-assignment: the language first, then the least busy."""

from __future__ import annotations

from handoff.assignment import choose_agent
from handoff.views import AgentView


def agent(agent_id: int, languages: tuple[str, ...], open_conversations: int = 0) -> AgentView:
    return AgentView(
        id=agent_id,
        username=f"a{agent_id}",
        display_name=f"A{agent_id}",
        languages=languages,
        is_admin=False,
        status="available",
        open_conversations=open_conversations,
    )


def test_a_speaker_of_the_language_wins_even_when_busier() -> None:
    italian = agent(1, ("it",), open_conversations=3)
    english = agent(2, ("en",))
    assert choose_agent("it", [english, italian], {}) == italian


def test_among_speakers_the_least_busy_then_the_lowest_id() -> None:
    agents = [agent(3, ("it",), 2), agent(2, ("it", "en"), 1), agent(1, ("it",), 1)]
    assert choose_agent("it", agents, {}).id == 1  # type: ignore[union-attr]
    assert choose_agent("it", agents, {1: 5}).id == 2  # type: ignore[union-attr]


def test_nobody_speaks_it_anyone_available_answers() -> None:
    agents = [agent(1, ("en",), 2), agent(2, ("en",), 0)]
    assert choose_agent("de", agents, {}).id == 2  # type: ignore[union-attr]
    assert choose_agent(None, agents, {}).id == 2  # type: ignore[union-attr]
    assert choose_agent("it", [], {}) is None
