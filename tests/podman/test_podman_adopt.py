"""Podman pods outlive the daemon: the next one adopts the same containers (issue 13, podman)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.runtime.podman.host import podman_dir, state_id
from reconciler.runtime.podman.translate import LABEL_STATE_ID
from tests.e2e.harness import DaemonProcess, complete, http_get, wait_for
from tests.podman.conftest import SESSION, TEST_LABEL, Images, free_port, podman
from tests.podman.test_podman_e2e import web_yaml

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def running_ids(env: dict[str, str], state: Path) -> dict[str, str]:
    """podman container ID -> name of the running containers a daemon on ``state`` owns."""
    out = podman(
        env,
        *("ps", "--format", "{{.ID}} {{.Names}}", "--no-trunc"),
        *("--filter", f"label={LABEL_STATE_ID}={state_id(state)}"),
    )
    return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())


def adopted_and_serving(daemon: DaemonProcess, port: int, before: dict[str, str]) -> None:
    """The daemon runs the very same containers, not restarted, Ready, behind the Service."""
    wait_for(
        lambda: complete(daemon, "web", 1)() and [p.ready for p in daemon.pods()] == [True],
        timeout=60,
        what="adopted pod ready in the store",
    )
    pods = daemon.pods()
    assert len(pods) == 1 and pods[0].ready and pods[0].restarts == 0, pods
    got = daemon.cli("get", "pods")
    assert got.returncode == 0 and "1/1     Running   0" in got.stdout, got.stdout
    assert http_get(port) == "podman v1\n"
    log = daemon.log.read_text()
    assert "pod_adopted" in log and "leftovers_removed" not in log  # its infra container too
    assert len(before) == 2


def start_web(folder: Path, daemon: DaemonProcess, images: Images) -> int:
    port = free_port()
    (folder / "web.yaml").write_text(web_yaml(images.local_web, service_port=port, replicas=1))
    daemon.start()
    wait_for(complete(daemon, "web", 1), timeout=60, what="ready")
    assert http_get(port) == "podman v1\n"
    return port


def test_kill_9_then_start_adopts_the_same_containers_and_leaves_others_alone(
    folder: Path, daemon: DaemonProcess, images: Images, podman_env_vars: dict[str, str]
) -> None:
    """After kill -9 the next daemon adopts the pod (same podman container, 0 restarts, Ready,
    the Service answering); a container that is not ours, running beside it, is untouched."""
    port = start_web(folder, daemon, images)
    pod = daemon.pods()[0].name
    before = running_ids(podman_env_vars, daemon.state)
    assert len(before) == 2  # the pod's infra container and web
    daemon.kill()
    foreign = f"not-ours-{SESSION}"
    podman(
        podman_env_vars,
        *("run", "-d", "--name", foreign, "--label", f"{TEST_LABEL}={SESSION}"),
        *(images.local_web, "sleep", "60"),
    )
    try:
        assert running_ids(podman_env_vars, daemon.state) == before
        assert http_get(port) == "podman v1\n"  # the data plane serves with no daemon
        daemon.start()
        adopted_and_serving(daemon, port, before)
        assert [p.name for p in daemon.pods()] == [pod]
        assert running_ids(podman_env_vars, daemon.state) == before
        state = podman(podman_env_vars, "inspect", "--format", "{{.State.Running}}", foreign)
        assert state.strip() == "true"
    finally:
        podman(podman_env_vars, "rm", "-f", "--time", "0", foreign, check=False)


def test_sigterm_then_start_keeps_the_same_containers(
    folder: Path, daemon: DaemonProcess, images: Images, podman_env_vars: dict[str, str]
) -> None:
    """A daemon stopped with SIGTERM leaves its podman pods running; the next one adopts them:
    same containers, 0 restarts, Ready, the Service answering throughout."""
    port = start_web(folder, daemon, images)
    pod = daemon.pods()[0].name
    before = running_ids(podman_env_vars, daemon.state)
    assert daemon.stop() == 0
    assert running_ids(podman_env_vars, daemon.state) == before
    daemon.start()
    adopted_and_serving(daemon, port, before)
    assert [p.name for p in daemon.pods()] == [pod]
    assert running_ids(podman_env_vars, daemon.state) == before


def test_a_pod_whose_record_does_not_verify_is_removed_and_replaced(
    folder: Path, daemon: DaemonProcess, images: Images, podman_env_vars: dict[str, str]
) -> None:
    """A record whose container start time is not podman's (the container was started again
    since) is not adopted: that pod is removed, logged, and the Deployment gets a new one."""
    port = start_web(folder, daemon, images)
    before = running_ids(podman_env_vars, daemon.state)
    daemon.kill()
    (path,) = (podman_dir(daemon.state) / "pods").glob("*/*.json")
    record = json.loads(path.read_text())
    for item in record["containers"].values():
        item["started_at"] += 3600
    path.write_text(json.dumps(record))
    daemon.start()
    wait_for(
        lambda: (
            complete(daemon, "web", 1)()
            and bool(running_ids(podman_env_vars, daemon.state))
            and not set(before) & set(running_ids(podman_env_vars, daemon.state))
        ),
        timeout=60,
        what="the unverified pod replaced",
    )
    log = daemon.log.read_text()
    assert "pod_not_adopted" in log and "was started again since" in log
    assert http_get(port) == "podman v1\n"
