"""Real text gathered from this machine, plus generated hard cases, for tokenizer parity tests.

Nothing here touches the network: the sources are the license texts Debian ships, the docstrings
of CPython's standard library and the UTF-8 CJK sample files in CPython's test suite.
"""
from __future__ import annotations

import ast
import pathlib
import sysconfig
import unicodedata

LICENSE_DIR = pathlib.Path("/usr/share/common-licenses")
STDLIB_DIR = pathlib.Path(sysconfig.get_paths()["stdlib"])
CJK_DIR = STDLIB_DIR / "test" / "cjkencodings"
TEST_DIR_NAMES = {"test", "tests", "idle_test", "site-packages"}


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


def training_text(path: pathlib.Path, max_files: int | None = None) -> pathlib.Path:
    """Writes docstring and license text, one line each, to `path` for training vocabularies."""
    lines = stdlib_docstring_lines(max_files, recursive=True) + license_lines() + cjk_lines()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
