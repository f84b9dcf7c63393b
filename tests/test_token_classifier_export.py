"""Hugging Face `*ForTokenClassification` directories export end to end: text -> per-token logits, labels
and byte offsets, as transformers and its fast tokenizers give them.

The imported token heads of all five families give transformers' per-token logits; end-to-end exports of a
BERT (WordPiece) and a RoBERTa (byte-level BPE) token classifier give, from raw strings, transformers'
logits, probabilities and id2label labels at every real token and the fast tokenizer's `offset_mapping`
converted to UTF-8 byte offsets (special tokens and padding [0, 0]). The SentencePiece families' offsets
follow sentencepiece's own (tests/test_sentencepiece_parity.py), which differ from the fast tokenizers'.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from hubexport.model_source import build_encoder
from hubexport.savedmodel.encoder_export import encoder_outputs
from hubexport.serving import warmup
from tests.fixtures.hf_classifiers import EXPORT_SEQ_LENGTH as SEQ_LENGTH
from tests.fixtures.hf_classifiers import FAMILIES
from tests.fixtures.preprocessors import text_without_special_tokens

TOLERANCE = 1e-5
EXPORTED_FAMILIES = ("bert", "roberta")


@pytest.fixture(scope="module")
def texts(parity_lines) -> list[str]:
    """Real lines (non-ASCII ones among them), one longer than SEQ_LENGTH tokens, and an empty text."""
    usable = [line for line in text_without_special_tokens(parity_lines) if line.strip()]
    spread = usable[:: len(usable) // 12][:12]
    non_ascii = [line for line in usable if not line.isascii()][:4]
    assert len(non_ascii) == 4
    return spread + non_ascii + [" ".join(usable[:40]), ""]


def hf_token_logits(case, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """transformers' logits [batch, SEQ_LENGTH, labels], the attention mask and the fast tokenizer's offsets
    in UTF-8 bytes [batch, SEQ_LENGTH, 2]."""
    import torch

    encoded = case.tokenizer(
        texts, padding="max_length", truncation=True, max_length=SEQ_LENGTH, return_offsets_mapping=True
    )
    offsets = np.array(
        [
            [(len(text[:start].encode()), len(text[:end].encode())) for start, end in row]
            for text, row in zip(texts, encoded["offset_mapping"])
        ],
        np.int64,
    )
    ids = torch.tensor(encoded["input_ids"])
    mask = torch.tensor(encoded["attention_mask"])
    with torch.no_grad():
        logits = case.model(input_ids=ids, attention_mask=mask).logits.numpy()
    return logits, mask.numpy(), offsets


@pytest.mark.parametrize("family", FAMILIES)
def test_imported_token_heads_compute_transformers_logits(family, hf_classifier, texts):
    case = hf_classifier(family, "token")
    source = build_encoder(None, None, checkpoint=str(case.path), with_classifier=True)
    encoded = case.tokenizer(texts, padding="longest", truncation=True, max_length=SEQ_LENGTH)
    ids = np.array(encoded["input_ids"], np.int32)
    mask = np.array(encoded["attention_mask"], np.int32)
    inputs = {"input_word_ids": ids, "input_mask": mask, "input_type_ids": np.zeros_like(ids)}
    outputs = encoder_outputs(source.model, {k: tf.constant(v) for k, v in inputs.items()}, training=False)
    logits = source.classifier(outputs["pooled_output"], outputs["sequence_output"]).numpy()
    import torch

    with torch.no_grad():
        reference = case.model(input_ids=torch.from_numpy(ids).long(), attention_mask=torch.from_numpy(mask)).logits
    real = mask == 1
    assert np.max(np.abs(logits[real] - reference.numpy()[real])) <= TOLERANCE


@pytest.fixture(scope="module")
def exported(classifier_end_to_end):
    """A callable: family -> (case, result, loaded SavedModel) of its token classifier's end-to-end export."""
    return lambda family: classifier_end_to_end(family, "token")


@pytest.mark.parametrize("family", EXPORTED_FAMILIES)
def test_token_labels_and_byte_offsets_are_transformers(family, exported, texts):
    case, _, loaded = exported(family)
    logits, mask, offsets = hf_token_logits(case, texts)
    for got in (loaded(tf.constant(texts)), loaded.signatures["serving_default"](text=tf.constant(texts))):
        assert sorted(got) == ["input_mask", "label", "label_id", "logits", "offsets", "probabilities"]
        assert got["offsets"].dtype == tf.int64 and got["offsets"].shape == (len(texts), SEQ_LENGTH, 2)
        np.testing.assert_array_equal(got["input_mask"].numpy(), mask)
        np.testing.assert_array_equal(got["offsets"].numpy(), offsets)
        real = mask == 1
        assert np.max(np.abs(got["logits"].numpy()[real] - logits[real])) <= TOLERANCE
        softmax = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
        assert np.max(np.abs(got["probabilities"].numpy()[real] - softmax[real])) <= TOLERANCE
        labels = np.vectorize(case.model.config.id2label.get)(np.argmax(logits, axis=-1))
        assert (got["label"].numpy().astype(str)[real] == labels[real]).all()
        assert (got["label_id"].numpy()[~real] == -1).all() and (got["label"].numpy()[~real] == b"").all()


def test_offsets_map_tokens_back_to_the_text(exported):
    _, _, loaded = exported("bert")
    text = "Zoë moved from Paris to São Paulo."
    got = loaded(tf.constant([text]))
    data = text.encode()
    pieces = [
        data[start:end].decode()
        for (start, end), real in zip(got["offsets"][0].numpy(), got["input_mask"][0].numpy())
        if real and end > start
    ]
    assert "".join(pieces) == text.replace(" ", "")


def test_token_classifier_export_records_its_head(exported):
    _, result, _ = exported("roberta")
    metadata = json.loads((result.path / "assets.extra" / "hubexport.json").read_text())
    assert metadata["classifier"]["task"] == "token"
    assert metadata["classifier"]["labels"] == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    card = (result.path / "README.md").read_text()
    assert '`"offsets"`: int64 `[batch size, 48, 2]`' in card
    assert "`RobertaForTokenClassification` head" in card
    assert sorted({signature for signature, _ in warmup.read_warmup_requests(result.path)}) == ["serving_default"]
    assert "token classifier (5 labels)" in result.summary
