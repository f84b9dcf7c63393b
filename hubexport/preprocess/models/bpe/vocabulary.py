"""A byte-level BPE vocabulary (`vocab.json` + `merges.txt`) read into plain Python.

Besides the tables the in-graph tokenizer is built from, this holds a plain Python BPE that is
run once per vocabulary entry at construction: entries that BPE turns into exactly themselves
can be looked up whole, in the graph, without running the merge loop (a property of the
vocabulary, not a cache of seen text).
"""

from __future__ import annotations

import dataclasses
import functools
import os

from hubexport import user_files
from hubexport.errors import TokenizerFilesError
from hubexport.preprocess.models.bpe import byte_unicode


@dataclasses.dataclass(frozen=True)
class BpeVocabulary:
    """Token spellings by id and merges by rank, as Hugging Face's BPE model reads them."""

    tokens: tuple[str, ...]
    merges: tuple[tuple[int, int, int], ...]

    @functools.cached_property
    def ids(self) -> dict[str, int]:
        """Token spelling -> id."""
        return {token: i for i, token in enumerate(self.tokens)}

    @functools.cached_property
    def pair_ranks(self) -> dict[tuple[int, int], int]:
        """(left id, right id) -> rank of their merge; a repeated pair keeps its last rank."""
        return {(left, right): rank for rank, (left, right, _) in enumerate(self.merges)}

    @functools.cached_property
    def byte_ids(self) -> tuple[int, ...]:
        """Id of the single-byte token of each of the 256 byte values."""
        chars = byte_unicode.byte_to_char()
        missing = [byte for byte, char in chars.items() if char not in self.ids]
        if missing:
            raise ValueError(f"byte-level vocabulary lacks the tokens of bytes {missing[:10]}")
        return tuple(self.ids[chars[byte]] for byte in range(256))

    def encode_word(self, word: bytes) -> list[int]:
        """Reference BPE of one pre-tokenized word: merge the lowest-ranked pair, all of its
        non-overlapping occurrences left to right, until no pair has a merge."""
        symbols = [self.byte_ids[byte] for byte in word]
        ranks = self.pair_ranks
        while len(symbols) > 1:
            pairs = list(zip(symbols, symbols[1:]))
            best = min(pairs, key=lambda pair: ranks.get(pair, len(self.merges)))
            if best not in ranks:
                break
            merged_id = self.merges[ranks[best]][2]
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(merged_id)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return symbols

    def self_encoding_ids(self) -> list[int]:
        """Ids of the tokens whose own bytes BPE encodes to exactly that one token."""
        return [i for i, token in enumerate(self.tokens) if self.encode_word(byte_unicode.token_bytes(token)) == [i]]


def load(vocab_file: str | os.PathLike, merges_file: str | os.PathLike) -> BpeVocabulary:
    """Reads `vocab.json` (spelling -> id, ids 0..n-1) and `merges.txt` ("left right" per line in
    rank order; a `#version` header and blank lines are skipped, as Hugging Face does).

    A file that cannot be read, is not UTF-8 or (vocab.json) not a JSON object raises TokenizerFilesError;
    ids or merges that do not fit together raise ValueError; both name the file.
    """
    vocab: dict[str, int] = user_files.read_json(vocab_file, error=TokenizerFilesError, what="BPE vocabulary")
    ids = list(vocab.values())
    if not all(type(i) is int for i in ids) or sorted(ids) != list(range(len(vocab))):
        raise ValueError(f"{vocab_file}: token ids must be exactly the integers 0..{len(vocab) - 1}")
    tokens = tuple(sorted(vocab, key=vocab.__getitem__))
    merges = []
    lines = user_files.text_lines(user_files.read_text(merges_file, error=TokenizerFilesError, what="BPE merges"))
    for line_number, line in enumerate(lines, start=1):
        if not line or line.startswith("#version"):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(part in vocab for part in parts + ["".join(parts)]):
            raise ValueError(f"{merges_file}:{line_number}: not a merge of vocabulary tokens")
        left, right = parts
        merges.append((vocab[left], vocab[right], vocab[left + right]))
    return BpeVocabulary(tokens=tokens, merges=tuple(merges))
