"""BPE SentencePiece encoding word by word, the way that keeps SentencePiece's BPE cheap.

With SentencePiece's default whitespace handling no BPE merge crosses a space, so a text's pieces
are its space-separated words' pieces (`SentencePieceModel.encodes_words_independently`). More:
a merge can never join two adjacent characters that no piece holds side by side, so a word can be
cut there and its parts encoded on their own (the first with SentencePiece's "▁" prefix, the
others without): BPE merges each part exactly as inside the word. `tokenize` looks distinct words
up in a cache of words seen in earlier calls (`sentencepiece_word_cache`), cuts the others if
they are printable ASCII (their normalization changes nothing), looks their parts up in a table
of the parts that are one piece (checked with the sentencepiece library when the tokenizer is
built) and encodes each remaining distinct part once. Real text repeats words and word parts a
lot, and SentencePiece's BPE is slow.

`tokenize_with_offsets` encodes distinct whole words, with SentencePiece's offsets: a piece that
begins with "▁" starts where the previous piece ends (it covers the whitespace before its word),
the "▁" in front of a text is zero-width.
"""
from __future__ import annotations

import tensorflow as tf
from sentencepiece import (
    SentencePieceNormalizer,
    SentencePieceProcessor,
    sentencepiece_model_pb2,
)

from hubexport.preprocess.sentencepiece_model import (
    SPACE_SYMBOL,
    SentencePieceModel,
    in_graph_sentencepiece,
)
from hubexport.preprocess.sentencepiece_shards import map_in_shards
from hubexport.preprocess.sentencepiece_word_cache import WordCache, ids_to_text, text_to_ids

PRINTABLE_ASCII = range(0x21, 0x7F)
_TYPE = sentencepiece_model_pb2.ModelProto.SentencePiece.Type


class BpeWordEncoder(tf.Module):
    """Texts [batch] -> BPE SentencePiece ids [batch, (pieces)] (and offsets), word by word."""

    def __init__(self, model: SentencePieceModel, name: str | None = None):
        super().__init__(name=name)
        self.sentencepiece = in_graph_sentencepiece(model.serialized)
        self._inner = in_graph_sentencepiece(_without_prefix(model))
        self._cuts = tf.constant(_cut_table(model))
        self._known_words = WordCache()
        self._single_pieces = [
            _single_piece_table(model.serialized, lambda p: p[1:] if p[:1] == SPACE_SYMBOL else ""),
            _single_piece_table(_without_prefix(model), lambda p: "" if SPACE_SYMBOL in p else p),
        ]

    def encode(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """int32 ids [batch, (pieces)]."""
        words = tf.strings.split(texts, sep=" ")
        unique, word_to_unique = tf.unique(words.flat_values, out_idx=tf.int64)
        coded = self._known_words.encode(unique, self._encode_distinct_words)
        per_word = words.with_flat_values(tf.gather(coded, word_to_unique))
        return text_to_ids(tf.strings.reduce_join(per_word, axis=1))

    def _encode_distinct_words(self, words: tf.Tensor) -> tf.Tensor:
        """Distinct words [n] -> their ids as text [n], through their distinct parts."""
        parts, is_first, part_word = self._cut(words)
        coded = parts
        kinds = zip((is_first, ~is_first), (self.sentencepiece, self._inner), self._single_pieces)
        for selected, sentencepiece, single_pieces in kinds:
            where = tf.where(selected)
            coded = tf.tensor_scatter_nd_update(
                coded,
                where,
                _encode_distinct(tf.gather_nd(parts, where), sentencepiece, single_pieces),
            )
        per_word = tf.RaggedTensor.from_value_rowids(
            coded, part_word, nrows=tf.size(words, out_type=tf.int64)
        )
        return tf.strings.reduce_join(per_word, axis=1)

    def encode_with_offsets(
        self, texts: tf.Tensor
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Ids plus int64 start and end byte offsets of each piece in its text."""
        words = tf.strings.split(texts, sep=" ")
        unique, word_to_unique = tf.unique(words.flat_values, out_idx=tf.int64)
        unique_ids, unique_starts, unique_ends = map_in_shards(
            self.sentencepiece.tokenize_with_offsets, unique
        )
        lengths = tf.cast(tf.strings.length(words.flat_values, unit="BYTE"), tf.int64)
        word_starts = _exclusive_cumsum_in_rows(lengths + 1, words)
        word_ids = tf.gather(unique_ids, word_to_unique)
        base = tf.gather(word_starts, word_ids.value_rowids())
        starts = base + tf.gather(unique_starts, word_to_unique).flat_values
        ends = base + tf.gather(unique_ends, word_to_unique).flat_values

        def per_text(values):
            return words.with_flat_values(word_ids.with_flat_values(values)).merge_dims(1, 2)

        ids, starts, ends = per_text(word_ids.flat_values), per_text(starts), per_text(ends)
        # The first piece of a word (but not of its text) starts where the previous piece ends.
        word_first = _first_in_rows(word_ids)
        text_first = _first_in_rows(ids)
        previous_end = tf.concat([[0], ends.flat_values[:-1]], axis=0)
        starts = starts.with_flat_values(
            tf.where(word_first & ~text_first, previous_end, starts.flat_values)
        )
        return ids, starts, ends

    def _cut(self, words: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Distinct words [n] -> their parts [p] in order, whether each part begins its word,
        and the word of each part. Only printable ASCII words are cut (there a character is a
        byte); others are one part, and empty words none."""
        cuttable = tf.strings.regex_full_match(words, "[\\x21-\\x7e]+")
        chars = tf.strings.unicode_decode(words, "UTF-8", errors="replace")
        code = tf.minimum(chars.flat_values, 127)
        following = tf.concat([code[1:], [0]], axis=0)
        word_first = _first_in_rows(chars)
        char_word = chars.value_rowids()
        same_word = ~tf.concat([word_first[1:], [True]], axis=0)
        cut_after = tf.gather(self._cuts, code * 128 + following) & same_word
        cut_after &= tf.gather(cuttable, char_word)
        begins = word_first | tf.concat([[False], cut_after[:-1]], axis=0)
        part_word = tf.boolean_mask(char_word, begins)
        part_start = tf.boolean_mask(
            tf.range(tf.size(code, out_type=tf.int64)) - tf.gather(chars.row_starts(), char_word),
            begins,
        )
        word_end = tf.cast(tf.strings.length(words, unit="BYTE"), tf.int64)
        part_end = tf.where(
            tf.concat([tf.equal(part_word[1:], part_word[:-1]), [False]], axis=0),
            tf.concat([part_start[1:], [0]], axis=0),
            tf.gather(word_end, part_word),
        )
        parts = tf.strings.substr(
            tf.gather(words, part_word), part_start, part_end - part_start, unit="BYTE"
        )
        return parts, tf.boolean_mask(word_first, begins), part_word


def _encode_distinct(
    texts: tf.Tensor, sentencepiece, single_pieces: tf.lookup.StaticHashTable
) -> tf.Tensor:
    """Ids (as text) of `texts` [n]: one-piece texts from `single_pieces`, the others encoded
    once per distinct text, in parallel shards."""
    unique, index = tf.unique(texts, out_idx=tf.int64)
    single = single_pieces.lookup(unique)
    others = tf.where(single < 0)
    encoded = map_in_shards(
        lambda shard: (sentencepiece.tokenize(shard),), tf.gather_nd(unique, others)
    )[0]
    # The texts of the misses (-1, written as U+FFFD) are replaced by their encodings.
    coded = tf.tensor_scatter_nd_update(
        ids_to_text(single[:, None]), others, ids_to_text(encoded)
    )
    return tf.gather(coded, index)


def _single_piece_table(serialized: bytes, text_of) -> tf.lookup.StaticHashTable:
    """Text -> id for the pieces that `text_of(piece)` turns into a text that the model (the
    sentencepiece library itself) encodes as that one piece; -1 for other texts."""
    processor = SentencePieceProcessor(model_proto=serialized)
    texts, ids = [], []
    for i in range(processor.get_piece_size()):
        text = text_of(processor.id_to_piece(i))
        if text and processor.encode(text) == [i]:
            texts.append(text)
            ids.append(i)
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(texts, tf.string), tf.constant(ids, tf.int32)
        ),
        default_value=-1,
    )


