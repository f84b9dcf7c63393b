"""The Bazel build, checked offline (Bazel cannot fetch rules_python here).

BUILD evaluates with the rules it loads, from repositories MODULE.bazel declares; every module, test and bench
script has one target; every py_test runs pytest on its own file through tests/support/bazel_pytest.py; library
and test targets depend on the PyPI packages they import; requirements_lock.txt pins setup.py's requirements.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib.metadata
import itertools
import os
import pathlib
import re
import subprocess
import sys
import types
import xml.etree.ElementTree as ElementTree
from unittest import mock

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = pathlib.Path(__file__).resolve().parents[1]
RUNNER = "tests/support/bazel_pytest.py"
LOCK_FILE = "requirements_lock.txt"
PYPI = "@pypi//"
PYTHON_EXTENSION = "@rules_python//python/extensions:python.bzl%python"
PIP_EXTENSION = "@rules_python//python/extensions:pip.bzl%pip"
FIRST_PARTY = {"hubexport", "tests", "bench"}
# What each .bzl file BUILD may load provides; a symbol not loaded is undefined, as in Bazel 8+.
LOADABLE = {
    "@rules_python//python:defs.bzl": {"py_binary", "py_library", "py_test"},
    "@pypi//:requirements.bzl": {"requirement"},
}
# Packages a wheel imports without declaring them: tensorflow_hub imports pkg_resources.
UNDECLARED_BY_WHEEL = {"tensorflow-hub": {"setuptools"}}


@dataclasses.dataclass
class Build:
    targets: dict[str, dict]
    loaded_labels: list[str]


def read_build() -> Build:
    """Evaluates BUILD (Starlark is Python-compatible here) with rule functions that record targets."""
    targets: dict[str, dict] = {}
    loaded_labels: list[str] = []

    def rule(kind):
        def record(name, **attrs):
            assert name not in targets, f"duplicate target {name}"
            targets[name] = {"kind": kind, **attrs}

        return record

    def glob(patterns):
        matches = sorted(str(p.relative_to(ROOT)) for pattern in patterns for p in ROOT.glob(pattern))
        assert matches, f"glob({patterns}) matches nothing, which Bazel 8+ rejects"
        return matches

    def requirement(name):
        return PYPI + re.sub(r"[-_.]+", "_", name).lower()

    implementations = {
        "py_binary": rule("py_binary"),
        "py_library": rule("py_library"),
        "py_test": rule("py_test"),
        "requirement": requirement,
    }

    def load(label, *symbols):
        assert label in LOADABLE, f"BUILD loads {label}, unknown to this check"
        for symbol in symbols:
            assert symbol in LOADABLE[label], f"{label} has no {symbol}"
            scope[symbol] = implementations[symbol]
        loaded_labels.append(label)

    scope = {"load": load, "package": lambda **kwargs: None, "glob": glob, "filegroup": rule("filegroup")}
    exec(compile((ROOT / "BUILD").read_text(), "BUILD", "exec"), scope)
    return Build(targets, loaded_labels)


class ExtensionUsage:
    """What use_extension returns in MODULE.bazel: records its tag calls, e.g. pip.parse(...)."""

    def __init__(self):
        self.tags: list[tuple[str, dict]] = []
        self.imported: dict[str, str] = {}

    def __getattr__(self, tag: str):
        return lambda **attrs: self.tags.append((tag, attrs))

    def tag(self, name: str) -> list[dict]:
        return [attrs for tag, attrs in self.tags if tag == name]


@dataclasses.dataclass
class Module:
    bazel_deps: dict[str, dict]
    extensions: dict[str, ExtensionUsage]  # by "<bzl file>%<extension name>"

    def repositories(self) -> set[str]:
        """Repository names visible to BUILD: bazel_dep modules and repositories imported with use_repo."""
        imported = {name for usage in self.extensions.values() for name in usage.imported}
        return {dep.get("repo_name", name) for name, dep in self.bazel_deps.items()} | imported


def read_module() -> Module:
    """Evaluates MODULE.bazel with functions that record its bazel_dep, use_extension and use_repo calls."""
    module = Module({}, {})

    def bazel_dep(name, **attrs):
        module.bazel_deps[name] = attrs

    def use_extension(bzl_file, name):
        return module.extensions.setdefault(f"{bzl_file}%{name}", ExtensionUsage())

    def use_repo(usage, *names, **renamed):
        usage.imported.update({name: name for name in names}, **renamed)

    scope = {
        "module": lambda **attrs: None,
        "bazel_dep": bazel_dep,
        "use_extension": use_extension,
        "use_repo": use_repo,
    }
    exec(compile((ROOT / "MODULE.bazel").read_text(), "MODULE.bazel", "exec"), scope)
    return module


@functools.cache
def setup_arguments() -> dict:
    """The keyword arguments setup.py passes to setuptools.setup."""
    captured: dict = {}
    fake_setuptools = types.ModuleType("setuptools")
    fake_setuptools.setup = captured.update
    fake_setuptools.find_packages = lambda **kwargs: []
    with mock.patch.dict(sys.modules, {"setuptools": fake_setuptools}):
        exec(compile((ROOT / "setup.py").read_text(), "setup.py", "exec"), {"__name__": "__main__"})
    return captured


def setup_requirements() -> list[Requirement]:
    arguments = setup_arguments()
    extras = arguments["extras_require"]
    return [Requirement(line) for line in arguments["install_requires"] + extras["test"] + extras["beam"]]


def runtime_distributions() -> set[str]:
    return {canonicalize_name(Requirement(line).name) for line in setup_arguments()["install_requires"]}


def locked_versions() -> dict[str, Version]:
    """Distribution name -> pinned version, from requirements_lock.txt (hashes and comments dropped)."""
    pins: dict[str, Version] = {}
    for line in (ROOT / LOCK_FILE).read_text().replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        assert not line.startswith("-"), f"{LOCK_FILE} carries a pip option: {line}"
        requirement = Requirement(line.split(" --hash=", 1)[0])
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{LOCK_FILE} does not pin {requirement} exactly"
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{LOCK_FILE} pins {name} twice"
        pins[name] = Version(specifier.version)
    return pins


def lock_header() -> str:
    """The comment lines above the first pin."""
    lines = (ROOT / LOCK_FILE).read_text().splitlines()
    return "\n".join(itertools.takewhile(lambda line: line.startswith("#"), lines))


def tracked_python_files() -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {path for path in listed if path.startswith(("hubexport/", "tests/", "bench/")) and (ROOT / path).is_file()}


@functools.cache
def installed_packages() -> dict[str, list[str]]:
    """Top-level import name -> the installed distributions providing it."""
    return importlib.metadata.packages_distributions()


@functools.cache
def distribution_of(module: str) -> str | None:
    """The canonical name of the installed distribution providing `module`; None for the standard library and
    this repository's own packages."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top in FIRST_PARTY:
        return None
    names = set(installed_packages().get(top, []))
    assert len(names) == 1, f"cannot tell which distribution provides {module}: {sorted(names)}"
    return canonicalize_name(names.pop())


