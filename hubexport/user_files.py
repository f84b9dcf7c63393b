"""Reads the files a user points hubexport at; every way one can be broken becomes one error line.

Each function takes the HubExportError subclass to raise (`error`) and what the file is (`what`,
e.g. "WordPiece vocabulary"), and raises `error("cannot read <what> <path>: <problem>")` when the
file is missing, a directory or unreadable, is not UTF-8 (the byte offset and line are given), is
not JSON (line and column are given), or holds JSON of the wrong shape (the key is given).
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

from hubexport.errors import HubExportError

ErrorClass = type[HubExportError]
_OS_PROBLEMS = {
    FileNotFoundError: "no such file",
    IsADirectoryError: "it is a directory, not a file",
    NotADirectoryError: "no such file (a parent is not a directory)",
    PermissionError: "permission denied",
}
_JSON_TYPE_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def file_error(path: str | os.PathLike, problem: str, *, error: ErrorClass, what: str) -> HubExportError:
    """The error to raise for `problem` with the file at `path`, in the one format every reader uses."""
    return error(f"cannot read {what} {path}: {problem}")


def read_bytes(path: str | os.PathLike, *, error: ErrorClass, what: str) -> bytes:
    """The whole file, or `error` saying why it cannot be read (missing, a directory, no permission)."""
    try:
        return pathlib.Path(path).read_bytes()
    except OSError as raised:
        problem = _OS_PROBLEMS.get(type(raised)) or (raised.strerror or str(raised)).lower()
        raise file_error(path, problem, error=error, what=what) from None


def read_text(path: str | os.PathLike, *, error: ErrorClass, what: str) -> str:
    """The file as UTF-8 text with newlines translated as Python's text mode does (`\\r\\n`, `\\r` -> `\\n`),
    or `error` naming the first byte that is not UTF-8."""
    data = read_bytes(path, error=error, what=what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as raised:
        line = data.count(b"\n", 0, raised.start) + 1
        problem = f"not UTF-8 text: byte 0x{data[raised.start]:02x} at offset {raised.start} (line {line})"
        raise file_error(path, problem, error=error, what=what) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def text_lines(text: str) -> list[str]:
    """The lines of `text` without their "\\n", as iterating over a text file and stripping "\\n" gives them
    (unlike `str.splitlines`, no other character ends a line)."""
    return text.removesuffix("\n").split("\n") if text else []


def read_json(path: str | os.PathLike, *, error: ErrorClass, what: str) -> dict[str, Any]:
    """The JSON object the file holds, or `error` naming the problem (not UTF-8, not JSON, not an object)."""
    text = read_text(path, error=error, what=what)
    if not text.strip():
        raise file_error(path, "the file is empty, expected JSON", error=error, what=what)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as raised:
        problem = f"not valid JSON: {raised.msg.removesuffix(' at')} at line {raised.lineno}, column {raised.colno}"
        raise file_error(path, problem, error=error, what=what) from None
    except ValueError as raised:  # an integer of more digits than Python converts
        raise file_error(path, f"not valid JSON: {raised}", error=error, what=what) from None
    except RecursionError:
        raise file_error(path, "not valid JSON: nested too deeply", error=error, what=what) from None
    return json_value(value, (dict,), key="the top level", path=path, error=error, what=what)


def json_value(
    value: Any, kinds: tuple[type, ...], *, key: str, path: str | os.PathLike, error: ErrorClass, what: str
) -> Any:
    """`value` (found at `key` in the file) if it has one of the JSON types `kinds`, else `error` naming `key`.

    JSON types are the Python types `json` gives: dict, list, str, int, float, bool, type(None). true and
    false are not integers here; give `(int, float)` for any number.
    """
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
        return value
    expected = " or ".join(_JSON_TYPE_NAMES[kind] for kind in kinds)
    found = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    raise file_error(path, f"{key} is {found}, expected {expected}", error=error, what=what)
