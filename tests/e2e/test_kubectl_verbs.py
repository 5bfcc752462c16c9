"""kubectl's verbs against a real daemon: wait, port-forward, top, logs -l, describe pod events."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.e2e.harness import DaemonProcess, complete, deployment_yaml, http_get, wait_for
from tests.e2e.test_traffic import service_yaml
from tests.e2e.test_walkthrough import env_token, write

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def port_forward(daemon: DaemonProcess, *args: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """``reconciler port-forward ARGS`` running; yields the local port it printed."""
    env = {**os.environ, "RECONCILER_STATE_DIR": os.fspath(daemon.state)}
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "port-forward", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\w+)\n", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        yield int(match.group(1)), process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _web(folder: Path, daemon: DaemonProcess, token: str, port: int, replicas: int = 2) -> None:
    manifest = deployment_yaml("web", replicas=replicas, env=env_token(token))
    write(folder, "web", manifest + service_yaml("web", port, app="web"))
    daemon.start()


def test_wait_and_the_events_on_pods_and_replicasets(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """`wait --for=condition=Available` returns once the daemon records it; each pod's own
    events come from the scheduler and the kubelet, the ReplicaSet's from its controller;
    `wait --for=delete` returns once a deleted pod is gone."""
    _web(folder, daemon, token, free_port())
    waited = daemon.cli("wait", "--for=condition=Available", "deployment/web", "--timeout=60s")
    assert (waited.returncode, waited.stdout) == (0, "deployment.apps/web condition met\n")
    wait_for(complete(daemon, "web", 2), what="ready")
    pod = sorted(p.name for p in daemon.pods())[0]
    page = daemon.cli("describe", "pod", pod).stdout
    events = page.split("Events:\n", 1)[1]
    scheduled = rf"Successfully assigned default/{pod} to localhost"
    assert re.search(rf"Normal +Scheduled +\S+ +default-scheduler +{scheduled}", events), page
    for reason, message in (
        ("Pulled", 'Container image "demo:1" already present on machine'),
        ("Created", "Created container app"),
        ("Started", "Started container app"),
    ):
        assert re.search(rf"Normal +{reason} +\S+ +kubelet +{re.escape(message)}", events), page
    rs = pod.rsplit("-", 1)[0]
    listed = daemon.cli("get", "events", "--for", f"rs/{rs}").stdout
    assert f"SuccessfulCreate   replicaset/{rs}   Created pod: {pod}" in re.sub(
        r" {3,}", "   ", listed
    )
    deployment_events = daemon.cli("describe", "deployment", "web").stdout
    assert "SuccessfulCreate" not in deployment_events and "ScalingReplicaSet" in deployment_events
    alive = daemon.cli("wait", "--for=delete", f"pod/{pod}", "--timeout=0.3s")
    assert (alive.returncode, alive.stderr) == (
        1,
        f"error: timed out waiting for the condition on pods/{pod}\n",
    )
    assert daemon.cli("delete", "pod", pod).returncode == 0
    gone = daemon.cli("wait", "--for=delete", f"pod/{pod}", "--timeout=30s")
    assert gone.returncode == 0, gone.stderr
    late = daemon.cli("wait", "--for=condition=Ready=False", "deploy/web", "--timeout=0.3")
    assert (late.returncode, late.stderr) == (
        1,
        "error: timed out waiting for the condition on deployments/web\n",
    )


def test_port_forward_top_and_logs_by_selector(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """port-forward reaches a pod through a deployment and through a Service; `top pods`
    measures each pod's processes; `logs -l --prefix` prints every matching pod's output."""
    service_port = free_port()
    _web(folder, daemon, token, service_port)
    wait_for(complete(daemon, "web", 2), what="ready")
    pods = sorted(p.name for p in daemon.pods())
    with port_forward(daemon, "deploy/web", ":8080") as (local, process):
        assert http_get(local).startswith("demo 1 ")
        assert process.stdout is not None
        assert process.stdout.readline() == f"Handling connection for {local}\n"
    with port_forward(daemon, "svc/web", f":{service_port}") as (local, _):
        answer = http_get(local)
        assert answer.startswith("demo 1 ") and any(name in answer for name in pods), answer
    top = daemon.cli("top", "pods", "-l", "app=web")
    assert top.returncode == 0, top.stderr
    lines = top.stdout.splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows] == pods
    assert all(re.fullmatch(r"\d+m", r[1]) and re.fullmatch(r"[1-9]\d*Mi", r[2]) for r in rows)
    logs = daemon.cli("logs", "-l", "app=web", "--prefix", "--tail=1000")
    assert logs.returncode == 0, logs.stderr
    for name in pods:
        assert f"[pod/{name}/app] demo 1 listening on 127.0.0.1:" in logs.stdout


def test_describe_pod_lists_its_failures(folder: Path, daemon: DaemonProcess, token: str) -> None:
    """A crash-looping pod and a pod whose executable is missing each list their own
    kubelet events (BackOff; Failed ErrImagePull), not `Events: <none>`."""
    crash = deployment_yaml(
        "crash",
        replicas=1,
        env=env_token(token),
        readiness=False,
        command='["python3", "-c", "raise SystemExit(3)"]',
    )
    missing = deployment_yaml(
        "missing", replicas=1, env=env_token(token), readiness=False, command='["no-such-exe-x"]'
    )
    write(folder, "crash", crash)
    write(folder, "missing", missing)
    daemon.start()

    def page_of(prefix: str, needle: str) -> str | None:
        names = [p.name for p in daemon.pods() if p.name.startswith(prefix)]
        if not names:
            return None
        page = daemon.cli("describe", "pod", names[0]).stdout
        return page if needle in page else None

    crashing = wait_for(lambda: page_of("crash-", "BackOff"), timeout=30, what="back-off event")
    assert re.search(
        r"Warning +BackOff +.+ +kubelet +Back-off restarting failed container app in pod crash-",
        crashing,
    ), crashing
    pulling = wait_for(lambda: page_of("missing-", "ErrImagePull"), timeout=30, what="pull event")
    assert re.search(r"Warning +Failed +.+ +kubelet +Error: ErrImagePull", pulling), pulling
    assert "Events:  <none>" not in pulling
