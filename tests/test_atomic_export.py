"""Atomic exports: what killed exports leave is removed by the next one, never a live export's staging directory;
--overwrite exchanges the old export for the new one in one step, or falls back to two renames."""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from hubexport.errors import ExportDirError
from hubexport.savedmodel import rename_exchange
from hubexport.savedmodel.atomic import export_atomically
from hubexport.savedmodel.rename_exchange import exchange_paths
from tests.support.tiny_config import TINY_CONFIG

TOKEN = "0123456789abcdef"
TIMEOUT = 60


def leftovers(parent: pathlib.Path) -> list[str]:
    """The staging, old and lock entries in `parent`."""
    return sorted(path.name for path in parent.iterdir() if ".staging-" in path.name or ".old-" in path.name)


def hidden_entries(tree: pathlib.Path) -> list[str]:
    return [str(path.relative_to(tree)) for path in tree.rglob(".*")]


def writes(text: str):
    """A `write` callback that puts `text` in saved_model.pb."""
    return lambda staging: (staging / "saved_model.pb").write_text(text)


def no_probe(staging: pathlib.Path) -> None:
    pass


def start_cli(*args: str, cwd: pathlib.Path) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "hubexport.export_main", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def kill_after_staging(processes: dict[str, subprocess.Popen], parent: pathlib.Path, delays: dict[str, float]) -> None:
    """Stops each export `name` (SIGSTOP) once its staging directory `.name.staging-*` appeared; when all have one, so
    none looks for leftovers any more (and removes another's), resumes them and kills each `delays[name]` s later."""
    stopped = set()

    def all_stopped() -> bool:
        for name, process in processes.items():
            assert process.poll() is None, f"{name} ended before it was stopped: {process.communicate()[1]}"
            if name not in stopped and any(path.is_dir() for path in parent.glob(f".{name}.staging-*")):
                process.send_signal(signal.SIGSTOP)
                stopped.add(name)
        return len(stopped) == len(processes)

    wait_for(all_stopped, "every export to create its staging directory")
    for process in processes.values():
        process.send_signal(signal.SIGCONT)
    start = time.monotonic()
    for name, delay in sorted(delays.items(), key=lambda item: item[1]):
        time.sleep(max(0.0, start + delay - time.monotonic()))
        processes[name].kill()


def test_killed_exports_leave_staging_that_the_next_export_removes(tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_CONFIG))
    parent = tmp_path / "exports"
    names = [f"killed{index}" for index in range(3)]
    rng = random.Random(20240605)
    # The first is killed at once, so something is surely left; the others in their save or probe stage, or, on a
    # machine fast enough, after their move into place (which leaves at most a lock file).
    delays = {name: 0.0 if name == names[0] else rng.uniform(0.1, 1.2) for name in names}
    processes = {
        name: start_cli(f"--config_file={config}", f"--export_dir={parent / name}", "--seed=1", cwd=tmp_path)
        for name in names
    }
    try:
        kill_after_staging(processes, parent, delays)
    finally:
        for process in processes.values():
            process.kill()  # those still running after a failure
    for name, process in processes.items():
        process.communicate()
        assert process.returncode == -9, f"{name} ended by itself before its kill at {delays[name]:.2f} s"
    interrupted = [name for name in names if not (parent / name).exists()]
    assert names[0] in interrupted
    left = leftovers(parent)
    for name in interrupted:
        assert sum(entry.startswith(f".{name}.staging-") and not entry.endswith(".lock") for entry in left) == 1, left
        assert sum(entry.startswith(f".{name}.staging-") and entry.endswith(".lock") for entry in left) == 1, left

    fresh = start_cli(f"--config_file={config}", f"--export_dir={parent / 'fresh'}", "--seed=1", cwd=tmp_path)
    _, stderr = fresh.communicate(timeout=TIMEOUT)
    assert fresh.returncode == 0, stderr
    assert leftovers(parent) == []
    assert sorted(path.name for path in parent.iterdir()) == sorted({*names, "fresh"} - set(interrupted))
    assert (parent / "fresh" / "saved_model.pb").is_file()
    assert hidden_entries(parent / "fresh") == []
    removed = re.findall(
        r"^hubexport: warning: removed \S+/\.(\w+)\.staging-[0-9a-f]{16}, left by an export that "
        r"is no longer running \(\d+ bytes freed\)$",
        stderr,
        flags=re.MULTILINE,
    )
    assert sorted(removed) == interrupted, stderr


