"""hubexport: turns text encoders into TF-Hub-style TensorFlow SavedModels."""
__version__ = "0.1.0"
