"""Fill-mask end to end: a small random `*ForMaskedLM` of each tokenizer kind, saved with its
tokenizer the way a fine-tuned model is (`save_pretrained`, added tokens, embeddings resized to
`len(tokenizer)`), exported as `encoder_with_mlm` plus `preprocessor`: the packed ids equal Hugging
Face's tokenizer, the `mlm` logits at the mask positions equal the PyTorch model's within 1e-4; and
the BERT directory exported `end_to_end` gives HF tokenizer + model's mean-pooled embedding within 1e-5.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  registers the ops the loaded preprocessor uses
import torch
import transformers

import hubexport
from tests.fixtures.hf_models import randomize_parameters

SEQ_LENGTH = 24
MLM_TOLERANCE = 1e-4
EMBEDDING_TOLERANCE = 1e-5
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
MASKS = {"wordpiece": "[MASK]", "albert": "[MASK]", "xlm_roberta": "<mask>", "roberta": "<mask>"}
SLOW_FOLLOWED = {"albert": transformers.AlbertTokenizer, "xlm_roberta": transformers.XLMRobertaTokenizer}


def masked_lm(family: str, vocab_size: int):
    """A small random masked-LM model of the family, its vocabulary resized to `vocab_size`."""
    if family == "wordpiece":
        model = transformers.BertForMaskedLM(transformers.BertConfig(vocab_size=99, max_position_embeddings=64, **TINY))
    elif family == "albert":
        config = transformers.AlbertConfig(vocab_size=99, embedding_size=16, max_position_embeddings=64, **TINY)
        model = transformers.AlbertForMaskedLM(config)
    else:
        config_class = transformers.RobertaConfig if family == "roberta" else transformers.XLMRobertaConfig
        config = config_class(vocab_size=99, max_position_embeddings=66, type_vocab_size=1, pad_token_id=1, **TINY)
        model = transformers.RobertaForMaskedLM(config)
    model.resize_token_embeddings(vocab_size)
    randomize_parameters(model, seed=len(family))
    return model.eval()


def texts(family: str) -> list[str]:
    mask = MASKS[family]
    return [
        f"Paris is the {mask} of France.",
        f"COVID19 cases {mask} in new york, said the <ent> report",
        f"{mask}{mask} two masks and a naïve-bayes model {mask}",
        "no mask at all",
    ]


@dataclasses.dataclass
class FillMaskCase:
    family: str
    tokenizer: Any
    model: Any
    mlm: Any
    preprocessor: Any
    directory: pathlib.Path
    mlm_path: pathlib.Path
    preprocessor_path: pathlib.Path


@pytest.fixture(scope="module")
def fill_mask_cases(added_tokens_dir, tmp_path_factory):
    """A callable: family -> its FillMaskCase, made once."""
    cache = {}

    def build(family: str):
        if family not in cache:
            cache[family] = export_fill_mask(family, added_tokens_dir(family), tmp_path_factory)
        return cache[family]

    return build


def export_fill_mask(family: str, tokenizer_dir, tmp_path_factory) -> FillMaskCase:
    """The family's masked-LM directory (tokenizer with added tokens) and its two exports, loaded."""
    directory = tmp_path_factory.mktemp(f"{family}_mlm")
    shutil.copytree(tokenizer_dir, directory, dirs_exist_ok=True)
    tokenizer = (SLOW_FOLLOWED.get(family) or transformers.AutoTokenizer).from_pretrained(str(directory))
    model = masked_lm(family, len(tokenizer))
    model.save_pretrained(str(directory))
    exports = tmp_path_factory.mktemp(f"{family}_exports")
    mlm = hubexport.export(export_type="encoder_with_mlm", checkpoint=directory, export_dir=exports / "mlm")
    preprocessor = hubexport.export(
        export_type="preprocessor", tokenizer=directory, default_seq_length=SEQ_LENGTH, export_dir=exports / "pre"
    )
    loaded = tf.saved_model.load(str(mlm.path)), tf.saved_model.load(str(preprocessor.path))
    return FillMaskCase(family, tokenizer, model, *loaded, directory, mlm.path, preprocessor.path)


