"""Review-queue items as Rasa 3 ``nlu.yml`` training examples (``carebot nlu export-review``).

Examples marked "add to FAQ X" go under the retrieval intent ``faq/<key>`` they belong to; those
marked "new FAQ" under a placeholder ``faq/new_<n>`` per language with a comment saying so, since
only a person can name the new FAQ and write its answer in nlu/answers/faq.yml.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import yaml

from bot.storage.review_queue import NEW_FAQ, ReviewItemView

PLACEHOLDER = "faq/new_from_review"


def review_nlu_yaml(items: Iterable[ReviewItemView]) -> str:
    """A valid Rasa 3.1 NLU file: one ``intent``/``examples`` block per target."""
    groups: dict[str, list[str]] = defaultdict(list)
    for item in items:
        target = item.target_faq or item.faq_key or NEW_FAQ
        name = PLACEHOLDER if target == NEW_FAQ else target
        text = " ".join(item.text.split())
        if text and text not in groups[name]:
            groups[name].append(text)
    lines = ['version: "3.1"', "", "# Exported from carebot's review queue.", "nlu:"]
    for name in sorted(groups):
        if name == PLACEHOLDER:
            lines.append(
                "# New FAQ: rename this intent to faq/<key> and add its answer to"
                " nlu/answers/faq.yml before training."
            )
        lines.append(f"- intent: {name}")
        lines.append("  examples: |")
        # Each example is one line of the block; YAML-quoting is not needed inside a block
        # scalar, but a leading "- " keeps Rasa's Markdown-like list format.
        lines.extend(f"    - {text}" for text in groups[name])
        lines.append("")
    if not groups:
        lines[-1] = "nlu: []"
    text = "\n".join(lines).rstrip("\n") + "\n"
    yaml.safe_load(text)  # never write a file Rasa cannot read
    return text
