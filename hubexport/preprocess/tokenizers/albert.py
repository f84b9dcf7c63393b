"""ALBERT's SentencePiece tokenizer inside the graph, id for id like HF's `AlbertTokenizer`
(the slow, sentencepiece-backed one).

HF lowercases, collapses whitespace, maps ``` `` ```/`''` to `"`, strips accents
(`normalizers.albert`), encodes with SentencePiece, and re-splits pieces ending in a digit and a
comma (`models.sentencepiece.albert_digit_comma`). Ids are the model's own: `[CLS]`, `[SEP]`, `<pad>`, `<unk>`,
`[MASK]` as the SentencePiece model numbers them.
"""

from __future__ import annotations

import pathlib

import tensorflow as tf

from hubexport.preprocess.models.sentencepiece.albert_digit_comma import COMMA, DIGITS, DigitCommaSplitter
from hubexport.preprocess.normalizers.albert import AlbertNormalizer
from hubexport.preprocess.tokenizers.base import SpecialTokens
from hubexport.preprocess.tokenizers.sentencepiece_base import SentencePieceTokenizerBase

SPECIAL_PIECES = ("[CLS]", "[SEP]", "<unk>", "<pad>", "[MASK]")


class AlbertSentencePieceTokenizer(SentencePieceTokenizerBase):
    """ALBERT tokenization: `tokenize`, `tokenize_with_offsets`, `detokenize`, in graph.

    `lowercase` and `keep_accents` are HF's `do_lower_case` and `keep_accents`.

    Offsets are byte offsets into the ORIGINAL input string (before lowercasing, accent stripping
    and whitespace collapsing): a token spans the input characters its text was made from, with
    SentencePiece's convention that a piece beginning with "▁" also covers the whitespace before
    its word and that the "▁" put in front of the text is zero-width. Combining marks dropped by
    accent stripping belong to the token of the character before them. Of a re-split `<digit>,`
    piece, the comma gets the piece's last input character and the other parts the rest.
    """

    packing_style = "bert"

    def __init__(
        self,
        model_file: str | pathlib.Path,
        lowercase: bool = True,
        keep_accents: bool = False,
        name: str | None = None,
    ):
        super().__init__(model_file, name=name)
        missing = [p for p in SPECIAL_PIECES if p not in self._model.piece_ids]
        if missing:
            raise ValueError(f"the SentencePiece model lacks ALBERT's special pieces {missing}")
        ids = self._model.piece_ids
        self.special_tokens = SpecialTokens(
            start_id=ids["[CLS]"],
            end_id=ids["[SEP]"],
            padding_id=ids["<pad>"],
            unknown_id=ids["<unk>"],
            mask_id=ids["[MASK]"],
        )
        self.vocab_size = len(self._model)
        self._normalizer = AlbertNormalizer(lowercase, keep_accents)
        self._splitter = DigitCommaSplitter(self._model)
        self._special_ids = tf.constant([ids[p] for p in SPECIAL_PIECES], tf.int32)
        self._pieces = tf.constant(list(self._model.pieces))

    def _tokenize_shard(self, strings: tf.Tensor) -> tf.RaggedTensor:
        return self._splitter.split(self._encoder.encode(self._normalizer.normalize(strings)))

    def tokenize_with_offsets(self, strings: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        texts, alignment = self._normalizer.normalize_with_alignment(strings)
        ids, starts, ends = self._encoder.encode_with_offsets(texts)
        starts, ends, last_char_starts = alignment.to_input_offsets(starts, ends)
        ids, origin, role = self._splitter.split_with_origin(ids)
        cut = tf.gather(last_char_starts.flat_values, origin)
        new_starts = tf.where(role == COMMA, cut, tf.gather(starts.flat_values, origin))
        new_ends = tf.where(role == DIGITS, cut, tf.gather(ends.flat_values, origin))
        return ids, ids.with_flat_values(new_starts), ids.with_flat_values(new_ends)

    def detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """Like HF's `decode(ids)`: runs of ordinary pieces decoded by SentencePiece, special
        tokens written out, each preceded by a space unless it follows another special token,
        and the result stripped."""
        flat = ids.flat_values
        rowids = ids.value_rowids()
        position = tf.range(tf.size(flat, out_type=tf.int64))
        first_in_row = position == tf.gather(ids.row_starts(), rowids)
        special = tf.reduce_any(flat[:, None] == self._special_ids[None, :], axis=1)

        specials_before = tf.cumsum(tf.cast(special, tf.int64), exclusive=True)
        row_specials = tf.concat([[0], tf.cumsum(tf.cast(special, tf.int64))], axis=0)
        specials_in_row = tf.gather(row_specials, ids.row_limits()) - tf.gather(row_specials, ids.row_starts())
        run_splits = tf.concat([[0], tf.cumsum(specials_in_row + 1)], axis=0)
        run = (
            tf.gather(run_splits, rowids)
            + specials_before
            - tf.gather(tf.gather(row_specials, ids.row_starts()), rowids)
        )
        runs = tf.RaggedTensor.from_value_rowids(
            tf.boolean_mask(flat, ~special), tf.boolean_mask(run, ~special), nrows=run_splits[-1]
        )
        decoded = self._encoder.detokenize(runs)

        after_special = tf.concat([[False], special[:-1]], axis=0) & ~first_in_row
        special_texts = tf.strings.join(
            [
                tf.where(tf.boolean_mask(after_special, special), "", " "),
                tf.gather(decoded, tf.boolean_mask(run, special)),
                tf.gather(self._pieces, tf.boolean_mask(flat, special)),
            ]
        )
        per_row = tf.strings.reduce_join(
            tf.RaggedTensor.from_value_rowids(special_texts, tf.boolean_mask(rowids, special), nrows=ids.nrows()),
            axis=1,
        )
        last_runs = tf.gather(decoded, run_splits[1:] - 1)
        return self._strip_whitespace(per_row + last_runs)