SLOW_EXPORT = """
import pathlib, sys, time
from hubexport.savedmodel.atomic import export_atomically

destination, ready, go = map(pathlib.Path, sys.argv[1:])

def write(staging):
    (staging / "saved_model.pb").write_text("export A")
    ready.write_text(str(staging))
    while not go.exists():
        time.sleep(0.01)

export_atomically(destination, False, write, lambda staging: None)
"""


def test_a_live_exports_staging_is_never_removed(tmp_path, caplog):
    parent, ready, go = tmp_path / "exports", tmp_path / "ready", tmp_path / "go"
    export_a = subprocess.Popen([sys.executable, "-c", SLOW_EXPORT, str(parent / "a"), str(ready), str(go)])
    try:
        wait_for(ready.exists, "export A to write its staging directory")
        staging_a = pathlib.Path(ready.read_text())
        with caplog.at_level(logging.WARNING, logger="hubexport"):
            export_atomically(parent / "b", False, writes("export B"), no_probe)
        assert caplog.messages == []
        assert (staging_a / "saved_model.pb").read_text() == "export A"
        assert leftovers(parent) == sorted([staging_a.name, f"{staging_a.name}.lock"])
        go.touch()
        assert export_a.wait(timeout=TIMEOUT) == 0
    finally:
        export_a.kill()
    assert (parent / "a" / "saved_model.pb").read_text() == "export A"
    assert (parent / "b" / "saved_model.pb").read_text() == "export B"
    assert sorted(path.name for path in parent.iterdir()) == ["a", "b"]


def test_a_lock_file_without_its_directory_is_removed_quietly(tmp_path, caplog):
    """What an export killed between creating its lock file and its staging directory leaves."""
    (tmp_path / f".out.staging-{TOKEN}.lock").touch()
    with caplog.at_level(logging.WARNING, logger="hubexport"):
        export_atomically(tmp_path / "other", False, writes("new"), no_probe)
    assert caplog.messages == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["other"]


def test_an_old_export_moved_aside_by_a_killed_overwrite_is_put_back(tmp_path, caplog):
    """What an export killed between the two renames of the fallback leaves: no destination, the old export
    moved aside, the new one in staging."""
    (tmp_path / f".out.staging-{TOKEN}.lock").touch()
    for kind, text in (("old", "previous export"), ("staging", "new export")):
        (tmp_path / f".out.{kind}-{TOKEN}").mkdir()
        (tmp_path / f".out.{kind}-{TOKEN}" / "saved_model.pb").write_text(text)
    with caplog.at_level(logging.WARNING, logger="hubexport"):
        export_atomically(tmp_path / "other", False, writes("other export"), no_probe)
    assert (tmp_path / "out" / "saved_model.pb").read_text() == "previous export"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["other", "out"]
    assert caplog.messages == [
        f"put the previous export back at {tmp_path / 'out'}: an export failed or was killed while replacing it",
        f"removed {tmp_path / f'.out.staging-{TOKEN}'}, left by an export that is no longer running (10 bytes freed)",
    ]


def test_only_locked_names_of_our_pattern_are_removed(tmp_path, caplog):
    """A directory from an older hubexport (no lock file) is left and warned about; other names are not touched."""
    legacy = tmp_path / ".out.staging-k3x_9a2q"
    legacy.mkdir()
    (legacy / "saved_model.pb").write_text("12345")
    others = [
        f"out.staging-{TOKEN}",
        f".out.stage-{TOKEN}",
        ".out.old-backup",
        ".cache",
        f".out.staging-{TOKEN}.lock.bak",
    ]
    for name in others:
        (tmp_path / name).mkdir()
    with caplog.at_level(logging.WARNING, logger="hubexport"):
        export_atomically(tmp_path / "out", False, writes("new"), no_probe)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([legacy.name, "out", *others])
    assert (legacy / "saved_model.pb").read_text() == "12345"
    assert caplog.messages == [
        f"left {legacy} (5 bytes) alone: it has no lock file (an older hubexport made it), "
        "so an export may still be writing it; delete it if none is"
    ]


