"""ConfigMaps and Secrets with the real daemon: env from each source inside the pod, a missing
key failing fast, a ConfigMap edit rolled with no failed request, and a Secret's value in no
output, event or log."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import ROLLING_SURGE_ONE, DaemonProcess, complete, deployment_yaml, wait_for
from tests.e2e.load import Load, fetch_version
from tests.e2e.test_traffic import service_yaml
from tests.e2e.test_walkthrough import write
from tests.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET_VALUE = "s3cr3t-Pa55-value"
DAEMON_SECRET = "daemon-only-token-0451"


def config_yaml(greeting: str = "hello", *, extra: str = "") -> str:
    return f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: app-config}}
data:
  GREETING: {greeting}
  log.level: debug{extra}
---
apiVersion: v1
kind: Secret
metadata: {{name: db}}
stringData:
  password: {SECRET_VALUE}
"""


def env_block(token: str, *refs: str) -> str:
    lines = "".join(f"\n            - {ref}" for ref in refs)
    return f"""
          envFrom:
            - configMapRef: {{name: app-config}}
              prefix: CFG_
          env:
            - {{name: E2E_TOKEN, value: "{token}"}}{lines}"""


def pod_env(daemon: DaemonProcess, app: str) -> dict[str, str]:
    """``env`` inside a live, Ready pod of ``app``. A Secret that appears changes the pods'
    config hash, so the pod that first started with it may still be replaced by the next
    revision's: ask again until a Ready pod answers."""

    def env_of_a_ready_pod() -> str | None:
        pod = next((p for p in daemon.pods() if p.labels.get("app") == app and p.ready), None)
        if pod is None:
            return None
        result = daemon.cli("exec", pod.name, "--", "env")
        return result.stdout if result.returncode == 0 else None

    out = wait_for(env_of_a_ready_pod, what=f"env of a ready pod of {app}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_env_from_every_source_inside_the_pod_and_no_secret_anywhere(
    folder: Path, daemon: DaemonProcess, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """exec sees each source's value, the service variables and a minimal base, never the
    daemon's environment; the Secret's value is in no describe, get, event or log line."""
    monkeypatch.setenv("RECONCILER_E2E_DAEMON_TOKEN", DAEMON_SECRET)
    port = free_port()
    refs = (
        "{name: PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}",
        "{name: LEVEL, valueFrom: {configMapKeyRef: {name: app-config, key: log.level}}}",
        "{name: API_TOKEN, valueFrom: {secretKeyRef: {name: api, key: token}}}",
        "{name: ME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}",
        "{name: APP, valueFrom: {fieldRef: {fieldPath: \"metadata.labels['app']\"}}}",
        "{name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}",
        "{name: MEM, valueFrom: {resourceFieldRef: {resource: requests.memory, divisor: 1Mi}}}",
    )
    write(folder, "config", config_yaml())
    write(
        folder,
        "web",
        service_yaml("web", port, app="web").removeprefix("---\n")
        + "---\n"
        + deployment_yaml("web", replicas=1, env=env_block(token, *refs)),
    )
    daemon.start()
    # a Secret kept out of the folder: the pod waits for it, then starts with it
    wait_for(
        lambda: any(
            c.reason == "CreateContainerConfigError" for p in daemon.pods() for c in p.containers
        ),
        what="waiting for secret api",
    )
    created = daemon.cli("create", "secret", "generic", "api", "--from-literal", "token=tok-77")
    assert created.returncode == 0 and created.stdout == "secret/api created\n", created.stderr
    wait_for(complete(daemon, "web", 1), timeout=30, what="web running")
    # The Secret's arrival is a new revision (its config hash changed), and its pod replaces the
    # waiting one: one pod started by each revision, not a second replacement of the first.
    assert [r.revision for r in daemon.replicasets("web")] == [1, 2]
    web = '"deployment": "Deployment/default/web"'
    log_lines = daemon.log.read_text().splitlines()
    started = [line for line in log_lines if '"pod_started"' in line and web in line]
    assert len(started) == 2, started

    env = pod_env(daemon, "web")
    assert env["PASSWORD"] == SECRET_VALUE and env["API_TOKEN"] == "tok-77"
    assert env["LEVEL"] == "debug" and env["CFG_GREETING"] == "hello"
    assert env["CFG_log.level"] == "debug"
    assert env["ME"].startswith("web-") and env["APP"] == "web" and env["IP"] == "127.0.0.1"
    assert env["MEM"] == "0"
    assert env["WEB_SERVICE_HOST"] == "127.0.0.1" and env["WEB_SERVICE_PORT"] == str(port)
    assert env["HOSTNAME"] == env["ME"] and env["PATH"].startswith(os.path.dirname(sys.executable))
    assert "RECONCILER_E2E_DAEMON_TOKEN" not in env
    assert DAEMON_SECRET not in json.dumps(env)

    pod = next(p.name for p in daemon.pods())
    outputs = [
        daemon.cli(*words)
        for words in (
            ("describe", "secret", "db"),
            ("describe", "deployment", "web"),
            ("describe", "pod", pod),
            ("get", "deployment", "web", "-o", "yaml"),
            ("get", "pods", "-o", "yaml"),
            ("get", "events"),
            ("rollout", "history", "deployment/web"),
        )
    ]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert SECRET_VALUE not in result.stdout + result.stderr
        assert "tok-77" not in result.stdout + result.stderr
    assert "password:  17 bytes" in outputs[0].stdout
    assert "<set to the key 'password' in secret 'db'>" in outputs[1].stdout
    assert SECRET_VALUE not in daemon.log.read_text()

    exported = daemon.cli("export", "--target", "kubernetes", str(folder), "-o", "-")
    assert exported.returncode == 0, exported.stderr
    assert "kind: ConfigMap" in exported.stdout and "kind: Secret" in exported.stdout
    assert "reconciler.dev/config-hash" not in exported.stdout
    checked = daemon.cli("validate", "--target", "kubernetes", str(folder))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert daemon.cli("diff", str(folder)).returncode == 0


def test_missing_key_fails_fast_then_the_pod_starts_once_it_exists(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """CreateContainerConfigError with the kubelet's message, rollout status fails at once;
    adding the key starts the pod (here opted out of rolling on config changes: the waiting
    pod is replaced within the same revision)."""
    refs = ("{name: MODE, valueFrom: {configMapKeyRef: {name: app-config, key: mode}}}",)
    write(folder, "config", config_yaml())
    manifest = deployment_yaml("web", replicas=1, env=env_block(token, *refs)).replace(
        "  name: web\n",
        '  name: web\n  annotations: {reconciler.dev/roll-on-config-change: "false"}\n',
        1,
    )
    write(folder, "web", manifest)
    daemon.start()
    wait_for(
        lambda: any(c.message for p in daemon.pods() for c in p.containers),
        what="the container waiting",
    )
    status = daemon.cli("rollout", "status", "deployment/web", "--timeout", "20s")
    assert status.returncode == 1
    assert "CreateContainerConfigError" in status.stderr
    assert "couldn't find key mode in ConfigMap default/app-config" in status.stderr
    validated = daemon.cli("validate", str(folder))
    assert validated.returncode == 1 and "couldn't find key mode" in validated.stdout

    write(folder, "config", config_yaml(extra="\n  mode: fast"))
    wait_for(complete(daemon, "web", 1), timeout=30, what="web running with the key")
    assert pod_env(daemon, "web")["MODE"] == "fast"
    assert len(daemon.replicasets("web")) == 1


def test_configmap_edit_rolls_the_pods_with_no_failed_request(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """An edit of a ConfigMap is a new revision named after it, rolled under the strategy with
    0 failed requests; undo says the old values are no longer in the folder."""
    port = free_port()
    refs = ("{name: IMAGE_TAG, valueFrom: {configMapKeyRef: {name: app-config, key: GREETING}}}",)
    write(folder, "config", config_yaml("one"))
    write(
        folder,
        "web",
        deployment_yaml("web", replicas=3, strategy=ROLLING_SURGE_ONE, env=env_block(token, *refs))
        + service_yaml("web", port, app="web"),
    )
    daemon.start()
    wait_for(complete(daemon, "web", 3), timeout=60, what="rev 1")
    wait_for(lambda: fetch_version(port) == "one", what="service answers")
    with Load(port) as load:
        wait_for(lambda: load.result.ok > 50, what="load running")
        write(folder, "config", config_yaml("two"))
        wait_for(
            lambda: (
                len(daemon.replicasets("web")) == 2
                and complete(daemon, "web", 3)()
                and {fetch_version(port) for _ in range(6)} == {"two"}
            ),
            timeout=60,
            what="rolled to the new config",
        )
        seen = load.result.ok
        wait_for(lambda: load.result.ok > seen + 50, what="load after the rollout")
    assert load.result.failures == []
    assert set(load.result.versions) == {"one", "two"}
    history = daemon.cli("rollout", "history", "deployment/web")
    assert history.stdout.splitlines()[-2].split(None, 1) == ["2", "configmap/app-config changed"]
    undo = daemon.cli("rollout", "undo", "deployment/web", "--manifests", str(folder))
    assert undo.returncode == 0, undo.stderr
    assert "skipped rollback" in undo.stdout
    assert "ran with configmap/app-config as it was then" in undo.stderr
