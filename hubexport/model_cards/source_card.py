"""Language and license of a source checkpoint, from its Hugging Face model card.

A Hugging Face model directory's `README.md` starts with YAML front matter (`language:`,
`license:` ...). The exported model card repeats those two facts only where the source states
them; nothing is guessed.
"""

from __future__ import annotations

import os
import pathlib

import yaml

CARD_KEYS = ("language", "license")


def source_card_facts(checkpoint_dir: str | os.PathLike) -> dict[str, str]:
    """`language` and `license` from `checkpoint_dir/README.md`'s front matter (absent keys left out)."""
    card = pathlib.Path(checkpoint_dir) / "README.md"
    if not card.is_file():
        return {}
    text = card.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return {}
    front_matter, separator, _ = text[3:].partition("\n---")
    if not separator:
        return {}
    try:
        fields = yaml.safe_load(front_matter)
    except yaml.YAMLError:
        return {}
    if not isinstance(fields, dict):
        return {}
    facts = {}
    for key in CARD_KEYS:
        value = fields.get(key)
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        if value:
            facts[key] = str(value)
    return facts
