"""Restarting the daemon is no outage: pods outlive it, the next one adopts them, rollouts resume.

Every test restarts a real daemon (SIGTERM, or kill -9) and checks what a user would: the same
pod names and processes with 0 restarts, traffic to the pods answered throughout, a rollout
interrupted mid-way finished within its strategy's limits with no revision lost or duplicated,
and ``reconciler down`` leaving no process and no listener behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from reconciler.runtime.ports import PortAllocator
from tests.e2e.harness import (
    ROLLING_SURGE_ONE,
    DaemonProcess,
    deployment_yaml,
    processes_with,
    sampling,
    wait_for,
)
from tests.e2e.load import Load, fetch_version
from tests.e2e.test_walkthrough import write
from tests.ports import free_port
from tests.reliability.fleet import (
    Member,
    pod_processes,
    restart,
    revisions,
    service_yaml,
    wait_settled,
    write_fleet,
)

pytestmark = [pytest.mark.e2e]


def service_port() -> int:
    """A free port below the ephemeral range, for a Service whose listener is down while the
    daemon restarts: one from ``free_port()`` (in the ephemeral range) can be taken meanwhile by
    the local end of one of the load generator's hundreds of outgoing connections."""
    return PortAllocator().allocate()


def stop(daemon: DaemonProcess, how: str) -> None:
    if how == "sigterm":
        assert daemon.stop() == 0
    else:
        daemon.kill()


def env(token: str, ready_delay: float = 0.0) -> str:
    return f"""
          env:
            - {{name: E2E_TOKEN, value: "{token}"}}
            - {{name: READY_DELAY, value: "{ready_delay}"}}"""


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_services_answer_after_a_restart_on_an_unchanged_folder(
    folder: Path, daemon: DaemonProcess, token: str, how: str
) -> None:
    """The sync finds no change after a restart; the Service must be bound all the same."""
    members = [Member("rolling", free_port())]
    write_fleet(folder, members, version=1, token=token)
    daemon.start()
    wait_settled(daemon, members, version=1, timeout=20)
    stop(daemon, how)
    restart(daemon, attempt=0)
    wait_settled(daemon, members, version=1, timeout=20, what="after the restart")


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_pods_outlive_a_restart_and_answer_throughout(
    folder: Path, daemon: DaemonProcess, token: str, how: str
) -> None:
    """Stop (or kill -9) and start again under load on every pod: not one request fails, and
    afterwards the same pod names run the same processes with 0 restarts."""
    members = [Member("rolling", service_port())]
    write_fleet(folder, members, version=1, token=token, replicas=3)
    daemon.start()
    wait_settled(daemon, members, version=1, timeout=20, replicas=3)
    before = pod_processes(token)
    assert len(before) == 3
    loads = [Load(p.ports["http"], workers=1, rate=50) for p in daemon.pods()]
    with contextlib.ExitStack() as running:
        for load in loads:
            running.enter_context(load)
        wait_for(lambda: all(load.result.ok >= 5 for load in loads), what="load flowing")
        stop(daemon, how)
        # with no daemon at all, every pod still answers
        assert {fetch_version(p.ports["http"]) for p in daemon.pods()} == {"1"}
        restart(daemon, attempt=0)
        wait_settled(daemon, members, version=1, timeout=20, replicas=3, what="after restart")
        served = [load.result.ok for load in loads]
        wait_for(
            lambda: all(load.result.ok > n + 5 for load, n in zip(loads, served, strict=True)),
            what="load answered after the restart",
        )
    assert [f for load in loads for f in load.result.failures] == []
    assert pod_processes(token) == before
    pods = daemon.pods()
    assert {p.name for p in pods} == set(before.values())
    assert all(p.restarts == 0 and p.ready for p in pods)
    assert "pod_adopted" in daemon.log.read_text()


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_rolling_update_interrupted_by_a_restart_resumes_within_its_bounds(
    folder: Path, daemon: DaemonProcess, token: str, how: str
) -> None:
    """A restart mid-rollout: the new pods started before it are kept (same processes), the
    rollout finishes with maxSurge 1 / maxUnavailable 0 held throughout, revisions 1 and 2 only."""
    port = free_port()

    def manifest(version: int) -> str:
        return deployment_yaml(
            "web",
            image=f"demo:{version}",
            replicas=3,
            strategy=ROLLING_SURGE_ONE,
            env=env(token, ready_delay=0.8),
        ) + service_yaml("web", port)

    write(folder, "web", manifest(1))
    daemon.start()
    member = Member("web", port)
    wait_settled(daemon, [member], version=1, replicas=3)

    def counts() -> tuple[int, int]:
        pods = [p for p in daemon.pods() if not p.terminating]
        return len(pods), sum(1 for p in pods if p.ready)

    with sampling(counts) as samples:
        write(folder, "web", manifest(2))
        wait_for(
            lambda: any(
                c.image == "demo:2" and p.ready for p in daemon.pods() for c in p.containers
            ),
            what="the first new pod ready",
        )
        new_before = {
            pid: name
            for pid, name in pod_processes(token).items()
            if name.startswith(daemon.replicasets("web")[-1].name)
        }
        assert new_before
        stop(daemon, how)
        restart(daemon, attempt=0)
        wait_settled(daemon, [member], version=2, replicas=3, what="after the restart")
    outside = [(i, s) for i, s in enumerate(samples) if not (s[0] <= 4 and s[1] >= 3)]
    assert not outside, (outside, len(samples))
    assert [rs.revision for rs in daemon.replicasets("web")] == [1, 2]
    after = pod_processes(token)
    assert all(after.get(pid) == name for pid, name in new_before.items()), (new_before, after)


