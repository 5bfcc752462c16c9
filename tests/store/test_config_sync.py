"""ConfigMaps and Secrets through the folder sync: stored as the API server stores them, the
config hash on the templates that use them, immutable objects kept, Secrets from the state
directory read with the folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.folder.sync import Change, FolderSync
from reconciler.manifests.configdata import CONFIG_HASH_ANNOTATION, config_values
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store

WEB = ObjectRef(Kind.DEPLOYMENT, "default", "web")
PLAIN = ObjectRef(Kind.DEPLOYMENT, "default", "plain")
APP = ObjectRef(Kind.CONFIGMAP, "default", "app-config")
DB = ObjectRef(Kind.SECRET, "default", "db")


def configmap(greeting: str = "hello", *, immutable: bool = False) -> str:
    return f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: app-config}}
{"immutable: true" if immutable else ""}
data:
  greeting: {greeting}
"""


def secret(password: str = "hunter2") -> str:
    return f"""apiVersion: v1
kind: Secret
metadata: {{name: db}}
stringData:
  password: {password}
"""


def deployment(name: str = "web", *, annotations: str = "", refs: bool = True) -> str:
    env = (
        """
          envFrom:
            - configMapRef: {name: app-config}
          env:
            - name: PW
              valueFrom: {secretKeyRef: {name: db, key: password}}"""
        if refs
        else ""
    )
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}{annotations}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          image: demo:1
          command: [python3]{env}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "manifests"
    path.mkdir()
    return path


def write(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.yaml").write_text(text)


def hash_of(store: Store, ref: ObjectRef) -> str:
    obj = store.get_object(ref)
    assert obj is not None
    annotations = obj.spec["spec"]["template"].get("metadata", {}).get("annotations", {})
    return str(annotations.get(CONFIG_HASH_ANNOTATION, ""))


def test_config_hash_names_each_object_and_changes_with_its_values(
    folder: Path, store: Store
) -> None:
    """The stored template names each referenced object; an edit of one changes only its part
    and reconfigures the Deployment (a new template), while one that uses nothing is left be."""
    write(folder, "config", configmap() + "---\n" + secret())
    write(folder, "web", deployment() + "---\n" + deployment("plain", refs=False))
    sync = FolderSync(store, folder)
    sync.sync(now=1.0)
    first = hash_of(store, WEB)
    assert first.startswith("configmap/app-config=") and " secret/db=" in first
    assert hash_of(store, PLAIN) == ""
    assert "hunter2" not in first
    manifest = store.get_object(WEB)
    assert manifest is not None and CONFIG_HASH_ANNOTATION not in str(manifest.manifest)

    write(folder, "config", configmap("bonjour") + "---\n" + secret())
    result = sync.sync(now=2.0)
    assert result.changes == {APP: Change.CONFIGURED, WEB: Change.CONFIGURED}
    second = hash_of(store, WEB)
    assert second.split()[1] == first.split()[1] and second.split()[0] != first.split()[0]
    assert sync.sync(now=3.0).changes == {}  # an unchanged folder changes nothing


def test_a_deployment_can_opt_out(folder: Path, store: Store) -> None:
    """reconciler.dev/roll-on-config-change: "false" keeps the template free of the hash."""
    opt_out = '\n  annotations: {reconciler.dev/roll-on-config-change: "false"}'
    write(folder, "config", configmap() + "---\n" + secret())
    write(folder, "web", deployment(annotations=opt_out))
    sync = FolderSync(store, folder)
    sync.sync(now=1.0)
    write(folder, "config", configmap("bonjour") + "---\n" + secret())
    assert sync.sync(now=2.0).changes == {APP: Change.CONFIGURED}
    assert hash_of(store, WEB) == ""


def test_creating_a_missing_configmap_changes_the_hash(folder: Path, store: Store) -> None:
    """A reference to an object not there yet is 'absent'; its creation reconfigures."""
    write(folder, "web", deployment())
    sync = FolderSync(store, folder)
    assert sync.sync(now=1.0).invalid == {}  # the daemon accepts it: pods wait for the config
    assert hash_of(store, WEB) == "configmap/app-config=absent secret/db=absent"
    write(folder, "config", configmap())
    assert sync.sync(now=2.0).changes == {APP: Change.CREATED, WEB: Change.CONFIGURED}


def test_secret_is_stored_with_string_data_merged(folder: Path, store: Store) -> None:
    """stringData is stored base64 in data, type Opaque by default, as the API server does."""
    write(folder, "config", secret())
    FolderSync(store, folder).sync(now=1.0)
    obj = store.get_object(DB)
    assert obj is not None
    assert obj.spec["data"] == {"password": "aHVudGVyMg=="} and "stringData" not in obj.spec
    assert obj.spec["type"] == "Opaque"
    assert config_values("Secret", obj.spec) == {"password": b"hunter2"}


def test_an_immutable_configmap_keeps_its_data(folder: Path, store: Store) -> None:
    """An edit of an immutable ConfigMap's data is refused with the API server's words; the
    stored one stays."""
    write(folder, "config", configmap(immutable=True))
    sync = FolderSync(store, folder)
    sync.sync(now=1.0)
    write(folder, "config", configmap("bonjour", immutable=True))
    result = sync.sync(now=2.0)
    assert APP not in result.changes
    (problem,) = result.invalid[APP]
    assert problem.message.startswith("Forbidden: field is immutable when `immutable` is set")
    assert problem.field == "data" and problem.line == 5
    obj = store.get_object(APP)
    assert obj is not None and obj.spec["data"] == {"greeting": "hello"}


def test_secrets_created_outside_the_folder_are_read_with_it(folder: Path, store: Store) -> None:
    """A Secret under STATE_DIR/secrets/ is stored like one of the folder, and pruned with it."""
    created = store.state_dir / "secrets" / "default"
    created.mkdir(parents=True)
    (created / "db.yaml").write_text(secret())
    write(folder, "web", deployment())
    sync = FolderSync(store, folder)
    assert sync.sync(now=1.0).changes[DB] is Change.CREATED
    assert "secret/db=absent" not in hash_of(store, WEB)
    (created / "db.yaml").unlink()
    assert sync.sync(now=2.0).changes[DB] is Change.DELETED
