"""hubexport: turns text encoders into TF-Hub-style TensorFlow SavedModels."""
from hubexport.version import __version__

__all__ = ["__version__"]
