"""Podman pods' volumes are the process runtime's host volumes: updated in place, claims shared."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reconciler.runtime.isolation.volumes import claim_dir
from tests.e2e.harness import DaemonProcess, wait_for
from tests.podman.conftest import Images, containers_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def settings(value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{mode: {value}}}\n"
    )


def reader(image: str) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: reader
  annotations: {{reconciler.dev/roll-on-config-change: "false"}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: reader}}}}
  template:
    metadata: {{labels: {{app: reader}}}}
    spec:
      terminationGracePeriodSeconds: 2
      volumes: [{{name: settings, configMap: {{name: settings}}}}]
      containers:
        - name: app
          image: {image}
          command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
          volumeMounts: [{{name: settings, mountPath: /etc/settings}}]
"""


def test_a_config_map_volume_is_rewritten_in_place_in_a_running_podman_pod(
    folder: Path, daemon: DaemonProcess, images: Images, podman_env_vars: dict[str, str]
) -> None:
    """roll-on-config-change "false": a ConfigMap edit changes the file exec reads inside the
    same podman container (the ..data swap through the directory's bind mount), 0 restarts."""
    (folder / "settings.yaml").write_text(settings("blue"))
    (folder / "reader.yaml").write_text(reader(images.local_web))
    daemon.start()
    pod = wait_for(lambda: [p.name for p in daemon.pods() if p.ready], timeout=60, what="ready")[0]

    def mode() -> str | None:
        seen = daemon.cli("exec", pod, "--", "cat", "/etc/settings/mode")
        return seen.stdout if seen.returncode == 0 else None

    assert wait_for(mode, what="the mounted file") == "blue"
    before = containers_of(podman_env_vars, daemon.state)
    (folder / "settings.yaml").write_text(settings("green"))
    wait_for(lambda: mode() == "green", timeout=30, what="the file rewritten in place")
    live = [p for p in daemon.pods() if not p.terminating]
    assert [p.name for p in live] == [pod] and live[0].restarts == 0
    assert containers_of(podman_env_vars, daemon.state) == before


def claim_user(name: str, image: str, command: str, *, runtime: str) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      runtimeClassName: {runtime}
      terminationGracePeriodSeconds: 2
      volumes: [{{name: data, persistentVolumeClaim: {{claimName: shared}}}}]
      containers:
        - name: app
          image: {image}
          command: {command}
          volumeMounts: [{{name: data, mountPath: /data}}]
"""


def test_a_claim_is_the_same_directory_for_a_podman_pod_and_a_process_pod(
    folder: Path, daemon: DaemonProcess, images: Images
) -> None:
    """What a podman pod writes into a persistentVolumeClaim is in the claim's directory under
    the state directory, and a process pod mounting the same claim reads it."""
    write = '["/bin/sh", "-c", "echo from podman > /data/note; exec sleep 600"]'
    (folder / "writer.yaml").write_text(
        claim_user("writer", images.local_web, write, runtime="podman")
    )
    code = (
        "import os, time\\nwhile not os.path.exists('/data/note'): time.sleep(0.1)\\n"
        "print(open('/data/note').read(), end='', flush=True)\\ntime.sleep(600)"
    )
    read = f'["{sys.executable}", "-c", "{code}"]'
    (folder / "reader.yaml").write_text(claim_user("reader", "python:3", read, runtime="process"))
    daemon.start()
    note = claim_dir(daemon.state, "default", "shared") / "note"
    wait_for(note.exists, timeout=60, what="the podman pod's file in the claim")
    assert note.read_text() == "from podman\n"
    pod = wait_for(
        lambda: [p.name for p in daemon.pods() if p.owner.startswith("reader-")],
        what="the process pod",
    )[0]

    def logs() -> str:
        return daemon.cli("logs", pod).stdout

    assert wait_for(logs, timeout=30, what="the process pod read the claim") == "from podman\n"