def imported_distributions(paths: list[str]) -> tuple[set[str], set[str]]:
    """(distributions imported when the modules load, distributions imported only inside functions)."""
    at_load: set[str] = set()
    in_functions: set[str] = set()

    def visit(node: ast.AST, inside_function: bool) -> None:
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module]
        found = {distribution_of(module) for module in modules} - {None}
        (in_functions if inside_function else at_load).update(found)
        inside = inside_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    for path in paths:
        visit(ast.parse((ROOT / path).read_text()), False)
    return at_load, in_functions - at_load


def expected_requirements(target: dict) -> set[str]:
    """The PyPI packages a library or test target must depend on: what its sources import when they load; for
    tests, also what they import inside functions; for runtime libraries, what they import inside functions that
    setup.py makes a runtime requirement (other such imports, like torch, are optional features)."""
    at_load, in_functions = imported_distributions([path for path in target["srcs"] if path.endswith(".py")])
    testonly = target["kind"] == "py_test" or target.get("testonly", False)
    needed = at_load | (in_functions if testonly else in_functions & runtime_distributions())
    return needed | {extra for package in needed for extra in UNDECLARED_BY_WHEEL.get(package, ())}


def declared_requirements(target: dict) -> set[str]:
    return {canonicalize_name(label.removeprefix(PYPI)) for label in target.get("deps", []) if label.startswith(PYPI)}


