"""Built-in presets: each builds with the parameter count printed in the seed tables."""

from __future__ import annotations

import gc
import json
import pathlib
import re

import numpy as np
import pytest

from hubexport.encoders import (
    AlbertBackbone,
    BertBackbone,
    ElectraBackbone,
    EncoderBackbone,
    RobertaBackbone,
    XLMRobertaBackbone,
)
from hubexport.encoders.presets import all_presets, table_parameter_count
from hubexport.errors import ConfigError

SEEDS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "seeds"


def seed_table() -> dict[str, str]:
    """Preset name -> printed parameter count, read from the seed API pages when present."""
    table = {}
    for page in sorted(SEEDS.glob("*.txt")):
        for name, count in re.findall(r"^\|\s*([a-z0-9_]+)\s*\|\s*([0-9.]+M)\s*\|", page.read_text(), re.M):
            table[name] = count
    return table


def test_presets_cover_the_seed_tables_and_agree_with_them():
    presets = all_presets()
    printed = seed_table()
    for name, count in printed.items():
        assert name in presets, f"seed preset {name} has no config"
        assert presets[name].parameter_table["printed"] == count, name
    assert {"bert_base_en_uncased", "bert_base_en", "bert_large_en_uncased"} <= set(presets)
    assert len(presets) == 17


@pytest.mark.parametrize("name", sorted(all_presets()))
def test_preset_builds_with_the_printed_parameter_count(name):
    preset = all_presets()[name]
    model = EncoderBackbone.from_preset(name, load_weights=False)
    sizes = {weight.path: int(np.prod(weight.shape)) for weight in model.weights}
    expected = float(preset.parameter_table["printed"].rstrip("M"))
    assert round(table_parameter_count(preset, sizes) / 1e6, 2) == expected
    assert preset.parameter_table["note"], "the config must say how the table counts"
    assert model.config == preset.encoder
    del model
    gc.collect()


def test_family_classes_list_their_own_presets_and_refuse_others():
    assert set(RobertaBackbone.presets) == {"roberta_base_en", "roberta_large_en"}
    assert set(XLMRobertaBackbone.presets) == {"xlm_roberta_base_multi", "xlm_roberta_large_multi"}
    assert len(AlbertBackbone.presets) == 4 and len(ElectraBackbone.presets) == 6 and len(BertBackbone.presets) == 3
    with pytest.raises(ConfigError, match="albert_base_en_uncased"):
        RobertaBackbone.from_preset("albert_base_en_uncased", load_weights=False)
    with pytest.raises(ConfigError, match="ships no weights"):
        BertBackbone.from_preset("bert_base_en")


def test_from_preset_overrides_and_local_directory_round_trip(tmp_path):
    model = ElectraBackbone.from_preset(
        "electra_small_generator_uncased_en", load_weights=False, num_layers=2, dropout=0.0
    )
    assert isinstance(model, ElectraBackbone) and model.config.num_layers == 2
    model.save_to_preset(tmp_path / "preset")
    restored = EncoderBackbone.from_preset(str(tmp_path / "preset"))
    assert isinstance(restored, ElectraBackbone)
    inputs = {
        "token_ids": np.array([[5, 6, 7, 0]]),
        "padding_mask": np.array([[1, 1, 1, 0]]),
        "segment_ids": np.zeros((1, 4), int),
    }
    np.testing.assert_array_equal(model(inputs)["sequence_output"], restored(inputs)["sequence_output"])


def test_constructor_arguments_follow_the_seed_pages():
    albert = AlbertBackbone(
        vocabulary_size=50,
        num_layers=4,
        num_heads=2,
        embedding_dim=8,
        hidden_dim=16,
        intermediate_dim=32,
        num_groups=2,
        num_inner_repetitions=2,
        num_segments=3,
    )
    assert len(albert.blocks) == 4 and albert.config.num_segments == 3 and albert.config.dropout == 0.0
    assert albert.token_embedding.output_dim == 8
    electra = ElectraBackbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16, embedding_dim=16, intermediate_dim=32
    )
    assert electra.embeddings.projection is None and electra.token_embedding.input_dim == 50
    with pytest.raises(ConfigError, match="divisible"):
        BertBackbone(vocabulary_size=50, num_layers=2, num_heads=3, hidden_dim=16, intermediate_dim=32)
    with pytest.raises(ConfigError, match="num_groups"):
        AlbertBackbone(50, 3, 2, 8, 16, 32, num_groups=2)


def test_preset_files_are_named_after_their_preset():
    for preset in all_presets().values():
        values = json.loads(preset.path.read_text())
        assert values["name"] == preset.path.stem
        assert values["encoder"]["family"] == preset.family