def test_recreate_interrupted_by_kill_9_never_runs_old_and_new_together(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """kill -9 while Recreate waits for the old pods to go: no process of the new version runs
    while one of the old version does, before or after the restart."""
    recreate = "\n  strategy:\n    type: Recreate"

    def manifest(version: int) -> str:
        # a preStop sleep keeps the old pods terminating long enough to kill the daemon then
        return deployment_yaml(
            "job", image=f"demo:{version}", replicas=2, strategy=recreate, env=env(token)
        ).replace(
            f"image: demo:{version}",
            f"image: demo:{version}\n          lifecycle: {{preStop: {{sleep: {{seconds: 1}}}}}}",
        )

    write(folder, "job", manifest(1))
    daemon.start()
    wait_for(lambda: len(pod_processes(token)) == 2, what="rev 1 running")

    def versions() -> set[str]:
        seen = set()
        for pid in pod_processes(token):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            seen.update(
                e[len(b"IMAGE_TAG=") :].decode() for e in environ if e.startswith(b"IMAGE_TAG=")
            )
        return seen

    with sampling(versions, every=0.01) as seen:
        write(folder, "job", manifest(2))
        wait_for(lambda: any(p.terminating for p in daemon.pods()), what="old pods stopping")
        daemon.kill()
        restart(daemon, attempt=0)
        wait_for(lambda: versions() == {"2"} and len(pod_processes(token)) == 2, what="rev 2")
    assert [s for s in seen if len(s) > 1] == []
    assert [rs.revision for rs in daemon.replicasets("job")] == [1, 2]


def test_the_blue_green_active_service_holds_across_a_restart(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """A restart while the preview waits for promotion: the active Service still serves the
    old version, the preview the new one, with the same pods; promote then switches."""
    active, preview = service_port(), service_port()
    strategy = """
  strategy:
    type: BlueGreen
    blueGreen:
      activeService: web
      previewService: web-preview
      autoPromotionEnabled: false
      scaleDownDelaySeconds: 0"""

    def manifest(version: int) -> str:
        return (
            deployment_yaml(
                "web", image=f"demo:{version}", replicas=2, strategy=strategy, env=env(token)
            )
            + service_yaml("web", active)
            + service_yaml("web-preview", preview).replace("{app: web-preview}", "{app: web}")
        )

    write(folder, "web", manifest(1))
    daemon.start()
    wait_for(lambda: _answers(active) == "1", what="active on v1")
    write(folder, "web", manifest(2))
    wait_for(lambda: _answers(preview) == "2", what="preview on v2")
    before = pod_processes(token)
    with Load(active, workers=4, rate=400) as load:
        wait_for(lambda: load.result.ok >= 5, what="load on the active Service")
        assert daemon.stop() == 0
        restart(daemon, attempt=0)
        wait_for(lambda: _answers(active) == "1" and _answers(preview) == "2", what="as before")
        served = load.result.ok
        wait_for(lambda: load.result.ok >= served + 10, what="answers after the restart")
    # while no daemon runs its listener is down (failures); what answers is never the preview
    assert set(load.result.versions) == {"1"}, load.result.versions
    assert pod_processes(token) == before
    assert daemon.cli("rollout", "promote", "deployment/web").returncode == 0
    wait_for(lambda: _answers(active) == "2", what="promoted")
    assert [rs.revision for rs in daemon.replicasets("web")] == [1, 2]


def _answers(port: int) -> str:
    try:
        return fetch_version(port)
    except OSError:
        return ""


def test_down_leaves_no_process_and_no_listener(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """`reconciler down` with the daemon running: no pod process, no shim, no Service or pod
    listener is left, and the store lists no pod."""
    members = [Member("rolling", free_port())]
    write_fleet(folder, members, version=1, token=token)
    daemon.start()
    wait_settled(daemon, members, version=1, timeout=20)
    pod_ports = [p.ports["http"] for p in daemon.pods()]
    before = revisions(daemon, members)
    result = daemon.down()
    assert result.returncode == 0, result.stderr
    assert daemon.proc is not None and daemon.proc.poll() == 0
    assert processes_with(token) == []
    assert processes_with(str(daemon.state)) == []  # no shim names this state directory
    assert not any(listening(port) for port in [members[0].port, *pod_ports])
    assert daemon.pods() == []
    assert revisions(daemon, members) == before  # history is kept; `run` starts the pods again


def test_logs_exec_and_previous_work_on_adopted_pods(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """`logs -f` keeps following a pod while no daemon runs and after the next one adopts it;
    `exec` runs in the adopted pod's environment; after the adopted container dies and is
    restarted, `logs --previous` shows its output; `down` ends the follower."""
    write(folder, "web", deployment_yaml("web", replicas=1, env=env(token)))
    daemon.start()
    pod = wait_for(lambda: next((p for p in daemon.pods() if p.ready), None), what="ready")
    port = pod.ports["http"]
    envs = {**os.environ, "RECONCILER_STATE_DIR": os.fspath(daemon.state)}
    follower = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "logs", "-f", pod.name],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=envs,
        text=True,
    )
    try:
        assert follower.stdout is not None
        seen: list[str] = []
        stream = follower.stdout
        reader = threading.Thread(target=lambda: seen.extend(iter(stream.readline, "")))
        reader.start()
        wait_for(lambda: any("listening" in line for line in seen), what="the first lines")
        assert daemon.stop() == 0
        _answers(port)
        wait_for(lambda: any("GET / " in line for line in seen), what="a line while no daemon")
        restart(daemon, attempt=0)
        result = daemon.cli("exec", pod.name, "--", "sh", "-c", "echo $POD_NAME")
        assert (result.returncode, result.stdout) == (0, f"{pod.name}\n"), result.stderr
        [main] = pod_processes(token)
        os.kill(main, signal.SIGKILL)
        wait_for(lambda: any(p.restarts == 1 and p.ready for p in daemon.pods()), what="restarted")
        previous = daemon.cli("logs", "--previous", pod.name)
        assert previous.returncode == 0 and "listening" in previous.stdout, previous.stderr
        assert daemon.down().returncode == 0
        assert follower.wait(10) == 0
        reader.join(5)
    finally:
        follower.kill()
        follower.wait()


def test_adopted_pods_whose_replica_set_is_gone_are_stopped(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """A pod adopted from a previous daemon whose ReplicaSet the store no longer has (a crash
    between forgetting the ReplicaSet and stopping its pods) is stopped, as Kubernetes' garbage
    collector deletes pods whose owner is gone; the Deployment's own pods are left alone."""
    write(folder, "web", deployment_yaml("web", replicas=1, env=env(token)))
    write(folder, "other", deployment_yaml("other", replicas=1, env=env(token)))
    daemon.start()
    wait_for(lambda: len([p for p in daemon.pods() if p.ready]) == 2, what="2 pods ready")
    assert daemon.stop() == 0
    [orphan] = [p for p in daemon.pods() if p.labels.get("app") == "other"]
    [kept] = [p for p in daemon.pods() if p.labels.get("app") == "web"]
    (folder / "other.yaml").unlink()
    daemon.read(lambda store: store.delete_replicaset("default", orphan.owner))
    restart(daemon, attempt=0)
    wait_for(lambda: orphan.name not in set(pod_processes(token).values()), what="orphan stopped")
    assert kept.name in set(pod_processes(token).values())
    assert "ownerless_pod_stopped" in daemon.log.read_text()
