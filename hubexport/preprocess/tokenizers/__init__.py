"""Assembled in-graph tokenizers, one module per scheme, and the contract they share."""
