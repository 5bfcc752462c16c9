"""The podman runtime end to end: a real daemon, real images, a real registry, real traffic."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from reconciler.runtime.podman import stop_all
from tests.e2e.harness import DaemonProcess, complete, http_get, wait_for
from tests.e2e.load import Load
from tests.podman.conftest import Images, containers_of, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def web_yaml(
    image: str,
    *,
    service_port: int,
    replicas: int = 2,
    pod_spec: str = "",
    container: str = "",
) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 5{pod_spec}
      containers:
        - name: web
          image: {image}
          ports: [{{name: http, containerPort: 80}}]
          readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 0.5}}{container}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: {service_port}, targetPort: http}}]
"""


def columns(text: str) -> str:
    """describe's output with each run of blanks after a colon made one space."""
    return re.sub(r":[ \t]+", ": ", text)


def test_image_only_deployment_is_served_exec_logs_and_deletion_leaves_nothing(
    folder: Path, daemon: DaemonProcess, images: Images, podman_env_vars: dict[str, str]
) -> None:
    """An image with no command runs its CMD, is pulled, serves via its Service; exec, logs,
    describe work; deleting the manifest leaves no container."""
    port = free_port()
    manifest = folder / "web.yaml"
    manifest.write_text(web_yaml(images.web_v1, service_port=port))
    daemon.start()
    wait_for(complete(daemon, "web", 2), timeout=60, what="2 podman pods ready")
    assert http_get(port) == "podman v1\n"
    pods = sorted(p.name for p in daemon.pods())
    pod = pods[0]
    describe = columns(daemon.cli("describe", "pod", pod).stdout)
    assert "Container ID: podman://" in describe
    assert re.search(r"Image ID: sha256:[0-9a-f]{64}", describe)
    # one pod pulls; the other, serialised behind it, finds the image present
    events = "".join(daemon.cli("describe", "pod", name).stdout for name in pods)
    assert events.count(f'Pulling image "{images.web_v1}"') == 1
    assert re.search(
        rf'Successfully pulled image "{re.escape(images.web_v1)}" in [0-9.]+s '
        r"\([0-9.]+s including waiting\)",
        events,
    )
    assert f'Container image "{images.web_v1}" already present on machine' in events
    cat = daemon.cli("exec", pod, "--", "cat", "/www/index.html")
    assert (cat.returncode, cat.stdout) == (0, "podman v1\n"), cat.stderr
    env = daemon.cli("exec", pod, "--", "sh", "-c", "echo $PORT $POD_NAME; exit 7")
    assert (env.returncode, env.stdout) == (7, f"80 {pod}\n")
    logs = daemon.cli("logs", pod)
    assert logs.returncode == 0 and logs.stdout == "serving podman v1\n", logs.stderr
    deleted = daemon.cli("delete", "deployment", "web")
    assert deleted.returncode == 0, deleted.stderr
    wait_for(lambda: not daemon.pods(), timeout=30, what="pods gone")
    wait_for(lambda: not containers_of(podman_env_vars, daemon.state), what="no container left")


def test_rolling_update_zero_failures_then_missing_tag_fails_fast_and_undo(
    folder: Path, daemon: DaemonProcess, images: Images
) -> None:
    """v1 → v2 under load drops nothing; a missing tag is ErrImagePull/ImagePullBackOff with the
    registry's message, rollout status fails fast, the old pods keep serving, undo recovers."""
    port = free_port()
    manifest = folder / "web.yaml"
    manifest.write_text(web_yaml(images.web_v1, service_port=port))
    daemon.start()
    wait_for(complete(daemon, "web", 2), timeout=60, what="v1 ready")
    with Load(port, workers=2, rate=40) as load:
        assert daemon.cli("set", "image", "deployment/web", f"web={images.web_v2}").returncode == 0
        status = daemon.cli("rollout", "status", "deployment/web", "--timeout", "90s")
        assert status.returncode == 0, status.stderr
        time.sleep(0.5)  # requests after the switch, on the new pods only
    assert load.result.failures == [] and load.result.ok > 20
    assert set(load.result.versions) <= {"v1", "v2"} and load.result.versions["v2"] > 0
    missing = images.web_v2.replace(":v2", ":v9")
    with Load(port, workers=2, rate=40) as load:
        assert daemon.cli("set", "image", "deployment/web", f"web={missing}").returncode == 0
        started = time.monotonic()
        status = daemon.cli("rollout", "status", "deployment/web", "--timeout", "90s")
        failed_after = time.monotonic() - started
        new = wait_for(
            lambda: [p for p in daemon.pods() if p.containers[0].image == missing],
            what="the new pod",
        )
    assert status.returncode == 1 and "rollout failed" in status.stderr, status.stderr
    assert failed_after < 30
    assert load.result.failures == [] and set(load.result.versions) == {"v2"}
    assert new[0].containers[0].reason in ("ErrImagePull", "ImagePullBackOff")
    describe = daemon.cli("describe", "pod", new[0].name).stdout
    assert "manifest unknown" in describe and "Back-off pulling image" in describe
    waiting = daemon.cli("logs", new[0].name)
    assert waiting.returncode == 1 and "is waiting to start" in waiting.stderr
    undo = daemon.cli("rollout", "undo", "deployment/web")
    assert undo.returncode == 0, undo.stderr
    wait_for(
        lambda: complete(daemon, "web", 2)() and len(daemon.pods()) == 2,
        timeout=60,
        what="undone to v2",
    )
    assert http_get(port) == "podman v2\n"


