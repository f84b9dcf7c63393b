"""Atomic export: write beside the destination, probe the result, then move it into place.

An export never leaves a half-written or broken directory behind: the SavedModel is written to a
staging directory next to `export_dir`, reloaded and probed there, and only then renamed into
place. On any error the staging directory is removed and an existing export is left untouched.
An existing export is replaced by exchanging the two directories in one step where the system can
(Linux renameat2), so a reader sees the old export or the new one, never none. Staging directories
of exports that were killed are removed by the next export into the same parent (see `staging`).
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

from hubexport.errors import ExportDirError
from hubexport.progress import stage
from hubexport.savedmodel.rename_exchange import exchange_paths
from hubexport.savedmodel.staging import StagingPaths, locked_staging, remove_abandoned


def check_destination(export_dir: str | os.PathLike, overwrite: bool) -> pathlib.Path:
    """Returns the absolute destination, refusing an existing one unless `overwrite`."""
    destination = pathlib.Path(export_dir).absolute()
    if destination.exists() and not overwrite:
        raise ExportDirError(f"--export_dir {destination} already exists; pass --overwrite to replace it")
    if destination.exists() and not destination.is_dir():
        raise ExportDirError(f"--export_dir {destination} exists and is not a directory")
    return destination


def export_atomically(
    export_dir: str | os.PathLike,
    overwrite: bool,
    write: Callable[[pathlib.Path], None],
    probe: Callable[[pathlib.Path], None],
) -> pathlib.Path:
    """Runs `write(staging)` then `probe(staging)`, and moves staging to `export_dir`.

    `write` fills an empty directory; `probe` reloads what was written and raises if it does not
    work. Returns the final absolute path. First removes what exports that are no longer running
    left beside `export_dir` (warning with the bytes freed).
    """
    destination = check_destination(export_dir, overwrite)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportDirError(f"cannot create the parent of --export_dir {destination}: {error}") from error
    remove_abandoned(destination.parent)
    with locked_staging(destination) as paths:
        write(paths.staging)
        probe(paths.staging)
        with stage(f"move {destination.name} into place"):
            _move_into_place(paths)
    return destination


def _move_into_place(paths: StagingPaths) -> None:
    """Renames staging to the destination. An existing destination is exchanged with staging in one step where the
    system can, else first renamed to the retired name; `locked_staging` deletes the old export from either."""
    if not paths.destination.exists():
        os.rename(paths.staging, paths.destination)
    elif not exchange_paths(paths.staging, paths.destination):
        os.rename(paths.destination, paths.retired)
        os.rename(paths.staging, paths.destination)
