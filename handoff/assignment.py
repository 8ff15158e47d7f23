"""Choosing the agent for a waiting conversation when auto-assignment is on.

A pure function, so the rule (language first, then the least busy) is testable without a database:
the available agent who speaks the conversation's language with the fewest open conversations;
if nobody available speaks it, the least busy available agent at all, because a customer waiting
for a person is worse than one answered in a second language. Ties go to the lowest id, so the
choice is stable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from handoff.views import AgentView


def choose_agent(
    language: str | None, agents: Sequence[AgentView], open_counts: Mapping[int, int]
) -> AgentView | None:
    """The agent to assign, or None when nobody is available."""
    if not agents:
        return None
    speakers = [a for a in agents if language is not None and language in a.languages]
    pool = speakers or list(agents)
    return min(pool, key=lambda a: (open_counts.get(a.id, a.open_conversations), a.id))
