"""GPT-2 / RoBERTa pre-tokenization (the byte-level BPE split into words) with RE2 in the graph.

Hugging Face splits with
`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`.
RE2 has no look-ahead. The only effect of `\\s+(?!\\S)` is on a whitespace run of two or more
characters followed by a non-space: the run minus its last character becomes one piece, and
matching restarts at that last character (so `"  'x"` gives `" "`, `" '"`, `"x"`). Every piece
boundary of Hugging Face's split therefore also falls right before the last character of such a
run. So one RE2 rewrite puts a sentinel byte (0xFF, never in valid UTF-8) at each such cut, a
second rewrite appends the sentinel to every match of the pattern minus the look-ahead
alternative (RE2 never matches the sentinel, so no match crosses a cut), and one split on the
sentinel yields the pieces. The three character classes are spelled out from
`unicode_tables.gpt2_char_classes`, because RE2's own `\\s`, `\\p{L}` and `\\p{N}` differ from Hugging Face's.
(`tensorflow_text.regex_split` would do the split directly, but it is about 15x slower here and
stops at NUL characters.)
"""

from __future__ import annotations

import tensorflow as tf

from hubexport.preprocess.unicode_tables import gpt2_char_classes

_SENTINEL = b"\xff"


def _class_body(ranges: tuple[tuple[int, int], ...]) -> str:
    """The inside of an RE2 character class `[...]` holding the given code point ranges."""
    return "".join(f"\\x{{{start:X}}}" if start == end else f"\\x{{{start:X}}}-\\x{{{end:X}}}" for start, end in ranges)


_SPACE = _class_body(gpt2_char_classes.WHITESPACE_RANGES)
_LETTER = _class_body(gpt2_char_classes.LETTER_RANGES)
_NUMBER = _class_body(gpt2_char_classes.NUMBER_RANGES)

# Whitespace run of length >= 2, then a non-space: group 1 is the run minus its last character.
CUT_PATTERN = f"([{_SPACE}]+)([{_SPACE}][^{_SPACE}])"
CUT_REWRITE = b"\\1" + _SENTINEL + b"\\2"
# The GPT-2 pattern without its look-ahead alternative `\s+(?!\S)`.
PIECE_PATTERN = f"'s|'t|'re|'ve|'m|'ll|'d| ?[{_LETTER}]+| ?[{_NUMBER}]+| ?[^{_SPACE}{_LETTER}{_NUMBER}]+|[{_SPACE}]+"


def pretokenize_with_offsets(
    strings: tf.Tensor,
) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
    """UTF-8 strings [batch] -> pieces [batch, (pieces)] and their int64 start / end byte offsets.

    Two RE2 rewrites put a sentinel at every cut and after every piece, one split cuts there.
    The split also leaves empty pieces (after the last sentinel, and where a cut follows a piece):
    they hold no text and encode to no tokens, and dropping them would cost more than they do.
    """
    marked = tf.strings.regex_replace(strings, CUT_PATTERN, CUT_REWRITE)
    separated = tf.strings.regex_replace(marked, PIECE_PATTERN, b"\\0" + _SENTINEL)
    pieces = tf.strings.split(separated, sep=_SENTINEL)
    lengths = tf.cast(tf.strings.length(pieces.flat_values), tf.int64)
    running = tf.math.cumsum(lengths, exclusive=True)
    starts = running - tf.repeat(tf.gather(running, pieces.row_starts()), pieces.row_lengths())
    return pieces, pieces.with_flat_values(starts), pieces.with_flat_values(starts + lengths)
