"""The kubectl verbs that change the folder: their output lines and their effect on the file."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.objects import Kind, ObjectRef
from reconciler.paths import find_state_dir
from reconciler.store import Store
from tests.cli.test_edit_file import FIXTURE, changed_lines


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder holding the fixture manifest (a Deployment and a Service in one file)."""
    path = tmp_path / "manifests"
    path.mkdir()
    (path / "web.yaml").write_text(FIXTURE)
    return path


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run from an empty directory: a default ./manifests never hits the repo."""
    monkeypatch.chdir(tmp_path)


def run(folder: Path, *words: str) -> int:
    """Run the CLI on ``folder`` (``--manifests`` goes before any ``--``)."""
    if "--" in words:
        at = words.index("--")
        return main([*words[:at], "--manifests", str(folder), *words[at:]])
    return main([*words, "--manifests", str(folder)])


def test_set_image_changes_one_line(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """set image prints kubectl's line and changes only the image line."""
    assert run(folder, "set", "image", "deployment.v1.apps/web", "web=demo:2") == 0
    assert capsys.readouterr().out == "deployment.apps/web image updated\n"
    after = (folder / "web.yaml").read_text()
    assert changed_lines(FIXTURE, after) == [
        "-               image: 'demo:1'   # the image",
        "+               image: 'demo:2'   # the image",
    ]


def test_set_image_star_sets_every_container(folder: Path) -> None:
    """``*=IMAGE`` updates all containers."""
    assert run(folder, "set", "image", "deploy/web", "*=demo:3") == 0
    assert "image: 'demo:3'" in (folder / "web.yaml").read_text()


