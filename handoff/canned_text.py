"""Filling ``{name}``-style placeholders in canned replies and the agent-name prefix.

Not ``str.format``: an agent's text may hold braces (``{order id}``, JSON, emoticons) and a typo in
a placeholder must not make the reply fail. Unknown placeholders are left exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each known ``{key}`` replaced by ``values[key]``."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
