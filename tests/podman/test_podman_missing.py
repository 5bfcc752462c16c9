"""Without podman: a clear error at start, never a traceback; process pods are unaffected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reconciler.proxy.dataplane import stop_dataplane
from reconciler.runtime.podman.host import MISSING


def test_run_with_podman_runtime_but_no_podman_says_how_to_fix(tmp_path: Path) -> None:
    """`run --runtime podman` where podman is not on PATH exits 1 with one line naming the fix."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "RECONCILER_STATE_DIR": str(tmp_path / "state")}
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "run", str(folder), "--runtime", "podman"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    # the data plane comes up before the runtime and, like after any stop, outlives the daemon
    stop_dataplane(tmp_path / "state", drain=1.0)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: {MISSING}"
    assert "Traceback" not in result.stderr
