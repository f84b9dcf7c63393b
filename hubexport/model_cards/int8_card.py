"""The model card's line on an int8 export: what runs in int8 and how far it is from float32."""

from __future__ import annotations

from typing import Any


def int8_overview(record: dict[str, Any]) -> str:
    """The overview bullet for an export's `int8` record (`Int8Deviation.describe()`)."""
    return (
        "* **int8 serving export, not fine-tunable**: the query/key/value, attention output, intermediate and "
        "output dense layers of every transformer block multiply in int8 on CPU (weights per output channel, "
        "activations per token at run time); embeddings, attention, layer norms and heads run in float32. "
        f"Deviation from the float32 model on {record['measured_on']}, {record['output']} rows: mean cosine "
        f"similarity {record['mean_cosine']:.5f}, smallest {record['min_cosine']:.5f} (the export requires at least "
        f"{record['min_cosine_bound']}), largest absolute difference {record['max_abs_difference']:.3g}."
    )