def py_test_rule(test_file: str, requirements: set[str]) -> str:
    """The py_test for a test file, as BUILD writes it (shown when a rule is missing or wrong)."""
    deps = "".join(f'\n        requirement("{name}"),' for name in sorted(requirements))
    return (
        f'py_test(\n    name = "{pathlib.Path(test_file).stem}",\n    size = "large",\n'
        f'    srcs = ["{RUNNER}", "{test_file}"],\n    main = "{RUNNER}",\n    args = ["{test_file}"],\n'
        f'    data = [":configs", "pytest.ini"],\n    deps = [\n        ":test_support",{deps}\n    ],\n)'
    )


def test_every_python_file_is_in_exactly_one_target():
    """The shared runner is the exception: it is the main of every py_test and in no other target."""
    targets = read_build().targets
    listed: dict[str, str] = {}
    for name, target in targets.items():
        if target["kind"] == "filegroup":
            continue
        for source in target.get("srcs", []):
            if source == RUNNER:
                assert target["kind"] == "py_test", f"{RUNNER} belongs to py_test rules only, not {name}"
                continue
            assert source not in listed, f"{source} is in both {listed[source]} and {name}"
            listed[source] = name
    missing = sorted(tracked_python_files() - set(listed) - {RUNNER})
    assert not missing, f"BUILD lacks targets for {missing}"
    stale = sorted(path for path in listed if not (ROOT / path).is_file())
    assert not stale, f"BUILD lists files that do not exist: {stale}"


def test_every_test_module_is_a_py_test_and_deps_resolve():
    targets = read_build().targets
    tests = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")}
    py_test_sources = {s for t in targets.values() if t["kind"] == "py_test" for s in t["srcs"]} - {RUNNER}
    assert tests == py_test_sources
    pinned = locked_versions()
    for name, target in targets.items():
        for label in target.get("deps", []) + target.get("data", []):
            if label.startswith(":"):
                assert label[1:] in targets, f"{name} depends on unknown {label}"
            elif label.startswith(PYPI):
                assert canonicalize_name(label.removeprefix(PYPI)) in pinned, f"{name}: {label} is not in {LOCK_FILE}"
            else:
                assert (ROOT / label).is_file(), f"{name} depends on {label}, which is not a file"
    assert targets["export_main"]["kind"] == "py_binary"


def test_build_loads_only_from_repositories_module_bazel_declares():
    repositories = read_module().repositories()
    loaded = read_build().loaded_labels
    assert "@rules_python//python:defs.bzl" in loaded
    for label in loaded:
        repository = label.removeprefix("@").split("//", 1)[0]
        assert repository in repositories, f"BUILD loads {label}, but MODULE.bazel declares no {repository}"


def test_module_pins_rules_python_and_locks_pypi_for_the_toolchain_python():
    module = read_module()
    assert re.fullmatch(r"\d+\.\d+\.\d+", module.bazel_deps["rules_python"]["version"])
    (toolchain,) = module.extensions[PYTHON_EXTENSION].tag("toolchain")
    python_version = toolchain["python_version"]
    assert SpecifierSet(setup_arguments()["python_requires"]).contains(python_version)
    pip = module.extensions[PIP_EXTENSION]
    hubs = {attrs["hub_name"]: attrs for attrs in pip.tag("parse")}
    hub = hubs[pip.imported["pypi"]]
    assert hub["requirements_lock"] == f"//:{LOCK_FILE}"
    assert hub["python_version"] == python_version, "pip.parse and the Python toolchain name different versions"
    assert f"Python {python_version}" in lock_header(), f"{LOCK_FILE} was compiled for another Python"


