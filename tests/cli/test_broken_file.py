"""The editing verbs on an object whose file cannot be parsed: they say so, and where."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.objects import Kind, ObjectRef
from reconciler.paths import find_state_dir
from reconciler.store import Store
from tests.cli.test_edit_file import FIXTURE

WHERE = re.compile(r"manifests/web\.yaml:\d+:\d+: error: YAML syntax error: ")
BROKEN = FIXTURE.replace("kind: Deployment", "kind: Deployment\nspec: [", 1)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "manifests"
    path.mkdir()
    (path / "web.yaml").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)
    return path


def _known(folder: Path) -> None:
    """The store knows deployment/web came from manifests/web.yaml (a daemon applied it)."""
    with Store.open(find_state_dir()) as store:
        store.put_object(
            ref=ObjectRef(Kind.DEPLOYMENT, "default", "web"),
            manifest={},
            spec={"spec": {}},
            source=str((folder / "web.yaml").resolve()),
            line=3,
            digest="d",
            now=1.0,
        )


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["set", "image", "deployment/web", "web=demo:2"], id="set image"),
        pytest.param(["scale", "deployment/web", "--replicas=3"], id="scale"),
        pytest.param(["label", "deployment/web", "tier=web"], id="label"),
        pytest.param(["annotate", "deployment/web", "note=x"], id="annotate"),
        pytest.param(["rollout", "pause", "deployment/web"], id="rollout pause"),
        pytest.param(["rollout", "resume", "deployment/web"], id="rollout resume"),
        pytest.param(["rollout", "undo", "deployment/web"], id="rollout undo"),
        pytest.param(["edit", "deployment/web"], id="edit"),
        pytest.param(["delete", "deployment", "web"], id="delete"),
    ],
)
def test_editing_verbs_name_the_broken_file_not_not_found(
    folder: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Each verb exits 1 saying the object's file cannot be parsed at file:line:col, and
    writes nothing."""
    _known(folder)
    assert main([*argv, "--manifests", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "NotFound" not in err
    assert 'deployments.apps "web" cannot be edited: its manifest manifests/web.yaml' in err
    assert WHERE.search(err), err
    assert (folder / "web.yaml").read_text() == BROKEN


def test_a_broken_file_that_names_the_object_is_suspected_without_a_store(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No store to ask: a broken file whose text names the object is named as its likely home;
    a name no file mentions is plain NotFound."""
    assert main(["label", "deployment/web", "a=b", "--manifests", str(folder)]) == 1
    err = capsys.readouterr().err
    assert (
        "was not found in the folder, but manifests/web.yaml cannot be parsed and may hold it"
        in err
    )
    assert WHERE.search(err), err
    assert main(["label", "deployment/zzz", "a=b", "--manifests", str(folder)]) == 1
    assert capsys.readouterr().err == (
        'Error from server (NotFound): deployments.apps "zzz" not found\n'
    )
