"""Packing and trimming against Hugging Face: the truncation rule, then whole packed inputs.

The segments fed to our packer are tokenized by the Hugging Face tokenizer itself
(add_special_tokens=False), so these tests check packing on its own, for every family.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tokenizers

from hubexport.errors import ConfigError
from hubexport.preprocess.processors import packing, trimming
from hubexport.preprocess.tokenizers.base import SpecialTokens
from tests.fixtures.preprocessors import PACKING_STYLES, text_without_special_tokens
from tests.support import packing_reference

SPECIALS = SpecialTokens(start_id=1, end_id=2, padding_id=0, unknown_id=3, mask_id=4)


def ragged(rows: list[list[int]]) -> tf.RaggedTensor:
    return tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1, row_splits_dtype=tf.int64)


def hf_kept_lengths(n1: int, n2: int, budget: int) -> tuple[int, int]:
    """What the `tokenizers` library keeps of a pair under longest_first truncation."""
    vocab = {f"a{i}": i for i in range(50)} | {f"b{i}": 50 + i for i in range(50)}
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="a0"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    tokenizer.enable_truncation(max_length=budget, strategy="longest_first")
    ids = tokenizer.encode(" ".join(f"a{i}" for i in range(n1)), " ".join(f"b{i}" for i in range(n2))).ids
    return sum(i < 50 for i in ids), sum(i >= 50 for i in ids)


def test_round_robin_equals_hf_longest_first_on_every_small_pair():
    cases = [(n1, n2, b) for n1 in range(13) for n2 in range(13) for b in range(0, 20)]
    lengths = tf.constant([[n1, n2] for n1, n2, _ in cases], tf.int64)
    for budget in range(20):
        rows = [i for i, case in enumerate(cases) if case[2] == budget]
        kept = trimming.kept_lengths("round_robin", tf.gather(lengths, rows), tf.constant(budget, tf.int64))
        expected = [hf_kept_lengths(cases[i][0], cases[i][1], budget) for i in rows]
        assert [tuple(row) for row in kept.numpy().tolist()] == expected, f"budget {budget}"


@pytest.mark.parametrize("truncation", trimming.TRUNCATION_STRATEGIES)
def test_three_segments_follow_the_rule(truncation):
    lengths = list(itertools.product(range(7), repeat=3))
    for budget in (0, 1, 4, 7, 11, 20):
        kept = trimming.kept_lengths(truncation, tf.constant(lengths, tf.int64), tf.constant(budget, tf.int64))
        rule = packing_reference.water_filling if truncation == "round_robin" else packing_reference.waterfall
        expected = [rule(row, budget) for row in lengths]
        assert kept.numpy().tolist() == expected


@pytest.mark.parametrize("packing_style", ["bert", "roberta"])
@pytest.mark.parametrize("seq_length", [9, 12])
def test_three_segment_framing_and_type_ids(packing_style, seq_length):
    segments = [[[10 + i for i in range(n)] for n in column] for column in zip(*itertools.product(range(5), repeat=3))]
    packed = packing.pack_inputs([ragged(s) for s in segments], seq_length, SPECIALS, packing_style, "round_robin")
    expected = [
        packing_reference.pack([s[row] for s in segments], seq_length, 1, 2, 0, packing_style)
        for row in range(len(segments[0]))
    ]
    assert packed["input_word_ids"].numpy().tolist() == [ids for ids, _, _ in expected]
    assert packed["input_mask"].numpy().tolist() == [mask for _, mask, _ in expected]
    assert packed["input_type_ids"].numpy().tolist() == [types for _, _, types in expected]


def test_ragged_rank_two_equals_merged_and_works_traced():
    words = tf.ragged.constant([[[5, 6], [7]], [[8, 9, 10, 11, 12, 13]], []], dtype=tf.int32)
    other = ragged([[20, 21, 22], [], [23]])
    eager = packing.pack_inputs([words, other], 8, SPECIALS, "bert", "round_robin")
    merged = packing.pack_inputs([words.merge_dims(1, 2), other], 8, SPECIALS, "bert", "round_robin")
    traced = tf.function(lambda a, b, n: packing.pack_inputs([a, b], n, SPECIALS, "bert", "round_robin"))(
        words, other, tf.constant(8)
    )
    for name in eager:
        np.testing.assert_array_equal(eager[name], merged[name])
        np.testing.assert_array_equal(eager[name], traced[name])
    assert eager["input_word_ids"].numpy().tolist() == [
        [1, 5, 6, 2, 20, 21, 22, 2],
        [1, 8, 9, 10, 11, 12, 2, 2],
        [1, 2, 23, 2, 0, 0, 0, 0],
    ]


def test_seq_length_shorter_than_the_framing_keeps_only_framing():
    packed = packing.pack_inputs([ragged([[5, 6]]), ragged([[7]])], 2, SPECIALS, "bert", "round_robin")
    assert packed["input_word_ids"].numpy().tolist() == [[1, 2]]
    assert packed["input_mask"].numpy().tolist() == [[1, 1]]


def test_bad_arguments_raise_config_errors():
    with pytest.raises(ConfigError, match="1 to 3 segments"):
        packing.pack_inputs([ragged([[5]])] * 4, 8, SPECIALS, "bert", "round_robin")
    with pytest.raises(ConfigError, match="truncation"):
        packing.pack_inputs([ragged([[5]])], 8, SPECIALS, "bert", "longest")
    with pytest.raises(ConfigError, match="packing_style"):
        packing.pack_inputs([ragged([[5]])], 8, SPECIALS, "gpt", "round_robin")


def hf_special_tokens(hf) -> SpecialTokens:
    return SpecialTokens(hf.cls_token_id, hf.sep_token_id, hf.pad_token_id, hf.unk_token_id, hf.mask_token_id)


def truncation_cases(lengths: list[int], budget: int) -> list[tuple[int, int]]:
    """Index pairs covering: fits, shorter kept whole, both cut, equal lengths cut; both orders."""
    by_length = sorted(range(len(lengths)), key=lambda i: lengths[i])
    short = [i for i in by_length if 0 < lengths[i] <= budget // 3][:3]
    long = [i for i in by_length if lengths[i] > budget][-4:]
    middle = [i for i in by_length if budget // 2 < lengths[i] <= budget][:3]
    equal = [(i, j) for i, j in zip(by_length, by_length[1:]) if lengths[i] == lengths[j] > budget // 2 and i != j][:3]
    pairs = [(i, i + 1) for i in range(60)] + equal + [(i, i) for i in long[:2] + middle]
    pairs += [(a, b) for a in short + long + middle for b in short + long + middle if a != b]
    return pairs


def classify(n1: int, n2: int, budget: int) -> str:
    if n1 + n2 <= budget:
        return "fits"
    if n1 == n2:
        return "equal cut"
    return "shorter whole" if 2 * min(n1, n2) <= budget else "both cut"


@pytest.mark.parametrize("family", list(PACKING_STYLES))
def test_pair_and_single_packing_equal_hugging_face(family, hf_tokenizer, parity_lines):
    hf = hf_tokenizer(family)
    style = PACKING_STYLES[family]
    lines = text_without_special_tokens(parity_lines)[:400] + [""]
    ids = hf(lines, add_special_tokens=False)["input_ids"]
    lengths = [len(row) for row in ids]
    for seq_length in (16, 17):  # one odd and one even budget for either framing
        budget = seq_length - packing.num_special_tokens(style, 2)
        pairs = truncation_cases(lengths, budget)
        assert {classify(lengths[a], lengths[b], budget) for a, b in pairs} == {
            "fits",
            "equal cut",
            "shorter whole",
            "both cut",
        }
        ours = packing.pack_inputs(
            [ragged([ids[a] for a, _ in pairs]), ragged([ids[b] for _, b in pairs])],
            seq_length,
            hf_special_tokens(hf),
            style,
            "round_robin",
        )
        theirs = hf(
            [lines[a] for a, _ in pairs],
            [lines[b] for _, b in pairs],
            truncation=True,
            max_length=seq_length,
            padding="max_length",
            return_token_type_ids=True,
        )
        assert_same_inputs(ours, theirs)
        single = packing.pack_inputs([ragged(ids)], seq_length, hf_special_tokens(hf), style, "round_robin")
        assert_same_inputs(
            single, hf(lines, truncation=True, max_length=seq_length, padding="max_length", return_token_type_ids=True)
        )


def assert_same_inputs(ours: dict[str, tf.Tensor], theirs) -> None:
    np.testing.assert_array_equal(ours["input_word_ids"].numpy(), np.array(theirs["input_ids"]))
    np.testing.assert_array_equal(ours["input_mask"].numpy(), np.array(theirs["attention_mask"]))
    np.testing.assert_array_equal(ours["input_type_ids"].numpy(), np.array(theirs["token_type_ids"]))
