"""int8 quantization of an end-to-end export's encoder, measured on the probe texts through its head.

The compared rows are what users take from the model: `embedding` (one row per text) for embedding
exports, else the classifier's `logits` (one row per text, or per real token for token classifiers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from hubexport.encoders.backbone import EncoderBackbone
from hubexport.preprocess.preprocessor_module import PreprocessorModule
from hubexport.savedmodel.encoder_export import encoder_outputs
from hubexport.savedmodel.end_to_end_root import TextHead
from hubexport.savedmodel.int8_quantization import Int8Quantization, quantize_checked
from hubexport.savedmodel.preprocessor_export import PROBE_TEXTS
from hubexport.savedmodel.signatures import ENCODER_INPUT_NAMES


def quantize_on_probe_texts(
    model: EncoderBackbone, request: Int8Quantization, preprocessor: PreprocessorModule, head: TextHead
) -> dict[str, Any]:
    """Quantizes `model` to int8 (`quantize_checked`), measured on `PROBE_TEXTS` through `preprocessor` and
    `head`; returns the metadata an int8 export records (its deviation, and that it is not fine-tunable)."""
    inputs = head.pack(preprocessor, tf.constant(PROBE_TEXTS))
    output = "embedding" if "embedding" in head.output_names else "logits"

    def probe_rows() -> np.ndarray:
        encoded = encoder_outputs(model, {name: inputs[name] for name in ENCODER_INPUT_NAMES}, training=False)
        rows = head(encoded, inputs, training=False)[output].numpy()
        if rows.ndim == 3:  # token classifiers: the real tokens' rows
            rows = rows[inputs["input_mask"].numpy().astype(bool)]
        return rows

    deviation = quantize_checked(
        model, request, probe_rows, output=output, measured_on=f"the {len(PROBE_TEXTS)} probe texts"
    )
    return {"int8": deviation.describe(), "fine_tunable": False}
