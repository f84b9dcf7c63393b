"""The main of every Bazel py_test: runs pytest on the test file named in its arguments, exits with pytest's code.

A py_test whose main is a pytest module only defines its tests, runs none and passes. With this runner as main and
the test file in the rule's `args`, `bazel test` runs the file, and fails when any test fails or when pytest collects
no test (exit code 5). Further arguments (`bazel test --test_arg=...`) go to pytest after the file.

    python tests/support/bazel_pytest.py tests/test_x.py [pytest options]
"""

from __future__ import annotations

import os
import sys

import pytest


def command_line(arguments: list[str], environ: dict[str, str]) -> list[str]:
    """pytest's command line: the caller's arguments, no cache written into the runfiles tree, and a JUnit XML
    report where Bazel asks for one (XML_OUTPUT_FILE) so it shows the test cases."""
    report = environ.get("XML_OUTPUT_FILE")
    return [*arguments, "-p", "no:cacheprovider", *([f"--junitxml={report}"] if report else [])]


def main() -> int:
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} TEST_FILE [PYTEST_OPTION ...]")
    return int(pytest.main(command_line(sys.argv[1:], dict(os.environ))))


if __name__ == "__main__":
    sys.exit(main())
