"""Regenerates `bert_data.py` by asking Hugging Face `tokenizers` about every code point.

BertNormalizer and BertPreTokenizer use the Unicode tables compiled into the Rust crates of the
installed `tokenizers` wheel (an old `unicode_categories`, a newer `unicode-normalization`, the
Rust standard library's lowercase), which no Python `unicodedata` reproduces. Probing the real
thing once and shipping the answers keeps the in-graph tokenizer exact without `tokenizers` at
run time. Development tool only: `python -m hubexport.preprocess.unicode_tables.bert_probe`.
"""

from __future__ import annotations

import pathlib
import unicodedata
from collections.abc import Callable, Iterable

from hubexport.preprocess.unicode_tables import bert_codec as codec

DATA_MODULE = pathlib.Path(__file__).with_name("bert_data.py")
ACUTE, GRAVE_BELOW = "\u0301", "\u0316"  # canonical combining classes 230 and 220


def scalar_values() -> Iterable[int]:
    """Every Unicode scalar value (code points without the surrogates)."""
    return (c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


def _normalizer(**flags: bool) -> Callable[[str], str]:
    from tokenizers.normalizers import BertNormalizer

    options = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False)
    options.update(lowercase=False, **flags)
    return BertNormalizer(**options).normalize_str


def _pretokenizer_class(pre_tokenize: Callable[[str], list], char: str) -> str:
    """'space', 'punct' or 'word': how BertPreTokenizer treats `char` between two letters."""
    pieces = [piece for piece, _ in pre_tokenize("a" + char + "b")]
    return {2: "space", 3: "punct", 1: "word"}[len(pieces)]


def _moves_before(nfd: Callable[[str], str], first: str, second: str) -> bool:
    """Whether canonical ordering puts `second` before `first` (its class is lower, not 0)."""
    return nfd("a" + first + second)[1] == second


def _combining_class(nfd: Callable[[str], str], char: str, references: dict[int, str]) -> int:
    """The canonical combining class the normalization crate gives `char` (its own NFD).

    Ordering against two reference marks tells whether the class is 0. The value comes from
    `unicodedata` when Python knows the character, else from its ordering against one mark of
    every class Python knows (any value with the same ordering sorts identically).
    """
    if not (_moves_before(nfd, ACUTE, char) or _moves_before(nfd, char, GRAVE_BELOW)):
        return 0
    if unicodedata.combining(char):
        return unicodedata.combining(char)
    below = 0
    for ccc, mark in references.items():
        if _moves_before(nfd, mark, char):
            break
        if not _moves_before(nfd, char, mark):
            return ccc
        below = ccc
    return below + 1


def _reference_marks() -> dict[int, str]:
    """One character per non-zero combining class that Python's `unicodedata` knows."""
    marks: dict[int, str] = {}
    for c in scalar_values():
        ccc = unicodedata.combining(chr(c))
        if ccc and unicodedata.normalize("NFD", chr(c)) == chr(c):
            marks.setdefault(ccc, chr(c))
    return dict(sorted(marks.items()))


def probe() -> dict[str, str]:
    """Asks the installed `tokenizers` about every code point; returns encoded data tables."""
    import tokenizers
    from tokenizers.normalizers import NFD
    from tokenizers.pre_tokenizers import BertPreTokenizer

    clean = _normalizer(clean_text=True)
    chinese = _normalizer(handle_chinese_chars=True)
    strip = _normalizer(strip_accents=True)
    lower = _normalizer(lowercase=True)
    nfd = NFD().normalize_str
    pre_tokenize = BertPreTokenizer().pre_tokenize_str
    references = _reference_marks()

    removed, clean_spaces, cjk, pt_spaces, pt_punct, marks = [], [], [], [], [], []
    lowercase: dict[int, list[int]] = {}
    decompositions: dict[int, list[int]] = {}
    combining: dict[int, int] = {}
    for c in scalar_values():
        char = chr(c)
        cleaned = clean(char)
        if cleaned == "":
            removed.append(c)
        elif cleaned == " ":
            clean_spaces.append(c)
        if chinese(char) == f" {char} ":
            cjk.append(c)
        kind = _pretokenizer_class(pre_tokenize, char)
        if kind == "space":
            pt_spaces.append(c)
        elif kind == "punct":
            pt_punct.append(c)
        lowered = lower(char)
        if lowered != char:
            lowercase[c] = [ord(x) for x in lowered]
        decomposed = [ord(x) for x in nfd(char)]
        if codec.HANGUL_FIRST <= c <= codec.HANGUL_LAST:
            assert decomposed == codec.hangul_decomposition(c), hex(c)
        elif decomposed != [c]:
            decompositions[c] = decomposed
        if decomposed == [c]:
            if strip(char) == "":
                marks.append(c)
            ccc = _combining_class(nfd, char, references)
            if ccc:
                combining[c] = ccc
    return {
        "TOKENIZERS_VERSION": tokenizers.__version__,
        "REMOVED": codec.encode_ranges(removed),
        "CLEAN_WHITESPACE": codec.encode_ranges(clean_spaces),
        "CJK": codec.encode_ranges(cjk),
        "PRETOKENIZER_WHITESPACE": codec.encode_ranges(pt_spaces),
        "PRETOKENIZER_PUNCTUATION": codec.encode_ranges(pt_punct),
        "NONSPACING_MARKS": codec.encode_ranges(marks),
        "COMBINING_CLASSES": codec.encode_values(combining),
        "LOWERCASE": codec.encode_mapping(lowercase),
        "DECOMPOSITIONS": codec.encode_mapping(decompositions),
    }


def render(tables: dict[str, str]) -> str:
    """The text of the data module."""
    header = (
        '"""Unicode facts as Hugging Face `tokenizers` applies them in BertNormalizer and\n'
        "BertPreTokenizer, probed on every code point. GENERATED, do not edit: run\n"
        "`python -m hubexport.preprocess.unicode_tables.bert_probe`. Formats: see bert_codec.\n"
        '"""\n'
    )
    body = []
    for name, text in tables.items():
        lines = codec.wrap(text)
        if len(lines) == 1:
            body.append(f'{name} = "{text}"\n')
        else:
            body.append(f"{name} = (\n" + "".join(f'    "{line}"\n' for line in lines) + ")\n")
    return header + "\n" + "\n".join(body)


def main() -> None:
    DATA_MODULE.write_text(render(probe()), encoding="utf-8")
    print(f"wrote {DATA_MODULE}")


if __name__ == "__main__":
    main()
