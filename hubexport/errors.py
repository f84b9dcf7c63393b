"""Errors hubexport raises for bad input; the CLI turns each into one line and exit code 2."""


class HubExportError(Exception):
    """Base class: a problem with the user's input that names what is wrong."""


class ConfigError(HubExportError):
    """A preset, config file or constructor argument is invalid."""


class CheckpointError(HubExportError):
    """A checkpoint is missing, corrupt, or does not match the model (names the tensor)."""


class TokenizerFilesError(HubExportError):
    """Tokenizer files are missing or of a kind hubexport cannot read."""


class ExportDirError(HubExportError):
    """The export directory exists (without --overwrite) or cannot be written."""