def test_crash_at_start_is_crash_loop_back_off_on_a_process_daemon(
    folder: Path, tmp_path: Path, images: Images, podman_env_vars: dict[str, str]
) -> None:
    """runtimeClassName: podman runs on podman under a process-default daemon; a command that
    exits at once is CrashLoopBackOff with restarts, and logs --previous shows its output."""
    daemon = DaemonProcess(folder, tmp_path / "state")
    (folder / "web.yaml").write_text(
        web_yaml(
            images.crash,
            service_port=free_port(),
            replicas=1,
            pod_spec="\n      runtimeClassName: podman",
        )
    )
    daemon.start()
    try:
        pod = wait_for(
            lambda: next(
                (
                    p
                    for p in daemon.pods()
                    if p.containers[0].reason == "CrashLoopBackOff"
                    and p.containers[0].restart_count >= 1
                ),
                None,
            ),
            timeout=60,
            what="CrashLoopBackOff",
        )
        assert pod.containers[0].last_exit_code == 3
        previous = daemon.cli("logs", pod.name, "--previous")
        assert previous.returncode == 0 and previous.stdout == "crashing\n", previous.stderr
        # between two back-offs the column shows Error for a moment, as kubectl's does
        wait_for(
            lambda: "CrashLoopBackOff" in daemon.cli("get", "pods").stdout,
            timeout=30,
            what="get pods shows CrashLoopBackOff",
        )
    finally:
        daemon.stop()
        asyncio.run(stop_all(daemon.state))  # ``down``'s part: SIGTERM leaves pods running
        daemon.down()  # and the data plane
    assert containers_of(podman_env_vars, daemon.state) == []


def test_memory_limit_is_oomkilled_as_kubectl_shows_it(
    folder: Path, daemon: DaemonProcess, images: Images
) -> None:
    """A container past limits.memory is killed by the kernel: Last State Terminated,
    Reason OOMKilled, Exit Code 137, and it is restarted."""
    (folder / "hog.yaml").write_text(
        web_yaml(
            images.hog,
            service_port=free_port(),
            replicas=1,
            container="\n          resources: {limits: {memory: 16Mi}}",
        )
    )
    daemon.start()
    pod = wait_for(
        lambda: next(
            (p for p in daemon.pods() if p.containers[0].last_reason == "OOMKilled"), None
        ),
        timeout=60,
        what="OOMKilled",
    )
    assert pod.containers[0].last_exit_code == 137
    describe = columns(daemon.cli("describe", "pod", pod.name).stdout)
    assert "Last State: Terminated\n      Reason: OOMKilled\n      Exit Code: 137" in describe


def test_containers_of_a_pod_share_localhost_and_an_empty_dir(
    folder: Path, daemon: DaemonProcess, images: Images
) -> None:
    """Two containers of one pod: one writes a page into an emptyDir, the other serves it;
    the writer reaches the server on localhost, as in a Kubernetes pod."""
    port = free_port()
    writer = (
        "\n        - name: writer"
        f"\n          image: {images.local_web}"
        '\n          command: ["/bin/sh", "-c", "echo shared > /data/index.html; '
        'trap \\"exit 0\\" TERM; while true; do sleep 1; done"]'
        "\n          volumeMounts: [{name: scratch, mountPath: /data}]"
    )
    text = web_yaml(
        images.local_web,
        service_port=port,
        replicas=1,
        pod_spec="\n      volumes: [{name: scratch, emptyDir: {}}]",
        container=(
            '\n          args: ["/bin/httpd", "-f", "-p", "80", "-h", "/data"]'
            "\n          volumeMounts: [{name: scratch, mountPath: /data}]" + writer
        ),
    )
    (folder / "web.yaml").write_text(text)
    daemon.start()
    wait_for(complete(daemon, "web", 1), timeout=60, what="ready")
    assert http_get(port) == "shared\n"
    pod = daemon.pods()[0].name
    local = daemon.cli("exec", pod, "-c", "writer", "--", "wget", "-qO-", "http://localhost/")
    assert (local.returncode, local.stdout) == (0, "shared\n"), local.stderr
