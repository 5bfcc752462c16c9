"""``edit`` with a scripted editor: good save, bad save then fix, cancel, empty."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from reconciler.cli import main
from tests.cli.test_edit_file import FIXTURE, changed_lines

# The editor: each run applies the next (old, new) replacement from a plan file to the buffer
# and keeps a copy of every buffer it was shown.
EDITOR = """
import json, os, sys
from pathlib import Path
plan_path = Path(os.environ["EDIT_PLAN"])
plan = json.loads(plan_path.read_text())
step = plan["steps"].pop(0)
plan_path.write_text(json.dumps(plan))
buffer = Path(sys.argv[1]).read_text()
Path(plan_path.with_suffix(".seen%d" % len(plan["steps"]))).write_text(buffer)
if step == "empty":
    buffer = ""
elif step is not None:
    buffer = buffer.replace(step[0], step[1])
Path(sys.argv[1]).write_text(buffer)
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture manifest, and $EDITOR set to the scripted editor."""
    path = tmp_path / "manifests"
    path.mkdir()
    (path / "web.yaml").write_text(FIXTURE)
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.setenv("EDIT_PLAN", str(tmp_path / "plan.json"))
    monkeypatch.chdir(tmp_path)
    return path


def plan(folder: Path, *steps: object) -> None:
    (folder.parent / "plan.json").write_text(json.dumps({"steps": list(steps)}))


def seen(folder: Path) -> list[str]:
    """The buffers the editor was shown, in order."""
    found = sorted(folder.parent.glob("plan.seen*"), key=lambda p: -int(p.suffix[5:]))
    return [p.read_text() for p in found]


def edit(folder: Path) -> int:
    return main(["edit", "deployment/web", "--manifests", str(folder)])


def test_good_save_replaces_only_that_document(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid change is written as saved; the header is dropped, the comments are kept."""
    plan(folder, ["replicas: 3    # three", "replicas: 4    # four"])
    assert edit(folder) == 0
    assert capsys.readouterr().out == "deployment.apps/web edited\n"
    assert changed_lines(FIXTURE, (folder / "web.yaml").read_text()) == [
        "-   replicas: 3    # three",
        "+   replicas: 4    # four",
    ]
    (buffer,) = seen(folder)
    assert buffer.startswith("# Please edit the object below.")
    assert "# web app\napiVersion: apps/v1   # trailing comment\n" in buffer


def test_bad_save_reopens_with_errors_then_fix(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid save reopens the buffer with the errors as comments; the fix is written."""
    plan(
        folder,
        ["replicas: 3    # three", "replicas: -1    # three"],
        ["replicas: -1    # three", "replicas: 2    # three"],
    )
    assert edit(folder) == 0
    first, second = seen(folder)
    assert "was not valid" not in first
    assert '# deployments.apps "web" was not valid:\n# * spec.replicas' in second
    assert "replicas: -1    # three" in second
    assert changed_lines(FIXTURE, (folder / "web.yaml").read_text()) == [
        "-   replicas: 3    # three",
        "+   replicas: 2    # three",
    ]
    assert capsys.readouterr().out == "deployment.apps/web edited\n"


def test_unchanged_buffer_cancels(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Saving without a change writes nothing."""
    plan(folder, None)
    assert edit(folder) == 0
    assert capsys.readouterr().err == "Edit cancelled, no changes made.\n"
    assert (folder / "web.yaml").read_text() == FIXTURE


def test_emptied_buffer_cancels(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty save aborts the edit."""
    plan(folder, "empty")
    assert edit(folder) == 0
    assert capsys.readouterr().err == "Edit cancelled, saved file was empty.\n"
    assert (folder / "web.yaml").read_text() == FIXTURE


def test_renaming_the_object_is_refused_then_cancelled(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Changing the name is an error; giving up leaves the file alone (exit 1)."""
    plan(folder, ["   name: web\n", "   name: api\n"], None)
    assert edit(folder) == 1
    assert "At least one of apiVersion, kind and name was changed" in seen(folder)[1]
    assert "no valid changes were saved" in capsys.readouterr().err
    assert (folder / "web.yaml").read_text() == FIXTURE
