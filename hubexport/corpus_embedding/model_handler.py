"""Beam RunInference's model handler for an end-to-end export: batches of documents in, numpy out.

Beam's own TensorFlow handlers cannot load these exports: they go through
`tf.keras.models.load_model`, which Keras 3 refuses for a SavedModel directory (apache/beam#30616),
and nothing imports tensorflow_text in the worker, so the tokenizer's tf.text ops are unknown
there. `EndToEndModelHandler.load_model` imports tensorflow_text and loads the export with
`tf.saved_model.load`. RunInference calls it once per worker process and shares the model among
the process's threads (with `large_model` or `model_copies`, once per machine, in processes of
its own, called through proxies: so the model's interface takes and returns numpy only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from hubexport.corpus_embedding.records import Document


class LoadedSignature:
    """One serving signature of a loaded export, keeping only the `outputs` asked for."""

    def __init__(self, model_path: str, signature: str, outputs: Sequence[str]):
        import tensorflow_text  # noqa: F401  (registers the tf.text ops of the graph's tokenizer)

        self._model = tf.saved_model.load(model_path)  # the signature needs the loaded object alive
        self._function = self._model.signatures[signature]
        self._outputs = tuple(outputs)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One call of the signature: `inputs` maps each input name to a [batch] array of str;
        returns each kept output as an array whose first axis is the batch."""
        results = self._function(**{name: tf.constant(column, dtype=tf.string) for name, column in inputs.items()})
        return {name: results[name].numpy() for name in self._outputs}


class EndToEndModelHandler(ModelHandler[Document, PredictionResult, LoadedSignature]):
    """Runs `signature` of the export at `model_path` (a version directory) on batches of exactly
    `batch_size` documents (fewer at the end of a bundle): one signature call per batch.

    Each document's `texts` feed `input_names` in order. The inference of each PredictionResult
    maps each name in `outputs` to that document's row, a numpy array (float32 [H] for `embedding`).
    """

    def __init__(
        self,
        *,
        model_path: str,
        signature: str,
        input_names: Sequence[str],
        outputs: Sequence[str],
        batch_size: int,
        large_model: bool = False,
        model_copies: int | None = None,
    ):
        super().__init__(
            min_batch_size=batch_size, max_batch_size=batch_size, large_model=large_model, model_copies=model_copies
        )
        self._model_path = model_path
        self._signature = signature
        self._input_names = tuple(input_names)
        self._outputs = tuple(outputs)

    def load_model(self) -> LoadedSignature:
        return LoadedSignature(self._model_path, self._signature, self._outputs)

    def run_inference(
        self, batch: Sequence[Document], model: LoadedSignature, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        columns = {
            name: np.array([document.texts[index] for document in batch], dtype=object)
            for index, name in enumerate(self._input_names)
        }
        outputs = model.run(columns)
        return [
            PredictionResult(document, {name: values[row] for name, values in outputs.items()})
            for row, document in enumerate(batch)
        ]

    def get_num_bytes(self, batch: Sequence[Document]) -> int:
        return sum(len(text) for document in batch for text in document.texts)
