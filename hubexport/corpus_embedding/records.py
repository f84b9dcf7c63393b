"""What the readers make of an input record: a `Document` to embed or a `BadRecord` saying why not.

Every record has a `source`, `<file path>:<N>` with N its 1-based position in the file (its line
number in text and JSON lines files). A document's id is its `--id_field` value when one is
named, else its source: stable across runs, and distinct for duplicate lines. A bad record keeps
the id it would have had (its source when the id itself is missing or unusable), a `kind` (one
of BAD_RECORD_KINDS, also the name of its Beam counter) and a one-line `reason`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

EMPTY_DOCUMENT = "empty_document"
INVALID_UTF8 = "invalid_utf8"
MISSING_FIELD = "missing_field"
NON_STRING_FIELD = "non_string_field"
INVALID_RECORD = "invalid_record"  # not JSON, not a JSON object, not a tf.train.Example, a corrupt TFRecord
MODEL_ERROR = "model_error"  # the model raised on the record's batch
BAD_RECORD_KINDS = (EMPTY_DOCUMENT, INVALID_UTF8, MISSING_FIELD, NON_STRING_FIELD, INVALID_RECORD, MODEL_ERROR)

VALUE_TYPE_NAMES = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}


@dataclasses.dataclass(frozen=True)
class Document:
    """A record to embed: `texts` holds one string per input of the signature, in input-name order."""

    id: str
    source: str
    texts: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class BadRecord:
    """A record that is not embedded, and why (`kind` is one of BAD_RECORD_KINDS)."""

    id: str
    source: str
    kind: str
    reason: str

    def to_json_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def record_source(path: str, position: int) -> str:
    """`<path>:<position>`, the record's place in the input and its id when no --id_field is used."""
    return f"{path}:{position}"


class UnusableText(ValueError):
    """A value that cannot be embedded; `kind` is one of BAD_RECORD_KINDS."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind

    def bad_record(self, document_id: str, source: str) -> BadRecord:
        return BadRecord(document_id, source, self.kind, str(self))


def decoded_text(value: object, what: str) -> str:
    """`value` (str, or UTF-8 bytes) as a non-blank string; raises UnusableText naming `what` otherwise."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UnusableText(
                INVALID_UTF8, f"{what} is not valid UTF-8 ({error.reason} at byte {error.start})"
            ) from None
    elif not isinstance(value, str):
        raise UnusableText(NON_STRING_FIELD, f"{what} is {describe_type(value)}, not a string")
    else:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise UnusableText(INVALID_UTF8, f"{what} is not encodable as UTF-8 ({error.reason})") from None
    if not value.strip():
        raise UnusableText(EMPTY_DOCUMENT, f"{what} is empty" if not value else f"{what} is only whitespace")
    return value


def describe_type(value: object) -> str:
    return VALUE_TYPE_NAMES.get(type(value), f"a {type(value).__name__}")


def document_from_fields(
    fields: Mapping[str, object], source: str, text_fields: tuple[str, ...], id_field: str | None
) -> Document | BadRecord:
    """The document a record with named `fields` holds (a missing field may be absent or None).

    The id field may hold a string, UTF-8 bytes or an integer; each text field a string or UTF-8 bytes.
    """
    document_id = source
    if id_field is not None:
        value = fields.get(id_field)
        if value is None:
            return BadRecord(source, source, MISSING_FIELD, f"id field {id_field!r} is missing")
        if isinstance(value, int) and not isinstance(value, bool):
            document_id = str(value)
        else:
            try:
                document_id = decoded_text(value, f"id field {id_field!r}")
            except UnusableText as error:
                return error.bad_record(source, source)
    texts = []
    for field in text_fields:
        value = fields.get(field)
        if value is None:
            return BadRecord(document_id, source, MISSING_FIELD, f"field {field!r} is missing")
        try:
            texts.append(decoded_text(value, f"field {field!r}"))
        except UnusableText as error:
            return error.bad_record(document_id, source)
    return Document(document_id, source, tuple(texts))


def document_from_line(line: bytes, source: str) -> Document | BadRecord:
    """A text file's line (without its line break) as a document whose id is its source."""
    try:
        return Document(source, source, (decoded_text(line, "the line"),))
    except UnusableText as error:
        return error.bad_record(source, source)
