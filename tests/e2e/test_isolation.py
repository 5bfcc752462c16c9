"""Volumes, limits and requests end to end: the real daemon, real mounts, real cgroups."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.harness import DaemonProcess, wait_for
from tests.e2e.test_walkthrough import write
from tests.runtime.isolation_helpers import cgroup_dirs, mounts_under, require_isolation

pytestmark = [pytest.mark.e2e]


@pytest.fixture(autouse=True)
def _needs_isolation() -> None:
    require_isolation()


def pod_yaml(name: str, *, token: str, containers: str, volumes: str = "") -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:{containers.replace("$TOKEN", token)}{volumes}
"""


def one_pod(daemon: DaemonProcess) -> str:
    pods = wait_for(lambda: [p for p in daemon.pods() if not p.terminating], what="a pod")
    return pods[0].name


def test_a_memory_limit_oom_kills_and_describe_shows_it_as_kubectl(
    folder: Path, daemon: DaemonProcess, token: str, tmp_path: Path
) -> None:
    """50Mi limit, 200 MiB allocated once: OOMKilled, exit 137, one restart, Limits shown."""
    marker = tmp_path / "allocated-once"
    code = (
        f"import os, time; m = {str(marker)!r}\\n"
        "if not os.path.exists(m):\\n  open(m, 'w').close(); hog = bytearray(200 * 2**20)\\n"
        "time.sleep(600)"
    )
    containers = f"""
        - name: app
          image: hog:1
          command: [python3, -c, "{code}"]
          env: [{{name: E2E_TOKEN, value: "$TOKEN"}}]
          resources:
            limits: {{memory: 50Mi}}"""
    write(folder, "hog", pod_yaml("hog", token=token, containers=containers))
    daemon.start()
    name = one_pod(daemon)

    def restarted_after_oom() -> bool:
        pods = [p for p in daemon.pods() if p.name == name]
        return (
            bool(pods)
            and pods[0].containers[0].last_reason == "OOMKilled"
            and (pods[0].containers[0].state == "Running")
        )

    wait_for(restarted_after_oom, timeout=30, what="an OOM kill and a restart")
    page = daemon.cli("describe", "pod", name)
    assert page.returncode == 0, page.stderr
    assert (
        "    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n"
    ) in page.stdout
    assert "    Restart Count:  1\n" in page.stdout
    assert "    Limits:\n      memory:  50Mi\n    Requests:\n      memory:  50Mi\n" in page.stdout
    listing = daemon.cli("get", "pods")
    assert listing.stdout.splitlines()[1].split()[3] == "1"  # RESTARTS
    status = daemon.get_json("pod", name)["status"]["containerStatuses"][0]
    terminated = status["lastState"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)
    assert cgroup_dirs(daemon.state) != []
    assert daemon.stop() == 0  # SIGTERM: the pod runs on, in its cgroup, for the next daemon
    assert cgroup_dirs(daemon.state) != []
    result = daemon.down()
    assert result.returncode == 0, result.stderr
    assert cgroup_dirs(daemon.state) == []


def test_files_at_the_mount_path_shared_scratch_and_exec_inside(
    folder: Path, daemon: DaemonProcess, token: str, tmp_path: Path
) -> None:
    """A hostPath file at /etc/app/app.conf and an emptyDir shared by two containers, seen via
    exec; describe lists the mounts and volumes; nothing is left on the host afterwards."""
    conf = tmp_path / "app.conf"
    conf.write_text("color=blue\n")
    containers = """
        - name: writer
          image: w:1
          command:
            - python3
            - -c
            - "import time; open('/scratch/note', 'w').write('hi'); time.sleep(600)"
          env: [{name: E2E_TOKEN, value: "$TOKEN"}]
          volumeMounts:
            - {name: conf, mountPath: /etc/app/app.conf, readOnly: true}
            - {name: scratch, mountPath: /scratch}
        - name: reader
          image: r:1
          command: [python3, -c, "import time; time.sleep(600)"]
          env: [{name: E2E_TOKEN, value: "$TOKEN"}]
          volumeMounts:
            - {name: scratch, mountPath: /var/shared}"""
    volumes = f"""
      volumes:
        - name: conf
          hostPath: {{path: {conf}, type: File}}
        - name: scratch
          emptyDir: {{}}"""
    write(folder, "files", pod_yaml("files", token=token, containers=containers, volumes=volumes))
    daemon.start()
    name = one_pod(daemon)
    wait_for(
        lambda: all(c.state == "Running" for p in daemon.pods() for c in p.containers),
        what="both containers running",
    )
    seen = daemon.cli("exec", name, "-c", "writer", "--", "cat", "/etc/app/app.conf")
    assert (seen.returncode, seen.stdout) == (0, "color=blue\n"), seen.stderr
    shared = wait_for(
        lambda: (
            (
                r := daemon.cli("exec", name, "-c", "reader", "--", "cat", "/var/shared/note")
            ).returncode
            == 0
            and r
        ),
        what="the note through the shared emptyDir",
    )
    assert shared.stdout == "hi"
    page = daemon.cli("describe", "pod", name).stdout
    assert "      /etc/app/app.conf from conf (ro)\n      /scratch from scratch (rw)\n" in page
    assert (
        "  scratch:\n    Type:       EmptyDir (a temporary directory that shares a pod's " in page
    )
    assert not os.path.exists("/etc/app") and not os.path.exists("/scratch")
    assert daemon.stop() == 0  # SIGTERM: the pod runs on with its volumes, for the next daemon
    assert (daemon.state / "volumes").exists()
    result = daemon.down()
    assert result.returncode == 0, result.stderr
    assert mounts_under(daemon.state) == []
    assert not (daemon.state / "volumes").exists()
    assert conf.read_text() == "color=blue\n"


