"""The one policy for input text that is not valid UTF-8: every tokenizer sees it repaired the same way.

Each maximal invalid byte sequence becomes U+FFFD, exactly as Python's `bytes.decode("utf-8",
errors="replace")` does (ICU's transcoder follows the same Unicode "maximal subpart" rule; the tests
check the two agree), so the ids equal Hugging Face's on `raw.decode("utf-8", errors="replace")`.
Valid UTF-8 passes through unchanged, so byte offsets into valid text are offsets into the input;
for repaired text they are offsets into the repaired string (U+FFFD takes 3 bytes).
"""

from __future__ import annotations

import tensorflow as tf

REPLACEMENT_CHARACTER = 0xFFFD


def replace_invalid_utf8(strings: tf.Tensor) -> tf.Tensor:
    """tf.string [batch] -> the same strings with each invalid UTF-8 sequence replaced by U+FFFD."""
    return tf.strings.unicode_transcode(
        strings,
        "UTF-8",
        "UTF-8",
        errors="replace",
        replacement_char=REPLACEMENT_CHARACTER,
        replace_control_characters=False,
    )
