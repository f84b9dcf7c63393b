"""Runs the Python examples of exported model cards the way a user would: in a fresh interpreter, outside
the repository, with nothing but the installed packages (no hubexport, tests or transformers import).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
SNIPPET_RUNNER = """
import contextlib, io, json, sys, traceback
results = []
for name, program in json.loads(sys.stdin.read()):
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(program, name, "exec"), {"__name__": "__main__"})
        results.append([name, None, output.getvalue()])
    except Exception:
        results.append([name, traceback.format_exc(), output.getvalue()])
modules = sorted(m for m in sys.modules if m.split(".")[0] in ("hubexport", "tests", "transformers"))
print(json.dumps([results, modules]))
"""


def python_blocks(card: str) -> list[str]:
    """The ```python blocks of a card's Markdown."""
    return PYTHON_BLOCK.findall(card)


def run_programs(programs: list[tuple[str, str]]) -> tuple[subprocess.CompletedProcess, list, list[str]]:
    """Runs (name, program) pairs in one fresh interpreter from `/` without PYTHONPATH; returns the process,
    [name, traceback or None, printed output] per program, and the hubexport/tests/transformers modules the
    programs imported."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, "-c", SNIPPET_RUNNER],
        input=json.dumps(programs),
        cwd="/",
        env=environment,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        return completed, [], []
    results, modules = json.loads(completed.stdout.strip().splitlines()[-1])
    return completed, results, modules
