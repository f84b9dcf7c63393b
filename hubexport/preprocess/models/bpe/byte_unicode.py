"""GPT-2's reversible map between bytes and printable unicode characters.

Byte-level BPE vocabularies (GPT-2, RoBERTa) spell every token with one printable character per
byte, so that `vocab.json` and `merges.txt` are readable text: printable Latin-1 bytes map to
themselves, the other 68 bytes to U+0100 and up (space becomes "Ġ", newline "Ċ").
"""

from __future__ import annotations

import functools


@functools.cache
def byte_to_char() -> dict[int, str]:
    """The 256-entry map byte -> printable character."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = {byte: chr(byte) for byte in printable}
    others = (byte for byte in range(256) if byte not in chars)
    chars.update((byte, chr(256 + n)) for n, byte in enumerate(others))
    return dict(sorted(chars.items()))


@functools.cache
def char_to_byte() -> dict[str, int]:
    """The inverse map printable character -> byte."""
    return {char: byte for byte, char in byte_to_char().items()}


def token_bytes(token: str) -> bytes:
    """The raw bytes a vocabulary token stands for.

    Characters outside the byte alphabet (only in added tokens) keep their own UTF-8 bytes, as
    Hugging Face's ByteLevel decoder does.
    """
    table = char_to_byte()
    return b"".join(bytes([table[char]]) if char in table else char.encode("utf-8") for char in token)
