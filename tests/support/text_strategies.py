"""Hypothesis text strategies that only produce text a tf.string can hold (valid UTF-8).

`st.characters()` alone draws lone surrogates (category Cs, e.g. '\\ud800'), which UTF-8 cannot
encode: a test fed one fails in `tf.constant` before it reaches the tokenizer under test. Every text
strategy of the suite is built here so that none can draw one.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

UTF8_CHARACTERS = st.characters(codec="utf-8")


def utf8_text(*, extra: Sequence[str] = (), max_size: int) -> st.SearchStrategy[str]:
    """Text of at most `max_size` characters, each a UTF-8-encodable one or one of `extra`.

    `extra` holds hand-picked tricky characters mixed in more often than chance would draw them;
    each must be valid UTF-8 itself.
    """
    for char in extra:
        char.encode("utf-8")  # a lone surrogate among them raises here, at collection
    alphabet = st.one_of(UTF8_CHARACTERS, st.sampled_from(list(extra))) if extra else UTF8_CHARACTERS
    return st.text(alphabet=alphabet, max_size=max_size)
