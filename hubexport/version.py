"""The package version, recorded in every export's metadata and model card."""

__version__ = "0.1.0"
