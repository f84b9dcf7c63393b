"""Errors hubexport raises; the CLI turns each into one line (exit code 2 for bad input, 1 for a failed probe)."""


class HubExportError(Exception):
    """Base class of every error hubexport raises on purpose; its message names what is wrong."""


class ConfigError(HubExportError):
    """A preset, config file or constructor argument is invalid."""


class CheckpointError(HubExportError):
    """A checkpoint is missing, corrupt, or does not match the model (names the tensor)."""


class TokenizerFilesError(HubExportError):
    """Tokenizer files are missing or of a kind hubexport cannot read."""


class ExportDirError(HubExportError):
    """The export directory exists (without --overwrite) or cannot be written."""


class QuantizationError(HubExportError):
    """An int8 export would deviate from the float32 model beyond the accepted bound (names the bound)."""


class ExportProbeError(HubExportError, RuntimeError):
    """A just-written export, reloaded, does not compute what the in-memory model computes.

    Not bad input but a hubexport (or TensorFlow) bug: the export is not moved into place.
    """
