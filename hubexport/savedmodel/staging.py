"""Staging directories beside an export, each owned through a lock, and removal of those whose export died.

An export into `NAME` owns three names beside it, sharing one random 16-hex-digit TOKEN:

  `.NAME.staging-TOKEN.lock`  the lock file, created first and deleted last;
  `.NAME.staging-TOKEN`       the staging directory the export is written to;
  `.NAME.old-TOKEN`           where an old export is moved aside when it cannot be exchanged in one step.

The export holds an exclusive `flock` on the lock file from before the staging directory exists until both
directories are gone. The kernel drops the lock when the process dies, even by kill -9, so a lock another export
can take means its owner is gone: `remove_abandoned` then deletes the directories and the lock file last, so a
crash at any point (of the export or of the remover) leaves every directory beside its lock file.

A staging or old directory without a lock file (left by a hubexport from before these locks) is never
removed, since nothing tells whether an export still writes it; each export warns about it with its size instead.
Locks protect only where every exporting host sees them: local filesystems and NFS do; on a filesystem without
`flock` nothing is ever removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import pathlib
import re
import secrets
import shutil
import stat
from collections.abc import Iterator

from hubexport.errors import ExportDirError
from hubexport.progress import warn

_LOCK_NAME = re.compile(r"\.(?P<name>.+)\.staging-(?P<token>[0-9a-f]{16})\.lock")
# Also matches the names tempfile.mkdtemp gave staging and old directories before there were locks.
_DIRECTORY_NAME = re.compile(r"\.(?P<name>.+)\.(?:staging|old)-(?P<token>[0-9a-f]{16}|[a-z0-9_]{8})")


@dataclasses.dataclass(frozen=True)
class StagingPaths:
    """The names one export owns beside its absolute `destination`, all carrying the same `token`."""

    destination: pathlib.Path
    token: str

    @property
    def lock(self) -> pathlib.Path:
        return self.destination.with_name(f".{self.destination.name}.staging-{self.token}.lock")

    @property
    def staging(self) -> pathlib.Path:
        return self.destination.with_name(f".{self.destination.name}.staging-{self.token}")

    @property
    def retired(self) -> pathlib.Path:
        return self.destination.with_name(f".{self.destination.name}.old-{self.token}")


@contextlib.contextmanager
def locked_staging(destination: pathlib.Path) -> Iterator[StagingPaths]:
    """Yields the names of a new, empty staging directory beside `destination`, locked while the block runs.

    On exit an old export left moved aside from a missing destination is put back, whatever remains at the
    staging and retired names is deleted (a failed export, or the old one the new export replaced), then the
    lock file. If a deletion fails the lock file stays, so a later export finishes the job.
    """
    try:
        paths, lock = _claim(destination)
    except OSError as error:
        raise ExportDirError(f"cannot create a staging directory beside --export_dir {destination}: {error}") from error
    try:
        yield paths
    finally:
        try:
            _clean_up(paths)
        except OSError as error:
            warn(
                f"could not remove {paths.staging.name} beside {destination} ({error}); the next export into "
                f"{destination.parent} retries"
            )
        finally:
            os.close(lock)


def remove_abandoned(parent: pathlib.Path) -> None:
    """Removes the staging and old directories in `parent` whose export is no longer running, then their locks.

    Touches only names of the pattern above, and never one whose lock is held. Each removed directory is warned
    about with the bytes it freed; a directory without a lock file is left alone and warned about.
    """
    try:
        with os.scandir(parent) as entries:
            names = sorted(entry.name for entry in entries)
    except OSError:  # an unreadable parent: there is nothing this export can see to remove
        return
    for name in names:
        if match := _LOCK_NAME.fullmatch(name):
            _remove_if_abandoned(StagingPaths(parent / match["name"], match["token"]))
    for name in names:
        match = _DIRECTORY_NAME.fullmatch(name)
        unlocked = match and not StagingPaths(parent / match["name"], match["token"]).lock.exists()
        if unlocked and (parent / name).is_dir():
            with contextlib.suppress(OSError):  # removed meanwhile by the export that made it
                size = _bytes_in(parent / name)
                warn(
                    f"left {parent / name} ({size} bytes) alone: it has no lock file (an older hubexport made it), "
                    "so an export may still be writing it; delete it if none is"
                )


def _claim(destination: pathlib.Path) -> tuple[StagingPaths, int]:
    """Creates and locks the lock file of a fresh token, then the staging directory; returns the names and the
    lock's file descriptor."""
    while True:
        paths = StagingPaths(destination, secrets.token_hex(8))
        lock = _create_locked(paths.lock)
        if lock is not None:
            break
    try:
        os.mkdir(paths.staging)
    except OSError:
        os.unlink(paths.lock)
        os.close(lock)
        raise
    return paths, lock


def _create_locked(path: pathlib.Path) -> int | None:
    """Creates the lock file `path` and locks it; None if a remover took it for an abandoned one and deleted it
    between its creation and the lock."""
    lock = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    with contextlib.suppress(OSError):  # no flock on this filesystem: removers cannot take the lock either
        fcntl.flock(lock, fcntl.LOCK_EX)
    if _still_named(lock, path):
        return lock
    os.close(lock)
    return None


def _remove_if_abandoned(paths: StagingPaths) -> None:
    """Cleans up after the export owning `paths` if its lock can be taken, i.e. the export has ended."""
    try:  # opened for writing: NFS emulates flock with byte-range locks, and an exclusive one needs that
        lock = os.open(paths.lock, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # deleted meanwhile by its export, which finished; or another user's
        return
    try:
        if stat.S_ISREG(os.fstat(lock).st_mode) and _take_if_free(lock) and _still_named(lock, paths.lock):
            for directory, size in _clean_up(paths).items():
                warn(f"removed {directory}, left by an export that is no longer running ({size} bytes freed)")
    except OSError as error:
        warn(f"could not remove {paths.staging.name} beside {paths.destination} ({error})")
    finally:
        os.close(lock)


def _take_if_free(lock: int) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held, so its export is running; or no flock here, so that cannot be told
        return False
    return True


def _still_named(lock: int, path: pathlib.Path) -> bool:
    """Whether `path` still names the open file `lock` (not if another process deleted the lock file)."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(lock)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _clean_up(paths: StagingPaths) -> dict[pathlib.Path, int]:
    """Run under the lock of `paths`: puts an old export moved aside back if the destination is missing, deletes
    the staging and retired directories, then the lock file. Returns the bytes each deleted directory held;
    raises OSError with the lock file still in place if a deletion fails."""
    if paths.retired.is_dir() and not os.path.lexists(paths.destination):
        os.rename(paths.retired, paths.destination)
        warn(f"put the previous export back at {paths.destination}: an export failed or was killed while replacing it")
    freed = {}
    for directory in (paths.staging, paths.retired):
        if os.path.lexists(directory):
            freed[directory] = _bytes_in(directory)
            shutil.rmtree(directory)
    os.unlink(paths.lock)
    return freed


def _bytes_in(directory: pathlib.Path) -> int:
    """The sizes of the files below `directory` added up."""
    return sum(os.lstat(os.path.join(root, name)).st_size for root, _, names in os.walk(directory) for name in names)
