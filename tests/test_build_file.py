"""The Bazel BUILD file matches the package: every module, test and bench script has a target."""
from __future__ import annotations

import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]


def read_build_targets() -> dict[str, dict]:
    """Evaluates BUILD (Starlark is Python-compatible here) with rule functions that record targets."""
    targets: dict[str, dict] = {}

    def rule(kind):
        def record(name, **attrs):
            assert name not in targets, f"duplicate target {name}"
            targets[name] = {"kind": kind, **attrs}
        return record

    def glob(patterns):
        return sorted(str(p.relative_to(ROOT)) for pattern in patterns for p in ROOT.glob(pattern))

    scope = {"load": lambda *args: None, "package": lambda **kwargs: None, "glob": glob,
             **{kind: rule(kind) for kind in ("py_library", "py_binary", "py_test", "filegroup")}}
    exec(compile((ROOT / "BUILD").read_text(), "BUILD", "exec"), scope)
    return targets


def tracked_python_files() -> set[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return {path for path in listed
            if path.startswith(("hubexport/", "tests/", "bench/")) and (ROOT / path).is_file()}


def test_every_python_file_is_in_exactly_one_target():
    targets = read_build_targets()
    listed: dict[str, str] = {}
    for name, target in targets.items():
        if target["kind"] == "filegroup":
            continue
        for source in target.get("srcs", []):
            assert source not in listed, f"{source} is in both {listed[source]} and {name}"
            listed[source] = name
    missing = sorted(tracked_python_files() - set(listed))
    assert not missing, f"BUILD lacks targets for {missing}"
    stale = sorted(path for path in listed if not (ROOT / path).is_file())
    assert not stale, f"BUILD lists files that do not exist: {stale}"


def test_every_test_module_is_a_py_test_and_deps_resolve():
    targets = read_build_targets()
    tests = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")}
    py_test_sources = {s for t in targets.values() if t["kind"] == "py_test" for s in t["srcs"]}
    assert tests == py_test_sources
    for name, target in targets.items():
        for dependency in target.get("deps", []) + target.get("data", []):
            assert dependency.lstrip(":") in targets, f"{name} depends on unknown {dependency}"
    assert targets["export_main"]["kind"] == "py_binary"
