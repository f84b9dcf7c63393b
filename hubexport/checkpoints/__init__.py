"""Checkpoint import: Hugging Face, keras-hub and Google TF checkpoints into hubexport encoders."""
