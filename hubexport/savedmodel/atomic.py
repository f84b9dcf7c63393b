"""Atomic export: write beside the destination, probe the result, then move it into place.

An export never leaves a half-written or broken directory behind: the SavedModel is written to a
staging directory next to `export_dir`, reloaded and probed there, and only then renamed into
place. On any error the staging directory is removed and an existing export is left untouched.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
from typing import Callable

from hubexport.errors import ExportDirError
from hubexport.progress import stage


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
    work. Returns the final absolute path.
    """
    destination = check_destination(export_dir, overwrite)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportDirError(f"cannot create the parent of --export_dir {destination}: {error}") from error
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{destination.name}.staging-", dir=destination.parent))
    try:
        write(staging)
        probe(staging)
        with stage(f"move {destination.name} into place"):
            _replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def _replace(staging: pathlib.Path, destination: pathlib.Path) -> None:
    """Renames staging to destination; an old destination is moved aside first, then deleted."""
    if not destination.exists():
        os.rename(staging, destination)
        return
    retired = pathlib.Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
    os.rename(destination, retired / destination.name)
    try:
        os.rename(staging, destination)
    except OSError:
        os.rename(retired / destination.name, destination)
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)
