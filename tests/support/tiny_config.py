"""The smallest encoder config the CLI tests export: a 2-layer BERT of hidden size 8, fast to build and save."""

TINY_CONFIG = {
    "family": "bert",
    "vocabulary_size": 64,
    "num_layers": 2,
    "num_heads": 2,
    "hidden_dim": 8,
    "intermediate_dim": 16,
    "max_sequence_length": 16,
}
