"""``reconciler export``: a real process, real files, stdout for kubectl, warnings on stderr."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.cli import main
from reconciler.cli.export import write_folder
from reconciler.errors import ReconcilerError
from reconciler.export import ExportedObject
from tests.export.conftest import schema_errors

FIXTURES = Path(__file__).parent / "manifests"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A manifests folder holding every test manifest."""
    target = tmp_path / "manifests"
    shutil.copytree(FIXTURES, target)
    return target


def test_export_to_stdout_in_a_real_process(folder: Path) -> None:
    """stdout is a YAML stream a cluster accepts; warnings go to stderr; exit 0."""
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "export", "--target", "kubernetes", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert result.returncode == 0, result.stderr
    objects = list(yaml.safe_load_all(result.stdout))
    assert sorted(o["kind"] for o in objects) == [
        "Deployment",
        "Deployment",
        "Rollout",
        "Rollout",
        *["Service"] * 5,
    ]
    for obj in objects:
        assert schema_errors(obj) == []
    assert "canary.yaml:" in result.stderr
    assert "warning: spec.strategy.canary.analysis: dropped" in result.stderr
    assert "(kubernetes)" in result.stderr


def test_export_to_a_folder_writes_one_file_per_object(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-o DIR`` writes <kind>-<name>.yaml files and nothing to stdout."""
    out = tmp_path / "k8s"
    assert main(["export", "--target", "kubernetes", str(folder), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    names = sorted(p.name for p in out.iterdir())
    assert "rollout-api.yaml" in names
    assert "shop-deployment-web.yaml" in names
    assert len(names) == 9
    rollout = yaml.safe_load((out / "rollout-cart.yaml").read_text())
    assert rollout["spec"]["progressDeadlineAbort"] is True
    assert f"wrote {out / 'rollout-api.yaml'}" in captured.err


def test_invalid_folder_exports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder that does not validate prints its errors and exits 1 with empty stdout."""
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: three}\n"
    )
    assert main(["export", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "bad.yaml:" in captured.err
    assert "nothing exported" in captured.err


def test_clashing_file_names_are_refused(tmp_path: Path) -> None:
    """Two objects that would share a file refuse the folder output instead of overwriting."""
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    objects = (ExportedObject(obj, "a.yaml", 1), ExportedObject(obj, "b.yaml", 3))
    with pytest.raises(ReconcilerError, match=r"b.yaml:3: .* would overwrite service-web.yaml"):
        write_folder(tmp_path / "out", objects)
    assert not (tmp_path / "out").exists()


def test_kubernetes_problems_point_at_field_lines(folder: Path) -> None:
    """The validate hook's problems carry each field's own line, read back from the files."""
    from reconciler.cli.export import kubernetes_problems
    from reconciler.manifests.validate import validate_paths

    problems = kubernetes_problems(validate_paths([folder / "rolling.yaml"]))
    where = {p.field: (p.line, p.column) for p in problems}
    assert where["spec.autoRollback"] == (20, 3)
    assert where["spec.template.spec.containers[0].workingDir"] == (40, 11)
    assert all(p.file == str(folder / "rolling.yaml") for p in problems)


@pytest.mark.parametrize(
    ("args", "code", "reported"),
    [
        pytest.param([], 0, False, id="local target says nothing"),
        pytest.param(["--target", "kubernetes"], 0, True, id="kubernetes target warns"),
        pytest.param(["--target", "kubernetes", "--strict"], 1, True, id="strict fails CI"),
    ],
)
def test_validate_target_kubernetes(
    folder: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, reported: bool
) -> None:
    """validate --target kubernetes lists what would not carry over; --strict makes it fail."""
    assert main(["validate", str(folder / "rolling.yaml"), *args]) == code
    out = capsys.readouterr().out
    line = f"{folder / 'rolling.yaml'}:20:3: "
    assert (line in out and "spec.autoRollback: dropped" in out) is reported
