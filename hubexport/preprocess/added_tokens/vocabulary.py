"""The added tokens of a Hugging Face tokenizer directory, read as `transformers` reads them.

Sources and precedence (transformers 4.57's `from_pretrained`, slow and fast):

- `tokenizer_config.json` `added_tokens_decoder` (id -> token with its flags), when present, is the
  slow tokenizer's whole list; without it the legacy files make that list: `added_tokens.json`
  (content -> id; special if it is one of the named special tokens, else normalized, no strip),
  then `tokenizer.json`'s `added_tokens` replacing entries of the same id;
- the fast tokenizer starts from `tokenizer.json`'s `added_tokens` and re-adds every entry of that
  list whose flags differ, so for a token in both the list's flags win;
- the named special tokens (`cls_token`, `mask_token`, ... in `tokenizer_config.json`, else
  `special_tokens_map.json`, else the family's defaults) that are not added yet become special
  added tokens with their own flags (a dict value) or the family's defaults (e.g. ALBERT, RoBERTa
  and XLM-R's mask token strips the whitespace on its left). Explicit files (`--vocab_file`,
  `--sp_model_file`) get only these.

A token's `normalized` flag matters only for tokenizers that lowercase: such tokens then match the
text case-insensitively (see `split`).
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping
from typing import Any

from hubexport import user_files
from hubexport.errors import TokenizerFilesError

FLAGS = ("special", "lstrip", "rstrip", "single_word", "normalized")
SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# Each family's special tokens by SpecialTokens field, as its HF tokenizer class names them by default.
FAMILY_SPECIAL_TOKENS = {
    "wordpiece": {"start_id": "[CLS]", "end_id": "[SEP]", "padding_id": "[PAD]", "unknown_id": "[UNK]", "mask_id": "[MASK]"},
    "albert": {"start_id": "[CLS]", "end_id": "[SEP]", "padding_id": "<pad>", "unknown_id": "<unk>", "mask_id": "[MASK]"},
    "xlm_roberta": {"start_id": "<s>", "end_id": "</s>", "padding_id": "<pad>", "unknown_id": "<unk>", "mask_id": "<mask>"},
    "byte_level_bpe": {"start_id": "<s>", "end_id": "</s>", "padding_id": "<pad>", "unknown_id": "<unk>", "mask_id": "<mask>"},
}  # fmt: skip
FIELD_KEYS = {"start_id": "cls_token", "end_id": "sep_token", "padding_id": "pad_token", "unknown_id": "unk_token"}
FIELD_KEYS["mask_id"] = "mask_token"
# Families whose HF class declares the mask token with lstrip=True.
MASK_LSTRIP = {"albert", "xlm_roberta", "byte_level_bpe"}


@dataclasses.dataclass(frozen=True)
class AddedToken:
    """One added token: its text, id and Hugging Face's flags (`normalized` defaults to not special)."""

    content: str
    id: int
    special: bool = False
    lstrip: bool = False
    rstrip: bool = False
    single_word: bool = False
    normalized: bool = True

    def flags(self) -> dict[str, bool]:
        """The flags by HF's names."""
        return {flag: getattr(self, flag) for flag in FLAGS}


def read_added_tokens(
    directory: pathlib.Path, config: Mapping[str, Any], fast: Mapping[str, Any] | None
) -> dict[int, AddedToken]:
    """The directory's added tokens by id, without the family's special tokens (see
    `with_special_tokens`); `config` is tokenizer_config.json ({} if absent), `fast` tokenizer.json."""
    config_path = directory / "tokenizer_config.json"
    if "added_tokens_decoder" in config:
        decoder_value = _checked(config["added_tokens_decoder"], (dict,), "added_tokens_decoder", config_path)
        decoder = {}
        for key, value in decoder_value.items():
            where = f"added_tokens_decoder.{key}"
            token_id = _id(key, where, config_path)
            decoder[token_id] = _token(value, token_id, where, config_path)
    else:
        decoder = _legacy_decoder(directory, config)
    tokens = {}
    for index, entry in enumerate((fast or {}).get("added_tokens", [])):
        token = _token(entry, entry["id"], f"added_tokens[{index}]", directory / "tokenizer.json")
        tokens[token.id] = token
    tokens.update(decoder)
    return tokens


