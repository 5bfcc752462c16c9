"""``rollout undo`` from the store's ReplicaSets, written back into the manifest (§2.5)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import main
from reconciler.defaults import default_deployment
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store
from tests.cli.test_edit_file import FIXTURE, changed_lines

WEB = ObjectRef(Kind.DEPLOYMENT, "default", "web")


def template_of(text: str, image: str) -> dict[str, Any]:
    """The defaulted pod template of the fixture's deployment with ``image``."""
    doc = next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "Deployment")
    doc = copy.deepcopy(doc)
    doc["spec"]["template"]["spec"]["containers"][0]["image"] = image
    template: dict[str, Any] = default_deployment(doc)["spec"]["template"]
    return template


@pytest.fixture
def folder(tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture at image demo:2, with revisions 1 (demo:1) and 2 (demo:2) in the store."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "manifests"
    path.mkdir()
    text = FIXTURE.replace("'demo:1'", "'demo:2'")
    (path / "web.yaml").write_text(text)
    with Store.open(state_dir) as store:
        for n, image in enumerate(["demo:1", "demo:2"]):
            store.record_revision(WEB, template_of(FIXTURE, image), change_cause="", now=1000.0 + n)
    return path


def undo(folder: Path, state_dir: Path, *extra: str) -> int:
    words = ["rollout", "undo", "deployment/web", "--manifests", str(folder)]
    return main([*words, "--state-dir", str(state_dir), *extra])


def test_undo_writes_the_previous_template(
    folder: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Default target is the second-highest revision; only the image line changes."""
    before = (folder / "web.yaml").read_text()
    assert undo(folder, state_dir) == 0
    assert capsys.readouterr().out == "deployment.apps/web rolled back\n"
    after = (folder / "web.yaml").read_text()
    assert changed_lines(before, after) == [
        "-               image: 'demo:2'   # the image",
        "+               image: 'demo:1'   # the image",
    ]
    assert "restartPolicy" not in after  # defaults are not written into the file


def test_undo_to_the_current_revision_is_skipped(
    folder: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--to-revision of the running template is kubectl's 'skipped rollback'."""
    assert undo(folder, state_dir, "--to-revision=2") == 0
    assert capsys.readouterr().out == (
        "deployment.apps/web skipped rollback (current template already matches revision 2)\n"
    )


@pytest.mark.parametrize(
    ("revision", "message"),
    [
        pytest.param("7", "error: unable to find specified revision 7 in history\n", id="absent"),
        pytest.param("-1", "error: unable to find specified revision -1 in history\n", id="neg"),
    ],
)
def test_undo_unknown_revision(
    folder: Path,
    state_dir: Path,
    capsys: pytest.CaptureFixture[str],
    revision: str,
    message: str,
) -> None:
    """An unknown or negative revision is kubectl's error, exit 1."""
    assert undo(folder, state_dir, f"--to-revision={revision}") == 1
    assert capsys.readouterr().err == message


def test_undo_without_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment with one revision has no rollout history to go back to."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "web.yaml").write_text(FIXTURE)
    state = tmp_path / "s"
    with Store.open(state) as store:
        store.record_revision(WEB, template_of(FIXTURE, "demo:1"), change_cause="", now=1.0)
    assert undo(folder, state) == 1
    assert capsys.readouterr().err == 'error: no rollout history found for deployment "web"\n'


def test_undo_refused_while_paused(
    folder: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A paused deployment cannot be rolled back."""
    assert main(["rollout", "pause", "deploy/web", "--manifests", str(folder)]) == 0
    capsys.readouterr()
    assert undo(folder, state_dir) == 1
    assert "you cannot rollback a paused deployment" in capsys.readouterr().err


def test_undo_dry_run_prints_the_template(
    folder: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run prints the target template and writes nothing."""
    before = (folder / "web.yaml").read_text()
    assert undo(folder, state_dir, "--dry-run") == 0
    assert "image: demo:1" in capsys.readouterr().out
    assert (folder / "web.yaml").read_text() == before


def test_undo_notes_the_command(folder: Path, state_dir: Path) -> None:
    """The rollback's command is the change cause of the bytes it wrote."""
    import hashlib

    assert undo(folder, state_dir) == 0
    path = folder / "web.yaml"
    with Store.open(state_dir) as store:
        command = store.command_for(
            source=str(path.resolve()), file_sha256=hashlib.sha256(path.read_bytes()).hexdigest()
        )
    assert command == "reconciler rollout undo deployment/web"
