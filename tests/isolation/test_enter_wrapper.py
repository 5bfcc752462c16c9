"""The exec wrapper on its own: it execs the command in place, or fails with StartError's 128."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.runtime.isolation.capabilities import can_unshare_mounts

WRAPPER = [sys.executable, "-I", "-m", "reconciler.runtime.isolation.enter"]


def run(spec: dict[str, object], tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return subprocess.run(
        [*WRAPPER, str(path), "--", *argv], capture_output=True, text=True, timeout=30, check=False
    )


def test_without_mounts_it_only_changes_directory_and_execs(tmp_path: Path) -> None:
    """The command replaces the wrapper (same pid) and runs in the working directory."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"cwd": str(tmp_path)}))
    code = "import os; print(os.getcwd(), os.getpid())"
    process = subprocess.Popen(
        [*WRAPPER, str(spec), "--", sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    )
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert out.split() == [str(tmp_path), str(process.pid)]


def test_a_mount_that_cannot_be_made_is_a_start_error(tmp_path: Path) -> None:
    """A bind of a missing source: exit 128, the reason in stderr and in the error file."""
    ok, why = can_unshare_mounts()
    if not ok:
        pytest.skip(why)
    (tmp_path / "stage").mkdir()
    error_file = tmp_path / "start-error"
    spec = {
        "mounts": [{"source": str(tmp_path / "gone"), "target": "/srv"}],
        "stage": str(tmp_path / "stage"),
        "cwd": "/",
        "error_file": str(error_file),
    }
    result = run(spec, tmp_path, "/bin/true")
    assert result.returncode == 128
    message = error_file.read_text()
    assert message.startswith("failed to create containerd task: mount ")
    assert "No such file or directory" in message and message in result.stderr


def test_usage_is_explained(tmp_path: Path) -> None:
    """Without ``SPEC -- ARGV`` it says how it is called (exit 2)."""
    result = subprocess.run([*WRAPPER, "x"], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "usage:" in result.stderr


def test_the_setns_fallback_enters_a_namespace_and_directory(tmp_path: Path) -> None:
    """Without util-linux's nsenter: the one-liner joins the given mount namespace (here the
    caller's own), changes directory and execs the command."""
    from reconciler.runtime.isolation.pods import SETNS_AND_EXEC

    ok, why = can_unshare_mounts()
    if not ok:
        pytest.skip(why)
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            SETNS_AND_EXEC,
            "/proc/self/ns/mnt",
            str(tmp_path),
            "pwd",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, f"{tmp_path}\n"), result.stderr