def with_special_tokens(
    tokens: Mapping[int, AddedToken],
    family: str,
    special_ids: Mapping[str, int | None],
    named: Mapping[str, Any] | None = None,
) -> tuple[AddedToken, ...]:
    """`tokens` plus the family's special tokens not among them, sorted by id.

    `special_ids` are the tokenizer's SpecialTokens fields (field -> id); `named` maps HF's
    `*_token` keys to a content string or a dict of content and flags (from the directory's files).
    """
    result = dict(tokens)
    contents = {token.content for token in tokens.values()}
    for field, default in FAMILY_SPECIAL_TOKENS[family].items():
        token_id = special_ids.get(field)
        value = (named or {}).get(FIELD_KEYS[field]) or default
        flags = {"lstrip": field == "mask_id" and family in MASK_LSTRIP}
        if isinstance(value, dict):
            flags.update({flag: bool(value[flag]) for flag in ("lstrip", "rstrip", "single_word") if flag in value})
            value = value.get("content", default)
        if token_id is None or value in contents or token_id in result:
            continue
        result[token_id] = AddedToken(value, token_id, special=True, normalized=False, **flags)
        contents.add(value)
    return tuple(result[token_id] for token_id in sorted(result))


def named_special_tokens(directory: pathlib.Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """HF's `*_token` values: tokenizer_config.json's, else special_tokens_map.json's."""
    named = {}
    map_path = directory / "special_tokens_map.json"
    if map_path.is_file():
        special_map = user_files.read_json(map_path, error=TokenizerFilesError, what="special tokens map")
        named.update({key: special_map[key] for key in SPECIAL_TOKEN_KEYS if key in special_map})
    named.update({key: config[key] for key in SPECIAL_TOKEN_KEYS if config.get(key) is not None})
    for key, value in named.items():
        _checked(value, (str, dict), key, map_path if key not in config else directory / "tokenizer_config.json")
    return named


def _legacy_decoder(directory: pathlib.Path, config: Mapping[str, Any]) -> dict[int, AddedToken]:
    """added_tokens.json's tokens, special if named as special tokens (transformers' legacy path)."""
    path = directory / "added_tokens.json"
    if not path.is_file():
        return {}
    encoder = user_files.read_json(path, error=TokenizerFilesError, what="added tokens file")
    special = {
        value if isinstance(value, str) else value.get("content")
        for value in named_special_tokens(directory, config).values()
    }
    decoder = {}
    for content, index in encoder.items():
        index = _checked(index, (int,), content, path)
        is_special = content in special
        decoder[index] = AddedToken(content, index, special=is_special, normalized=not is_special)
    return decoder


def _token(value: Any, token_id: int, key: str, path: pathlib.Path) -> AddedToken:
    """An AddedToken from its JSON object (content and flags; HF's defaults for missing flags)."""
    value = _checked(value, (dict,), key, path)
    content = _checked(value.get("content"), (str,), f"{key}.content", path)
    flags = {flag: _checked(value[flag], (bool,), f"{key}.{flag}", path) for flag in FLAGS if flag in value}
    flags.setdefault("normalized", not flags.get("special", False))
    return AddedToken(content, token_id, **flags)


def _id(key: str, where: str, path: pathlib.Path) -> int:
    """A token id written as a JSON object key."""
    if not key.isdigit():
        raise user_files.file_error(
            path, f"{where}: the key is not a token id", error=TokenizerFilesError, what="tokenizer config"
        )
    return int(key)


def _checked(value: Any, kinds: tuple[type, ...], key: str, path: pathlib.Path) -> Any:
    return user_files.json_value(value, kinds, key=key, path=path, error=TokenizerFilesError, what="tokenizer file")