@pytest.mark.parametrize("test_file", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")))
def test_py_test_runs_pytest_on_its_own_file_through_the_runner(test_file):
    target = read_build().targets.get(pathlib.Path(test_file).stem, {})
    assert (
        target.get("kind") == "py_test"
        and target.get("main") == RUNNER
        and target.get("args") == [test_file]
        and sorted(target.get("srcs", [])) == sorted([RUNNER, test_file])
    ), f"the py_test for {test_file} should read like:\n" + py_test_rule(
        test_file, expected_requirements({"kind": "py_test", "srcs": [RUNNER, test_file]})
    )
    assert "pytest.ini" in target.get("data", []), "pytest's configuration must be in the test's runfiles"


def test_library_and_test_targets_depend_on_the_pypi_packages_they_import():
    """py_binary targets are left out for now: export_main and the bench scripts do not list their packages yet,
    and the bench scripts need the "bench" extra, which requirements_lock.txt does not pin."""
    wrong = {}
    for name, target in read_build().targets.items():
        if target["kind"] in ("py_library", "py_test"):
            expected = expected_requirements(target)
            if declared_requirements(target) != expected:
                wrong[name] = sorted(expected)
    assert not wrong, f"these targets should list exactly these requirement()s: {wrong}"


def test_lock_pins_every_setup_requirement_at_a_version_setup_allows():
    pinned = locked_versions()
    for requirement in setup_requirements():
        version = pinned.get(canonicalize_name(requirement.name))
        assert version is not None, f"{LOCK_FILE} lacks {requirement.name}"
        assert requirement.specifier.contains(version, prereleases=True), f"{LOCK_FILE}: {version} for {requirement}"
    local = sorted(name for name, version in pinned.items() if version.local)
    assert not local, f"{LOCK_FILE} pins local versions (not on PyPI): {local}"
    header = lock_header()
    assert "uv pip compile" in header and "--extra test --extra beam" in header, "the header says how to regenerate it"
    assert "--override requirements_overrides.txt" in header
    overrides = [
        Requirement(line)
        for line in (ROOT / "requirements_overrides.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all(pinned[canonicalize_name(r.name)] in r.specifier for r in overrides), "the lock applies the overrides"


def test_lock_pins_the_dependencies_of_what_it_pins():
    """Checked for the pins installed here at the pinned version (PyPI's torch also pins CUDA packages)."""
    pinned = locked_versions()
    unpinned = set()
    for name, version in pinned.items():
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(distribution.version).public != version.public:
            continue
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                if canonicalize_name(requirement.name) not in pinned:
                    unpinned.add(f"{requirement.name} (for {name})")
    assert not unpinned, f"{LOCK_FILE} lacks dependencies: {sorted(unpinned)}"


def environ_without_pytest_settings() -> dict[str, str]:
    """This process's environment, less the PYTEST_* variables (PYTEST_ADDOPTS would reach the runner's pytest)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}


@pytest.mark.parametrize(
    ("source", "exit_code", "tests", "failures"),
    [
        ("def test_adds():\n    assert 1 + 1 == 2\n", 0, "1", "0"),
        ("def adds():\n    return 1 + 1\n", 5, "0", "0"),
        ("def test_adds():\n    assert 1 + 1 == 3\n", 1, "1", "1"),
    ],
    ids=["passing", "no-test", "failing"],
)
def test_runner_exits_with_pytests_code_as_bazel_runs_it(tmp_path, source, exit_code, tests, failures):
    """Bazel runs the py_test's main with its args from the runfiles root and reads XML_OUTPUT_FILE."""
    (tmp_path / "test_sample.py").write_text(source)
    report = tmp_path / "report.xml"
    result = subprocess.run(
        [sys.executable, str(ROOT / RUNNER), "test_sample.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**environ_without_pytest_settings(), "XML_OUTPUT_FILE": str(report)},
    )
    assert result.returncode == exit_code, result.stdout + result.stderr
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == (tests, failures)


def test_runner_without_a_test_file_refuses_to_run_the_whole_suite(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / RUNNER)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=environ_without_pytest_settings(),
    )
    assert result.returncode != 0 and "usage:" in result.stderr
