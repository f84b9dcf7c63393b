"""The package's import graph, read from the source: no package imports one above it.

Layers, lowest first: what a module may import is its own package and the layers below. A new
package or top-level module must be given its place here, so the order stays a design decision.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "hubexport"
LAYERS = (
    "version",
    "errors",
    "user_files",
    "progress",
    "console",
    "runtime_options",
    "encoders",
    "checkpoints",
    "model_source",
    "preprocess",
    "model_cards",
    "savedmodel",
    "serving",
    "corpus_embedding",
    "api",
    "__init__",
    "export_main",
    "embed_main",
)


def unit_of_file(path: pathlib.Path) -> str:
    """The package (first directory below hubexport/) or top-level module a file belongs to."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[0]


def unit_of_module(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported_units(path: pathlib.Path) -> set[tuple[str, int]]:
    """(unit, line) for every hubexport import in the file, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {(unit_of_module(a.name), node.lineno) for a in node.names if a.name.split(".")[0] == "hubexport"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "hubexport":  # `from hubexport import x`: x is a unit, or a name of __init__
                found |= {
                    (
                        a.name if (ROOT / a.name).exists() or (ROOT / f"{a.name}.py").exists() else "__init__",
                        node.lineno,
                    )
                    for a in node.names
                }
            elif node.module.startswith("hubexport."):
                found.add((unit_of_module(node.module), node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import; spell the module out")
    return found


def import_edges() -> list[tuple[str, str, str]]:
    """(importing file:line, its unit, the imported unit) for imports that cross units."""
    edges = []
    for path in sorted(ROOT.rglob("*.py")):
        unit = unit_of_file(path)
        for imported, line in imported_units(path):
            if imported != unit:
                edges.append((f"{path.relative_to(ROOT.parent)}:{line}", unit, imported))
    return edges


def test_every_package_and_top_level_module_has_a_layer():
    units = {unit_of_file(path) for path in ROOT.rglob("*.py")}
    assert units - set(LAYERS) == set(), "give the new package a place in LAYERS"
    assert set(LAYERS) - units == set(), "LAYERS names a package that no longer exists"


def test_no_package_imports_one_above_it():
    rank = {unit: index for index, unit in enumerate(LAYERS)}
    upward = [
        f"{where}: {unit} imports {imported}" for where, unit, imported in import_edges() if rank[imported] > rank[unit]
    ]
    assert upward == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        "def f():\n    from hubexport.serving import layout\n    import hubexport.api\nfrom hubexport import version\n"
    )
    assert imported_units(source) == {("serving", 2), ("api", 3), ("version", 4)}