@pytest.mark.parametrize("family", list(MASKS))
def test_mask_logits_equal_transformers(family, fill_mask_cases):
    case = fill_mask_cases(family)
    tokenizer, model, mlm, preprocessor = case.tokenizer, case.model, case.mlm, case.preprocessor
    lines = texts(family)
    inputs = {name: value.numpy() for name, value in preprocessor(tf.constant(lines)).items()}
    hf = tokenizer(lines, padding="max_length", max_length=SEQ_LENGTH, return_tensors="np")
    np.testing.assert_array_equal(inputs["input_word_ids"], hf["input_ids"])
    np.testing.assert_array_equal(inputs["input_mask"], hf["attention_mask"])
    mask_id = tokenizer.mask_token_id
    assert [list(row).count(mask_id) for row in inputs["input_word_ids"]] == [1, 1, 3, 0]
    positions = np.zeros((len(lines), 3), np.int32)
    for row, ids in enumerate(inputs["input_word_ids"]):
        found = np.flatnonzero(ids == mask_id)
        positions[row, : len(found)] = found
    logits = mlm.mlm({**inputs, "masked_lm_positions": positions})["mlm_logits"].numpy()
    with torch.no_grad():
        reference = model(
            input_ids=torch.tensor(hf["input_ids"]), attention_mask=torch.tensor(hf["attention_mask"])
        ).logits.numpy()
    expected = np.take_along_axis(reference, positions[:, :, None].astype(np.int64), axis=1)
    assert np.max(np.abs(logits - expected)) <= MLM_TOLERANCE
    facts = json.loads((case.preprocessor_path / "assets.extra" / "hubexport.json").read_text())["preprocessing"]
    assert facts["split_special_tokens"] is False
    assert {token["content"]: token["id"] for token in facts["added_tokens"]}[MASKS[family]] == mask_id
    assert "special tokens among them are recognised too" in (case.preprocessor_path / "README.md").read_text()


@pytest.mark.parametrize("family", list(MASKS))
def test_pairs_pack_like_hugging_face(family, fill_mask_cases):
    case = fill_mask_cases(family)
    tokenizer, preprocessor = case.tokenizer, case.preprocessor
    first, second = texts(family)[:2], texts(family)[2:]
    packed = preprocessor.bert_pack_inputs(
        [preprocessor.tokenize(tf.constant(first)), preprocessor.tokenize(tf.constant(second))],
        seq_length=SEQ_LENGTH,
    )
    hf = tokenizer(first, second, padding="max_length", truncation=True, max_length=SEQ_LENGTH, return_tensors="np")
    np.testing.assert_array_equal(packed["input_word_ids"].numpy(), hf["input_ids"])
    if "token_type_ids" in hf:
        np.testing.assert_array_equal(packed["input_type_ids"].numpy(), hf["token_type_ids"])


def test_fine_tuned_directory_end_to_end_equals_transformers(fill_mask_cases, tmp_path):
    """BERT only: each end-to-end export costs ~20 s, and the tokenizer kinds are covered above."""
    case = fill_mask_cases("wordpiece")
    family, tokenizer, model, directory = case.family, case.tokenizer, case.model, case.directory
    result = hubexport.export(
        export_type="end_to_end", checkpoint=directory, default_seq_length=SEQ_LENGTH, export_dir=tmp_path / "served"
    )
    served = tf.saved_model.load(str(result.path))
    lines = texts(family)
    embedding = served.signatures["serving_default"](text=tf.constant(lines))["embedding"].numpy()
    hf = tokenizer(lines, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model.base_model(**hf).last_hidden_state
    mask = hf["attention_mask"][:, :, None].float()
    expected = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    assert np.max(np.abs(embedding - expected)) <= EMBEDDING_TOLERANCE


def readme_fill_mask_example() -> str:
    """The Python block the README marks as the fill-mask example."""
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    match = re.search(r"<!-- fill-mask-example -->\s*```python\n(.*?)```", readme, re.S)
    assert match, "README.md lacks the <!-- fill-mask-example --> python block"
    return match.group(1)


def test_the_readme_fill_mask_example_runs_and_guesses_as_transformers(fill_mask_cases, tmp_path):
    """The README block, run on the BERT case's exports where its commands put them, prints the
    five ids transformers ranks first at the mask, decoded."""
    case = fill_mask_cases("wordpiece")
    (tmp_path / "exports" / "fill_mask").mkdir(parents=True)
    (tmp_path / "exports" / "fill_mask" / "mlm").symlink_to(case.mlm_path)
    (tmp_path / "exports" / "fill_mask" / "preprocessor").symlink_to(case.preprocessor_path)
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).parents[1])}
    result = subprocess.run(
        [sys.executable, "-c", readme_fill_mask_example()], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = "Paris is the [MASK] of France."
    hf = case.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = case.model(**hf).logits[0]
    position = hf["input_ids"][0].tolist().index(case.tokenizer.mask_token_id)
    top = torch.topk(logits[position], k=5).indices.tolist()
    expected = [case.tokenizer.decode([token_id]) for token_id in top]
    assert result.stdout.strip().splitlines()[-1] == f"[MASK] -> {expected}"