def test_a_nested_export_leaves_no_lock_file_inside_the_outer_one(tmp_path):
    def write_pair(staging: pathlib.Path) -> None:
        export_atomically(staging / "encoder", False, writes("encoder"), no_probe)
        export_atomically(staging / "preprocessor", False, writes("preprocessor"), no_probe)

    export_atomically(tmp_path / "both", False, write_pair, no_probe)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["both"]
    assert sorted(path.name for path in (tmp_path / "both").iterdir()) == ["encoder", "preprocessor"]
    assert hidden_entries(tmp_path / "both") == []


def test_failed_probe_leaves_nothing_and_keeps_the_old_export(tmp_path):
    destination = tmp_path / "export"
    destination.mkdir()
    (destination / "old.txt").write_text("previous export")

    def write(staging: pathlib.Path) -> None:
        (staging / "saved_model.pb").write_text("half written")

    def probe(staging: pathlib.Path) -> None:
        raise RuntimeError("probe failed")

    with pytest.raises(RuntimeError, match="probe failed"):
        export_atomically(destination, True, write, probe)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    assert (destination / "old.txt").read_text() == "previous export"
    with pytest.raises(ExportDirError, match="--overwrite"):
        export_atomically(destination, False, write, probe)


def exchange_is_available(scratch: pathlib.Path) -> bool:
    (scratch / "first").mkdir()
    (scratch / "second").mkdir()
    return exchange_paths(scratch / "first", scratch / "second")


def test_exchange_paths_swaps_two_directories(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for directory in (first, second):
        directory.mkdir()
        (directory / "name").write_text(directory.name)
    if sys.platform != "linux":
        pytest.skip("renameat2(RENAME_EXCHANGE) is Linux's")
    assert exchange_paths(first, second), "renameat2(RENAME_EXCHANGE) refused on Linux: the atomic overwrite is lost"
    assert (first / "name").read_text() == "second" and (second / "name").read_text() == "first"
    with pytest.raises(FileNotFoundError):
        exchange_paths(first, tmp_path / "missing")


def test_overwrite_never_leaves_the_destination_missing(tmp_path):
    if sys.platform != "linux":
        pytest.skip("renameat2(RENAME_EXCHANGE) is Linux's")
    assert exchange_is_available(tmp_path), "renameat2(RENAME_EXCHANGE) refused on Linux"
    parent = tmp_path / "exports"
    destination = parent / "export"
    export_atomically(destination, False, writes("0"), no_probe)
    stop, reads, missing = threading.Event(), [0], [0]

    def read() -> None:
        while not stop.is_set():
            reads[0] += 1
            missing[0] += not (destination / "saved_model.pb").is_file()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in range(1, 201):
            export_atomically(destination, True, writes(str(version)), no_probe)
    finally:
        stop.set()
        reader.join()
    assert reads[0] > 200 and missing[0] == 0
    assert (destination / "saved_model.pb").read_text() == "200"
    assert sorted(path.name for path in parent.iterdir()) == ["export"]


def refusing_renameat2(*args) -> int:
    """renameat2 as a filesystem without RENAME_EXCHANGE answers it."""
    ctypes.set_errno(errno.EINVAL)
    return -1


@pytest.mark.parametrize("renameat2", [None, refusing_renameat2], ids=["unavailable", "refused"])
def test_overwrite_falls_back_to_two_renames(tmp_path, monkeypatch, renameat2):
    monkeypatch.setattr(rename_exchange, "_renameat2", lambda: renameat2)
    destination = tmp_path / "export"
    export_atomically(destination, False, writes("old"), no_probe)
    (destination / "old.txt").write_text("only in the old export")
    assert not exchange_paths(destination, destination)

    export_atomically(destination, True, writes("new"), no_probe)
    assert sorted(path.name for path in destination.iterdir()) == ["saved_model.pb"]
    assert (destination / "saved_model.pb").read_text() == "new"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export"]
