"""Test-suite setup: quiet TensorFlow, CPU only, and the shared session fixtures."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

pytest_plugins = [
    "tests.fixtures.corpus",
    "tests.fixtures.wordpiece",
    "tests.fixtures.sentencepiece",
    "tests.fixtures.byte_level_bpe",
    "tests.fixtures.encoders",
    "tests.fixtures.preprocessors",
    "tests.fixtures.end_to_end",
    "tests.fixtures.hf_models",
]
