"""hubexport: turns text encoders into TF-Hub-style TensorFlow SavedModels.

The export functions (`export`, `export_encoder`, ... see `hubexport.api`) and the errors they
raise are importable from here; TensorFlow is imported when an export function is first used.
"""

from hubexport.errors import (
    CheckpointError,
    ConfigError,
    ExportDirError,
    ExportProbeError,
    HubExportError,
    QuantizationError,
    TokenizerFilesError,
)
from hubexport.version import __version__

_API_NAMES = (
    "EXPORT_TYPES",
    "ExportResult",
    "export",
    "export_encoder",
    "export_preprocessor",
    "export_encoder_and_preprocessor",
    "export_encoder_with_mlm",
    "export_end_to_end",
)

__all__ = [
    "__version__",
    "CheckpointError",
    "ConfigError",
    "ExportDirError",
    "ExportProbeError",
    "HubExportError",
    "QuantizationError",
    "TokenizerFilesError",
    *_API_NAMES,
]


def __getattr__(name: str):
    if name in _API_NAMES:
        from hubexport import api

        return getattr(api, name)
    raise AttributeError(f"module 'hubexport' has no attribute {name!r}")
