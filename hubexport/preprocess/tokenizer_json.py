"""Reads a Hugging Face `tokenizer.json`: its model's vocabulary files and its options.

A directory saved with only `tokenizer.json` still carries everything a WordPiece or byte-level
BPE tokenizer needs; the vocabulary (and merges) are written out as the classic `vocab.txt` or
`vocab.json` + `merges.txt` files so they can travel inside a SavedModel as assets.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from hubexport import user_files
from hubexport.errors import TokenizerFilesError

TOKENIZER_FILE = "Hugging Face tokenizer file"


def read_tokenizer_json(path: pathlib.Path) -> dict[str, Any]:
    """The content of a `tokenizer.json`, or TokenizerFilesError naming the file and what is wrong.

    The parts read here (model, normalizer, pre_tokenizer, added_tokens) are checked to have their
    JSON types, so the functions below can use them as they are.
    """
    content = user_files.read_json(path, error=TokenizerFilesError, what=TOKENIZER_FILE)

    def check(value: Any, kinds: tuple[type, ...], key: str) -> Any:
        return user_files.json_value(value, kinds, key=key, path=path, error=TokenizerFilesError, what=TOKENIZER_FILE)

    check(content.get("model", {}), (dict,), "model")
    for key, parts in (("normalizer", "normalizers"), ("pre_tokenizer", "pretokenizers")):
        component = check(content.get(key), (dict, type(None)), key) or {}
        if component.get("type") == "Sequence":
            for index, part in enumerate(check(component.get(parts, []), (list,), f"{key}.{parts}")):
                check(part, (dict,), f"{key}.{parts}[{index}]")
    for index, added in enumerate(check(content.get("added_tokens", []), (list,), "added_tokens")):
        check(added, (dict,), f"added_tokens[{index}]")
        check(added.get("content"), (str,), f"added_tokens[{index}].content")
        check(added.get("id"), (int,), f"added_tokens[{index}].id")
    return content


def model_type(tokenizer_json: dict[str, Any]) -> str | None:
    """ "WordPiece", "BPE", "Unigram", ... or None when the file names no model."""
    return tokenizer_json.get("model", {}).get("type")


def bert_normalizer(tokenizer_json: dict[str, Any]) -> dict[str, Any] | None:
    """The BertNormalizer settings (lowercase, strip_accents, handle_chinese_chars), if any."""
    normalizer = tokenizer_json.get("normalizer") or {}
    candidates = normalizer.get("normalizers", [normalizer]) if normalizer.get("type") == "Sequence" else [normalizer]
    for candidate in candidates:
        if candidate.get("type") == "BertNormalizer":
            return candidate
    return None


def byte_level_add_prefix_space(tokenizer_json: dict[str, Any]) -> bool | None:
    """The ByteLevel pre-tokenizer's `add_prefix_space`, if the file has that pre-tokenizer."""
    pre_tokenizer = tokenizer_json.get("pre_tokenizer") or {}
    candidates = pre_tokenizer.get("pretokenizers", []) if pre_tokenizer.get("type") == "Sequence" else [pre_tokenizer]
    for candidate in candidates:
        if candidate.get("type") == "ByteLevel":
            return bool(candidate.get("add_prefix_space", False))
    return None


def write_wordpiece_vocab(
    tokenizer_json: dict[str, Any], source: pathlib.Path, destination: pathlib.Path
) -> pathlib.Path:
    """Writes the WordPiece vocabulary as `vocab.txt` (one token per line, by id)."""
    model = tokenizer_json["model"]
    prefix = model.get("continuing_subword_prefix", "##")
    if prefix != "##":
        raise TokenizerFilesError(
            f"{source}: WordPiece continuing_subword_prefix {prefix!r} is not supported (only '##')"
        )
    tokens = _tokens_by_id(tokenizer_json, source)
    path = destination / "vocab.txt"
    path.write_text("".join(token + "\n" for token in tokens), encoding="utf-8")
    return path


def write_bpe_files(
    tokenizer_json: dict[str, Any], source: pathlib.Path, destination: pathlib.Path
) -> tuple[pathlib.Path, pathlib.Path]:
    """Writes the BPE vocabulary and merges as `vocab.json` and `merges.txt` (GPT-2 layout)."""
    tokens = _tokens_by_id(tokenizer_json, source)
    merges = user_files.json_value(
        tokenizer_json["model"].get("merges", []),
        (list,),
        key="model.merges",
        path=source,
        error=TokenizerFilesError,
        what=TOKENIZER_FILE,
    )
    lines = [_merge_line(merge, index, source) for index, merge in enumerate(merges)]
    vocab_path = destination / "vocab.json"
    vocab_path.write_text(
        json.dumps({token: index for index, token in enumerate(tokens)}, ensure_ascii=False), encoding="utf-8"
    )
    merges_path = destination / "merges.txt"
    merges_path.write_text("#version: 0.2\n" + "".join(line + "\n" for line in lines), encoding="utf-8")
    return vocab_path, merges_path


def _tokens_by_id(tokenizer_json: dict[str, Any], source: pathlib.Path) -> list[str]:
    """The model vocabulary plus added tokens, as a list indexed by id; ids must be 0..n-1."""
    model_vocab = tokenizer_json["model"].get("vocab")
    if not isinstance(model_vocab, dict) or not model_vocab:
        raise TokenizerFilesError(f"{source} has no token-to-id vocabulary in model.vocab")
    vocab = dict(model_vocab)
    for added in tokenizer_json.get("added_tokens", []):
        vocab.setdefault(added["content"], added["id"])
    by_id = {index: token for token, index in vocab.items()}
    if not all(type(index) is int for index in by_id) or sorted(by_id) != list(range(len(vocab))):
        raise TokenizerFilesError(f"{source}: token ids are not the contiguous range 0..{len(vocab) - 1}")
    return [by_id[index] for index in range(len(by_id))]


def _merge_line(merge: Any, index: int, source: pathlib.Path) -> str:
    """A merge as its merges.txt line "left right"; tokenizer.json spells it so or as ["left", "right"]."""
    parts = merge.split(" ") if isinstance(merge, str) else merge
    if not (isinstance(parts, list) and len(parts) == 2 and all(isinstance(part, str) for part in parts)):
        raise user_files.file_error(
            source,
            f"model.merges[{index}] is not a merge ('left right' or ['left', 'right'])",
            error=TokenizerFilesError,
            what=TOKENIZER_FILE,
        )
    return " ".join(parts)