def test_set_image_unknown_container_is_refused(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown container name is kubectl's error and the file is untouched."""
    assert run(folder, "set", "image", "deployment/web", "nope=demo:2") == 1
    assert capsys.readouterr().err == 'error: unable to find container named "nope"\n'
    assert (folder / "web.yaml").read_text() == FIXTURE


def test_missing_object_is_kubectls_not_found(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deployment the folder does not hold gives kubectl's NotFound line, exit 1."""
    assert run(folder, "scale", "deployment/api", "--replicas", "2") == 1
    assert capsys.readouterr().err == (
        'Error from server (NotFound): deployments.apps "api" not found\n'
    )


def test_scale(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """scale rewrites spec.replicas only."""
    assert run(folder, "scale", "deployment", "web", "--replicas=7") == 0
    assert capsys.readouterr().out == "deployment.apps/web scaled\n"
    after = (folder / "web.yaml").read_text()
    assert changed_lines(FIXTURE, after) == [
        "-   replicas: 3    # three",
        "+   replicas: 7    # three",
    ]


def test_scale_negative_is_refused(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--replicas -1 is kubectl's usage error and nothing is written."""
    assert run(folder, "scale", "deployment/web", "--replicas", "-1") == 2
    assert "COUNT must be greater than or equal to 0" in capsys.readouterr().err
    assert (folder / "web.yaml").read_text() == FIXTURE


def test_annotate_and_overwrite(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """annotate adds; a different value needs --overwrite; k- removes."""
    cause = "kubernetes.io/change-cause=image updated to 2"
    assert run(folder, "annotate", "deployment/web", cause) == 0
    assert capsys.readouterr().out == "deployment.apps/web annotated\n"
    text = (folder / "web.yaml").read_text()
    assert "kubernetes.io/change-cause: image updated to 2" in text
    assert run(folder, "annotate", "deployment/web", "kubernetes.io/change-cause=x") == 1
    assert "--overwrite is false" in capsys.readouterr().err
    assert (folder / "web.yaml").read_text() == text
    assert run(folder, "annotate", "deployment/web", "kubernetes.io/change-cause-") == 0
    assert (folder / "web.yaml").read_text() == FIXTURE


def test_label_refuses_overwrite_without_flag(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """label app=other is refused without --overwrite, then accepted with it."""
    assert run(folder, "label", "deployment/web", "tier=back") == 1
    assert capsys.readouterr().err == (
        "error: 'tier' already has a value (front), and --overwrite is false\n"
    )
    assert run(folder, "label", "deployment/web", "tier=back", "--overwrite") == 0
    assert capsys.readouterr().out == "deployment.apps/web labeled\n"
    after = (folder / "web.yaml").read_text()
    assert changed_lines(FIXTURE, after) == [
        '-   labels: {app: web,  tier: "front"}',
        '+   labels: {app: web, tier: "back"}',
    ]


def test_create_deployment_writes_a_new_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """create deployment writes <name>.yaml with kubectl's labels and selector."""
    folder = tmp_path / "manifests"
    words = ["create", "deployment", "my-httpd", "--image=httpd", "--replicas=1", "--port=80"]
    assert run(folder, *words, "--", "python3", "-m", "reconciler.demoapp") == 0
    assert capsys.readouterr().out == "deployment.apps/my-httpd created\n"
    assert (folder / "my-httpd.yaml").read_text() == (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: my-httpd\n"
        "  labels:\n"
        "    app: my-httpd\n"
        "spec:\n"
        "  replicas: 1\n"
        "  selector:\n"
        "    matchLabels:\n"
        "      app: my-httpd\n"
        "  template:\n"
        "    metadata:\n"
        "      labels:\n"
        "        app: my-httpd\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: httpd\n"
        "        image: httpd\n"
        "        command:\n"
        "        - python3\n"
        "        - -m\n"
        "        - reconciler.demoapp\n"
        "        ports:\n"
        "        - containerPort: 80\n"
    )


def test_create_existing_is_refused(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An object already in any file of the folder is kubectl's AlreadyExists error."""
    assert run(folder, "create", "deployment", "web", "--image", "demo:9") == 1
    assert capsys.readouterr().err == (
        'error: failed to create deployment: deployments.apps "web" already exists\n'
    )
    assert sorted(p.name for p in folder.iterdir()) == ["web.yaml"]


def test_create_dry_run_prints_yaml_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run -o yaml prints the manifest only."""
    folder = tmp_path / "manifests"
    assert (
        run(folder, "create", "deployment", "web", "--image=demo:1", "--dry-run", "-o", "yaml") == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("apiVersion: apps/v1\nkind: Deployment\n")
    assert not folder.exists()


def test_create_service_clusterip_form(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``create service clusterip NAME --tcp=P:T`` writes NAME-service.yaml next to NAME.yaml."""
    (folder / "web.yaml").write_text(FIXTURE.split("---\napiVersion: v1")[0])
    assert run(folder, "create", "service", "clusterip", "web", "--tcp=5678:8080") == 0
    assert capsys.readouterr().out == "service/web created\n"
    text = (folder / "web-service.yaml").read_text()
    assert "  - name: 5678-8080\n    port: 5678\n    targetPort: 8080\n" in text


def test_apply_created_configured_unchanged(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """apply writes new objects to new files and merges known ones into their document."""
    source = tmp_path / "in.yaml"
    source.write_text(
        "# api: a new object, comments copied\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n"
        "spec:\n  selector: {app: api}\n  ports:\n  - port: 81\n"
        "---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        "spec:\n  selector: {app: web}\n  ports:\n  - port: 8080\n    targetPort: 9000\n"
    )
    assert run(folder, "apply", "-f", str(source)) == 0
    assert capsys.readouterr().out == "service/api created\nservice/web configured\n"
    assert (folder / "api.yaml").read_text().startswith("# api: a new object, comments copied\n")
    assert changed_lines(FIXTURE, (folder / "web.yaml").read_text()) == [
        "-    targetPort: 8080",
        "+    targetPort: 9000",
    ]
    assert run(folder, "apply", "-f", str(source)) == 0
    assert capsys.readouterr().out == "service/api unchanged\nservice/web unchanged\n"


def test_apply_from_stdin(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """apply -f - reads the objects from standard input."""
    monkeypatch.setattr(
        "sys.stdin",
        io.StringIO(
            "apiVersion: v1\nkind: Service\nmetadata: {name: db}\n"
            "spec:\n  selector: {app: db}\n  ports:\n  - port: 5432\n"
        ),
    )
    assert run(folder, "apply", "-f", "-") == 0
    assert capsys.readouterr().out == "service/db created\n"


def test_apply_with_a_namespace(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """apply -n NS puts objects without a namespace into NS and refuses another namespace."""
    source = tmp_path / "db.yaml"
    source.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: db}\n"
        "spec:\n  selector: {app: db}\n  ports:\n  - port: 5432\n"
    )
    assert run(folder, "apply", "-n", "team", "-f", str(source)) == 0
    assert capsys.readouterr().out == "service/db created\n"
    assert "namespace: team" in (folder / "db.yaml").read_text()
    other = tmp_path / "other.yaml"
    other.write_text(source.read_text().replace("{name: db}", "{name: db2, namespace: ops}"))
    assert run(folder, "apply", "-n", "team", "-f", str(other)) == 1
    assert 'does not match the namespace "team"' in capsys.readouterr().err


def test_apply_refuses_invalid_input_and_writes_nothing(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any invalid document means nothing is written."""
    source = tmp_path / "bad.yaml"
    source.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: db}\n---\na: [1\n")
    assert run(folder, "apply", "-f", str(source)) == 1
    assert "nothing was written" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["web.yaml"]


def test_delete_one_document_of_a_multi_document_file(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """delete service removes that document only, with kubectl's wording."""
    assert run(folder, "delete", "service", "web") == 0
    assert capsys.readouterr().out == 'service "web" deleted\n'
    assert (folder / "web.yaml").read_text() == FIXTURE[: FIXTURE.index("---\napiVersion: v1")]
    assert run(folder, "delete", "deployment/web") == 0
    assert capsys.readouterr().out == 'deployment.apps "web" deleted\n'
    assert not (folder / "web.yaml").exists()


def test_delete_missing_and_pod(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing object is NotFound, for files' objects and for pods alike (pods are in the
    store: without one, that is what is said)."""
    assert run(folder, "delete", "deployment", "nope") == 1
    assert "NotFound" in capsys.readouterr().err
    assert run(folder, "delete", "deployment", "nope", "--ignore-not-found") == 0
    assert run(folder, "delete", "pod", "web-abc") == 1
    assert capsys.readouterr().err.startswith("error: no reconciler state at ")
    Store.open(find_state_dir()).close()
    assert run(folder, "delete", "pod", "web-abc") == 1
    assert capsys.readouterr().err.endswith(
        'Error from server (NotFound): pods "web-abc" not found\n'
    )


def test_delete_dash_f(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """delete -f FILE deletes the objects the file names."""
    source = tmp_path / "svc.yaml"
    source.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n")
    assert run(folder, "delete", "-f", str(source)) == 0
    assert capsys.readouterr().out == 'service "web" deleted\n'


def test_pause_and_resume(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """pause adds spec.paused, resume removes it again, each says 'already' the second time."""
    assert run(folder, "rollout", "pause", "deployment/web") == 0
    assert run(folder, "rollout", "pause", "deployment/web") == 0
    assert "   paused: true\n" in (folder / "web.yaml").read_text()
    assert run(folder, "rollout", "resume", "deployment/web") == 0
    assert run(folder, "rollout", "resume", "deployment/web") == 0
    assert capsys.readouterr().out == (
        "deployment.apps/web paused\n"
        "deployment.apps/web already paused\n"
        "deployment.apps/web resumed\n"
        "deployment.apps/web already resumed\n"
    )
    assert (folder / "web.yaml").read_text() == FIXTURE


def test_refuses_a_read_only_file(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file this user cannot write is refused with a clear message."""
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write any file")
    (folder / "web.yaml").chmod(0o444)
    assert run(folder, "scale", "deployment/web", "--replicas=1") == 1
    assert "not writable" in capsys.readouterr().err


def test_refuses_a_file_outside_the_folder(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A symlink out of the folder is refused: the daemon would not see the change."""
    outside = tmp_path / "elsewhere.yaml"
    (folder / "web.yaml").rename(outside)
    (folder / "web.yaml").symlink_to(outside)
    assert run(folder, "scale", "deployment/web", "--replicas=1") == 1
    assert "outside the manifests folder" in capsys.readouterr().err


def test_command_is_noted_as_change_cause(folder: Path, state_dir: Path) -> None:
    """After a write the store knows which command produced the file's bytes."""
    Store.open(state_dir).close()
    words = ["set", "image", "deployment/web", "web=demo:2", "--state-dir", str(state_dir)]
    assert run(folder, *words) == 0
    path = folder / "web.yaml"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with Store.open(state_dir) as store:
        command = store.command_for(source=str(path.resolve()), file_sha256=digest)
    assert command == "reconciler set image deployment/web web=demo:2"


def test_folder_defaults_to_the_daemons(
    folder: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --manifests the folder the daemon watches (store meta) is edited."""
    with Store.open(state_dir) as store:
        store.set_meta("manifests_dir", str(folder))
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(state_dir))
    assert main(["scale", "deployment/web", "--replicas=2"]) == 0
    assert "replicas: 2" in (folder / "web.yaml").read_text()
    assert ObjectRef(Kind.DEPLOYMENT, "default", "web").display == "deployment.apps/web"
