"""Atomic exchange of two paths through Linux `renameat2(..., RENAME_EXCHANGE)`, where the system offers it.

glibc 2.28 and later export `renameat2`; the kernel has had it since 3.15, and most local filesystems (ext4, xfs,
btrfs, tmpfs) implement the exchange. Elsewhere `exchange_paths` reports that it could not exchange, and the
caller falls back to two renames.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import sys
from collections.abc import Callable

_AT_FDCWD = -100
_RENAME_EXCHANGE = 1 << 1
# The kernel lacks the call (ENOSYS) or the filesystem does not implement the exchange (EINVAL, EOPNOTSUPP).
_NOT_SUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """libc's `renameat2`, or None off Linux or where libc does not export it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


def exchange_paths(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Atomically swaps what `first` and `second` name (both must exist); any reader sees one or the other.

    Returns False, having changed nothing, where the system or the filesystem cannot exchange; raises OSError
    (FileNotFoundError, PermissionError, ...) for any other failure.
    """
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NOT_SUPPORTED:
        return False
    raise OSError(code, os.strerror(code), os.fspath(first), None, os.fspath(second))