def test_an_oversized_request_stays_pending_with_failed_scheduling(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """requests.memory 100Ti: Pending, PodScheduled False, a FailedScheduling event from
    default-scheduler with kube-scheduler's message; nothing is started."""
    containers = """
        - name: app
          image: big:1
          command: [python3, -c, "import time; time.sleep(600)"]
          env: [{name: E2E_TOKEN, value: "$TOKEN"}]
          resources:
            requests: {memory: 100Ti}"""
    write(folder, "big", pod_yaml("big", token=token, containers=containers))
    daemon.start()
    name = one_pod(daemon)
    page = wait_for(
        lambda: (
            (r := daemon.cli("describe", "pod", name)).returncode == 0
            and "FailedScheduling" in r.stdout
            and r.stdout
        ),
        what="the FailedScheduling event",
    )
    assert "Status:         Pending\n" in page
    assert "Node:           <none>\n" in page
    assert "Conditions:\n  Type           Status\n  PodScheduled   False \n" in page
    assert "State:" not in page  # no container exists yet
    assert (
        "default-scheduler  0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 "
        "nodes are available: 1 No preemption victims found for incoming pod." in page
    )
    listing = daemon.get_json("pods")
    pod = listing["items"][0] if "items" in listing else listing
    assert pod["status"]["phase"] == "Pending"
    shown = ("type", "status", "reason", "message")  # lastTransitionTime and lastProbeTime too
    assert [{k: c[k] for k in shown} for c in pod["status"]["conditions"]] == [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes "
            "are available: 1 No preemption victims found for incoming pod.",
        }
    ]
    assert json.dumps(pod).count("ContainerCreating") == 0
    assert daemon.cli("get", "pods").stdout.splitlines()[1].split()[2] == "Pending"


def _settings(value: str) -> str:
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: {value}
"""


def test_a_config_map_volume_is_updated_in_place_when_the_deployment_does_not_roll(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """roll-on-config-change "false": a ConfigMap edit rewrites the mounted file; same pod."""
    containers = """
        - name: app
          image: reader:1
          command: [python3, -c, "import time; time.sleep(600)"]
          env: [{name: E2E_TOKEN, value: "$TOKEN"}]
          volumeMounts: [{name: settings, mountPath: /etc/settings}]"""
    volumes = """
      volumes: [{name: settings, configMap: {name: settings}}]"""
    manifest = pod_yaml("reader", token=token, containers=containers, volumes=volumes).replace(
        "metadata:\n  name: reader\n",
        "metadata:\n  name: reader\n  annotations:\n"
        '    reconciler.dev/roll-on-config-change: "false"\n',
        1,
    )
    write(folder, "settings", _settings("blue"))
    write(folder, "reader", manifest)
    daemon.start()
    name = one_pod(daemon)

    def mode() -> str | None:
        seen = daemon.cli("exec", name, "--", "cat", "/etc/settings/mode")
        return seen.stdout if seen.returncode == 0 else None

    assert wait_for(mode, what="the mounted file") == "blue"
    write(folder, "settings", _settings("green"))
    wait_for(lambda: mode() == "green", timeout=30, what="the file rewritten in place")
    live = [p for p in daemon.pods() if not p.terminating]
    assert [p.name for p in live] == [name]  # not rolled: the same pod, never restarted
    assert live[0].restarts == 0
