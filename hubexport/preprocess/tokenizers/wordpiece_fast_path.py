"""Which lines tf.text's BERT ops (FastBertNormalizer, then FastWordpieceTokenizer splitting and
applying WordPiece end to end, i.e. FastBertTokenizer) tokenize exactly like HF.

FastBertNormalizer works character by character (its own tables: NFKC-style compatibility
mappings, controls to spaces, ...), and the end-to-end WordPiece splits on its own whitespace
and punctuation sets with a byte limit per word. On most characters this agrees with HF; this
module finds those characters by running tf.text itself on every candidate code point and
comparing with HF's tables (`pre_tokenizers.bert_char_table`), so the answer follows the installed tf.text. A
line made only of agreeing characters, with no word that tf.text's byte limit could cut
differently from HF's character limit, can take the fast ops; any other line takes the exact
path.

Agreeing means: HF maps the character to exactly one character (no removal, no expansion, no
mark that NFD could move, so offsets map one to one) and tf.text maps it to the same character
with the same role (word character, isolated punctuation/CJK, or whitespace).
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from hubexport.preprocess.pre_tokenizers import bert_char_table as table_lib

CANDIDATES_END = 0x30000  # probe the BMP and the supplementary planes in use; the rest is slow
PRIVATE_USE = (0xE000, 0xF900)
# Words of at most 25 characters are at most 100 bytes: tf.text's 100-byte word limit and
# HF's 100-character limit then both leave them alone. (Printable ASCII, one byte a character,
# meets the byte limit exactly as HF meets the character limit.)
MAX_WORD_CHARS = 25
ASCII_LINE = r"[\t\n\r\x20-\x7e]*"
ASCII = np.array([9, 10, 13, *range(0x20, 0x7F)], np.int32)


def fast_normalizer_lowercases(lowercase: bool, strip_accents: bool) -> bool:
    """FastBertNormalizer's `lower_case_nfd_strip_accents` for an HF configuration."""
    return lowercase and strip_accents


def ascii_lowercase_first(lowercase: bool, strip_accents: bool) -> bool:
    """Whether the fast path lowercases ASCII itself first (HF lowercasing without stripping)."""
    return lowercase and not strip_accents


def _hf_facts(table: table_lib.CharTable, cps: np.ndarray):
    packed = table.packed[table.blocks[cps >> table_lib.BLOCK_BITS] + cps].astype(np.int64)
    count = (packed >> table_lib.COUNT_SHIFT) & table_lib.COUNT_MASK
    mark = (packed >> table_lib.MARK_SHIFT) & 1
    kind = packed & table_lib.KIND_MASK
    code = cps + (packed >> table_lib.DELTA_SHIFT)
    return (count == 1) & (mark == 0), kind, code


def _utf8(code_points: np.ndarray) -> tf.Tensor:
    """One string per code point."""
    return tf.strings.unicode_encode(tf.RaggedTensor.from_tensor(code_points[:, None]), "UTF-8")


def _tf_facts(cps: np.ndarray, lowercase: bool, strip_accents: bool):
    """tf.text's normalization of each code point, when it is exactly one character (else -1),
    and that character's role: the number of tokens FastWordpieceTokenizer makes of it between
    two 'x' (1: part of the word, 2: whitespace, 3: isolated)."""
    with tf.init_scope():
        chars = _utf8(cps)
        if ascii_lowercase_first(lowercase, strip_accents):
            chars = tf.strings.lower(chars)
        normalizer = tf_text.FastBertNormalizer(
            lower_case_nfd_strip_accents=fast_normalizer_lowercases(lowercase, strip_accents)
        )
        normalized = tf.strings.unicode_decode(normalizer.normalize(chars), "UTF-8")
        first = normalized.to_tensor(default_value=-1, shape=[None, 1])[:, 0]
        code = tf.where(normalized.row_lengths() == 1, first, -1).numpy()
        probe = tf_text.FastWordpieceTokenizer(vocab=["[UNK]", "x"], token_out_type=tf.int32)
        role = probe.tokenize(tf.strings.join(["x", _utf8(np.maximum(code, 0)), "x"]))
        return code, role.row_lengths().numpy()


@functools.cache
def agreeing_code_points(
    lowercase: bool, strip_accents: bool, tokenize_chinese_chars: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted code points where tf.text's BERT ops agree with HF: (word characters,
    separators), separators being whitespace and isolated characters."""
    table = table_lib.build(lowercase, strip_accents, tokenize_chinese_chars)
    cps = np.arange(CANDIDATES_END, dtype=np.int32)
    surrogate = (cps >= 0xD800) & (cps < 0xE000)
    private = (cps >= PRIVATE_USE[0]) & (cps < PRIVATE_USE[1])
    cps = cps[~surrogate & ~private]
    one_to_one, kind, hf_code = _hf_facts(table, cps)
    tf_code, role = _tf_facts(cps, lowercase, strip_accents)
    word = one_to_one & (kind == table_lib.WORD) & (tf_code == hf_code) & (role == 1)
    isolated = one_to_one & (kind == table_lib.ISOLATED) & (tf_code == hf_code) & (role == 3)
    space = one_to_one & (kind == table_lib.SPACE) & (tf_code >= 0) & (role == 2)
    agreeing = cps[word | isolated | space]
    if not np.isin(ASCII, agreeing).all():
        raise RuntimeError("tf.text's BERT ops disagree with HF on printable ASCII")
    return cps[word], cps[isolated | space]


def _re2_class(code_points: np.ndarray, negate: bool = False) -> str:
    breaks = np.flatnonzero(np.diff(code_points) != 1)
    firsts = np.concatenate([code_points[:1], code_points[breaks + 1]])
    lasts = np.concatenate([code_points[breaks], code_points[-1:]])
    spans = "".join(f"\\x{{{a:x}}}" + (f"-\\x{{{b:x}}}" if b > a else "") for a, b in zip(firsts, lasts))
    return ("[^" if negate else "[") + spans + "]"


def line_patterns(lowercase: bool, strip_accents: bool, tokenize_chinese_chars: bool) -> tuple[str, str]:
    """RE2 patterns for whole lines: one matches lines of agreeing characters only, the other
    lines with a run of more than MAX_WORD_CHARS non-separators (a word that could exceed
    tf.text's 100-byte limit while within HF's 100 characters)."""
    word, separator = agreeing_code_points(lowercase, strip_accents, tokenize_chinese_chars)
    agreeing = _re2_class(np.union1d(word, separator)) + "*"
    long_word = f"(?s).*{_re2_class(separator, negate=True)}{{{MAX_WORD_CHARS + 1}}}.*"
    return agreeing, long_word