def _without_prefix(model: SentencePieceModel) -> bytes:
    """The model without the "▁" SentencePiece puts in front of a text (for inner word parts)."""
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.serialized)
    proto.normalizer_spec.add_dummy_prefix = False
    return proto.SerializeToString()


def _cut_table(model: SentencePieceModel) -> list[bool]:
    """[128 * 128]: whether a word may be cut between printable ASCII characters a and b.

    Only when no piece holds "ab" (no merge can join them), both are not unknown (SentencePiece
    merges runs of unknown pieces), and normalization leaves printable ASCII alone. Models with
    user-defined or unused pieces (matched or re-split outside the merges) are never cut.
    """
    table = [False] * (128 * 128)
    if any(t in (_TYPE.USER_DEFINED, _TYPE.UNUSED) for t in model.piece_types):
        return table
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.serialized)
    rules = SentencePieceNormalizer(normalizer_spec=proto.normalizer_spec.SerializeToString())
    printable = "".join(chr(c) for c in PRINTABLE_ASCII)
    if rules.normalize("x" + printable) != rules.normalize("x") + printable:
        return table
    pieces = [p for p, t in zip(model.pieces, model.piece_types) if t == _TYPE.NORMAL]
    adjacent = {p[i : i + 2] for p in pieces for i in range(len(p) - 1)}
    known = {p for p in pieces if len(p) == 1}
    for a in map(chr, PRINTABLE_ASCII):
        for b in map(chr, PRINTABLE_ASCII):
            table[ord(a) * 128 + ord(b)] = a + b not in adjacent and (a in known or b in known)
    return table


def _first_in_rows(rows: tf.RaggedTensor) -> tf.Tensor:
    """Per value of `rows`: whether it is the first of its row."""
    position = tf.range(tf.size(rows.flat_values, out_type=tf.int64))
    return position == tf.gather(rows.row_starts(), rows.value_rowids())


def _exclusive_cumsum_in_rows(values: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
    """Exclusive cumulative sum of flat `values`, restarting at each row of `rows`."""
    total = tf.cumsum(values, exclusive=True)
    row_base = tf.gather(tf.concat([total, [0]], axis=0), rows.row_starts())
    return total - tf.gather(row_base, rows.value_rowids())
