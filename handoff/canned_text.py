"""Filling ``{name}``-style placeholders in canned replies and the agent-name prefix.

Not ``str.format``: an agent's text may hold braces (``{order id}``, JSON, emoticons) and a typo in
a placeholder must not make the reply fail. Unknown placeholders are left exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_PUNCTUATION = ",.;:!?"


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each known ``{key}`` replaced by ``values[key]``.

    A placeholder whose value is empty takes the blank before it along when punctuation follows,
    so "Ciao {name}, ..." reads "Ciao, ..." rather than "Ciao , ...".
    """
    parts: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        value = values.get(match.group(1), match.group(0))
        before = template[position : match.start()]
        following = template[match.end() : match.end() + 1]
        if not value and following and following in _PUNCTUATION:
            before = before.rstrip(" \t")
        parts.extend((before, value))
        position = match.end()
    parts.append(template[position:])
    return "".join(parts)
