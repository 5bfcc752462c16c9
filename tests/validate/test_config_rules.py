"""ConfigMap and Secret documents, env and envFrom: the API server's rules and the references
across objects, each at the line and column of the field at fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import Severity
from reconciler.manifests.load import load_text
from reconciler.manifests.validate import Report, validate_documents, validate_paths

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data:
  greeting: hello
  log.level: debug
"""
SECRET = """apiVersion: v1
kind: Secret
metadata: {name: db}
type: Opaque
data:
  password: aHVudGVyMg==
stringData:
  user: ada
"""


def deployment(env: str = "", env_from: str = "") -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: demo:1
          command: [python3]{env_from}{env}
"""


def env_of(*items: str) -> str:
    """An ``env:`` block of the container, one item per line."""
    return "\n          env:" + "".join(f"\n            - {item}" for item in items)


def check(*texts: str, config_refs_block: bool = True) -> Report:
    docs = [d for i, t in enumerate(texts) for d in load_text(t, source=f"f{i}.yaml").documents]
    return validate_documents(docs, config_refs_block=config_refs_block)


def rules(report: Report) -> set[tuple[str, str, str]]:
    return {(p.rule, p.field, str(p.severity)) for p in report.problems}


def test_valid_configmap_and_secret() -> None:
    """A ConfigMap with data and a Secret with data and stringData are valid, with no warning."""
    report = check(CONFIGMAP, SECRET)
    assert report.ok and not report.problems, report.problems
    assert {o.ref.display for o in report.objects} == {"configmap/app-config", "secret/db"}


def _edit(text: str, change: Callable[[dict[str, Any]], None]) -> str:
    obj = yaml.safe_load(text)
    change(obj)
    return yaml.safe_dump(obj)


@pytest.mark.parametrize(
    ("text", "rule", "field"),
    [
        pytest.param(
            _edit(CONFIGMAP, lambda o: o["data"].update({"bad key": "x"})),
            "config-key",
            "data.bad key",
            id="key with a space",
        ),
        pytest.param(
            _edit(CONFIGMAP, lambda o: o["data"].update({"..hidden": "x"})),
            "config-key",
            "data...hidden",
            id="key starting with two dots",
        ),
        pytest.param(
            _edit(CONFIGMAP, lambda o: o.update({"binaryData": {"greeting": "aGk="}})),
            "config-key",
            "binaryData.greeting",
            id="key in data and binaryData",
        ),
        pytest.param(
            _edit(CONFIGMAP, lambda o: o.update({"binaryData": {"blob": "not base64!"}})),
            "base64",
            "binaryData.blob",
            id="binaryData not base64",
        ),
        pytest.param(
            _edit(CONFIGMAP, lambda o: o["data"].update({"big": "x" * (1024 * 1024)})),
            "config-size",
            "data",
            id="over 1 MiB",
        ),
        pytest.param(
            _edit(SECRET, lambda o: o["data"].update({"token": "abc"})),
            "base64",
            "data.token",
            id="secret data not base64",
        ),
        pytest.param(
            _edit(SECRET, lambda o: o.update({"type": "kubernetes.io/tls"})),
            "secret-type",
            "data.tls.crt",
            id="tls secret without its keys",
        ),
        pytest.param(
            _edit(CONFIGMAP, lambda o: o["metadata"].update({"name": "App_Config"})),
            "name",
            "metadata.name",
            id="name not a DNS subdomain",
        ),
        pytest.param(
            _edit(CONFIGMAP, lambda o: o.update({"immutable": "yes"})),
            "schema",
            "immutable",
            id="immutable not a boolean",
        ),
    ],
)
def test_invalid_config_objects(text: str, rule: str, field: str) -> None:
    """Each broken ConfigMap or Secret is invalid, with the rule and the field that say why."""
    report = check(text)
    assert (rule, field, "error") in rules(report), report.problems


def test_a_secret_value_never_appears_in_a_message() -> None:
    """Schema and base64 errors of a Secret name the key and never quote the value."""
    text = SECRET.replace("password: aHVudGVyMg==", "password: 42424242\n  pin: s3cr3t-pin!")
    report = check(text)
    assert not report.ok
    rendered = "\n".join(p.render() for p in report.problems)
    assert "password" in rendered and "pin" in rendered
    assert "42424242" not in rendered and "s3cr3t-pin" not in rendered


def test_env_value_from_fields_are_validated_not_left_unset() -> None:
    """fieldRef, resourceFieldRef and key refs are checked by the rules; no 'left unset'."""
    env = """
          env:
            - name: ME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: LABEL
              valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}
            - name: MEM
              valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
            - name: GREETING
              valueFrom: {configMapKeyRef: {name: app-config, key: greeting}}"""
    report = check(CONFIGMAP, deployment(env=env))
    assert report.ok and not report.problems, report.problems


@pytest.mark.parametrize(
    ("env", "rule", "field"),
    [
        pytest.param(
            "\n          env:\n            - {name: X, valueFrom: {}}",
            "env-source",
            "spec.template.spec.containers[0].env[0].valueFrom",
            id="no source",
        ),
        pytest.param(
            "\n          env:\n            - name: X\n              valueFrom:\n"
            "                fieldRef: {fieldPath: metadata.name}\n"
            "                configMapKeyRef: {name: app-config, key: greeting}",
            "env-source",
            "spec.template.spec.containers[0].env[0].valueFrom",
            id="two sources",
        ),
        pytest.param(
            env_of("{name: X, valueFrom: {fieldRef: {fieldPath: status.phase}}}"),
            "env-source",
            "spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
            id="field the downward API does not serve to env",
        ),
        pytest.param(
            env_of("{name: X, valueFrom: {resourceFieldRef: {resource: limits.gpu}}}"),
            "env-source",
            "spec.template.spec.containers[0].env[0].valueFrom.resourceFieldRef.resource",
            id="unknown resource",
        ),
        pytest.param(
            "\n          env:\n            - {name: 1X, value: a}",
            "env-name",
            "spec.template.spec.containers[0].env[0].name",
            id="name starting with a digit",
        ),
    ],
)
def test_invalid_env(env: str, rule: str, field: str) -> None:
    """Each broken env entry is an error at its field."""
    report = check(CONFIGMAP, deployment(env=env))
    assert (rule, field, "error") in rules(report), report.problems


def test_missing_configmap_and_key_are_errors_at_the_reference() -> None:
    """A ConfigMap or key the folder does not define: an error at the name's or key's column."""
    env = """
          env:
            - name: A
              valueFrom: {configMapKeyRef: {name: app-config, key: greting}}
            - name: B
              valueFrom: {configMapKeyRef: {name: other, key: x}}
            - name: C
              valueFrom: {configMapKeyRef: {name: other, key: x, optional: true}}"""
    report = check(CONFIGMAP, deployment(env=env))
    found = {(p.field, p.line, p.column): p.message for p in report.problems}
    key = "spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef.key"
    name = "spec.template.spec.containers[0].env[1].valueFrom.configMapKeyRef.name"
    assert found[(key, 15, 63)].startswith("couldn't find key greting in ConfigMap default/app")
    assert found[(name, 17, 45)].startswith('configmap "other" not found')
    assert len(found) == 2  # the optional reference is not a problem


def test_missing_secret_is_a_warning_and_a_missing_secret_key_an_error() -> None:
    """A Secret may be created outside the folder (warning); a key of a folder Secret is known."""
    env_from = "\n          envFrom:\n            - secretRef: {name: elsewhere}"
    env = env_of("{name: P, valueFrom: {secretKeyRef: {name: db, key: pasword}}}")
    report = check(SECRET, deployment(env=env, env_from=env_from))
    assert rules(report) == {
        ("secret-ref", "spec.template.spec.containers[0].envFrom[0].secretRef.name", "warning"),
        (
            "config-ref",
            "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key",
            "error",
        ),
    }


def test_the_daemon_accepts_references_to_config_that_is_not_there_yet() -> None:
    """With config_refs_block=False (the daemon) a missing ConfigMap is a warning, not an error."""
    env = env_of("{name: B, valueFrom: {configMapKeyRef: {name: later, key: x}}}")
    report = check(deployment(env=env), config_refs_block=False)
    assert report.ok and [p.severity for p in report.problems] == [Severity.WARNING]


def test_env_from_keys_that_are_not_variable_names_are_a_warning() -> None:
    """envFrom skips keys that are not env names; validate says which."""
    configmap = CONFIGMAP + "  9lives: x\n"
    env_from = "\n          envFrom:\n            - configMapRef: {name: app-config}"
    report = check(configmap, deployment(env_from=env_from))
    assert rules(report) == {
        ("env-from-keys", "spec.template.spec.containers[0].envFrom[0].configMapRef", "warning")
    }
    assert "9lives" in report.problems[0].message


def test_validate_cli_sees_configmaps_in_other_files(tmp_path: Path) -> None:
    """References resolve across the files of a folder."""
    (tmp_path / "config.yaml").write_text(CONFIGMAP)
    env_from = "\n          envFrom:\n            - configMapRef: {name: app-config}"
    (tmp_path / "web.yaml").write_text(deployment(env_from=env_from))
    report = validate_paths([tmp_path])
    assert report.ok and not report.problems, report.problems
