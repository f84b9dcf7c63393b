"""Randomly initialized Hugging Face RoBERTa checkpoints of the real sizes, for the benchmarks.

Nothing is downloaded: `transformers` builds roberta-base / roberta-large from their published
shapes with its own initialization (seeded) and `save_pretrained` writes them as safetensors, the
same files an exported checkpoint directory holds.
"""

from __future__ import annotations

import pathlib

SIZES = {
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
}
ROBERTA_SHAPES = dict(
    vocab_size=50265,
    max_position_embeddings=514,
    type_vocab_size=1,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
    layer_norm_eps=1e-5,
    hidden_act="gelu",
)


def save_random_roberta(directory: pathlib.Path, size: str = "base", seed: int = 0) -> int:
    """Writes a random `RobertaModel` of `size` ("base" or "large") to `directory`; returns its parameter count."""
    import torch
    import transformers

    torch.manual_seed(seed)
    model = transformers.RobertaModel(transformers.RobertaConfig(**ROBERTA_SHAPES, **SIZES[size])).eval()
    model.save_pretrained(directory)
    return sum(parameter.numel() for parameter in model.parameters())
