"""The GitHub Action's own steps, run as the runner would: a SARIF file and annotations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from validate_factory import deployment, dump

ROOT = Path(__file__).resolve().parents[2]


def test_action_steps_write_sarif_and_annotate_and_fail_on_errors(tmp_path: Path) -> None:
    """The composite action's validate steps write SARIF, print ::error lines and exit 1."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = {step.get("name"): step for step in action["runs"]["steps"]}
    bad = deployment()
    bad["spec"]["replicas"] = "three"
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "web.yaml").write_text(dump(bad))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PATHS": "manifests",
        "TARGET": "kubernetes=1.30",
        "ARGS": "--lint",
        "SARIF": "out.sarif",
    }

    def run(step: str) -> subprocess.CompletedProcess[str]:
        script = steps[step]["run"]
        return subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip

    assert run("SARIF report").returncode == 0  # the report never fails the job by itself
    log = json.loads((tmp_path / "out.sarif").read_text())
    assert log["version"] == "2.1.0" and log["runs"][0]["results"]
    annotations = run("Annotations")
    assert annotations.returncode == 1
    assert "::error file=manifests/web.yaml,line=" in annotations.stdout
