"""Probes against real servers: httpGet, tcpSocket and exec passing and failing; liveness
restarts; startup gating; the kubelet's thresholds."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import PY, container, pod_of, pod_spec, py, run_with_runtime, wait_until

from reconciler.runtime import PodStatus
from reconciler.runtime.probes import Probe, ProbeState, ProbeTarget, check, resolve_port
from reconciler.runtime.process import ProcessRuntime

# an HTTP server on $PORT answering /ok with 200, /moved with 302 and anything else with 500
HTTP_SERVER = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = {'/ok': 200, '/moved': 302}.get(self.path, 500)
        self.send_response(code); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
"""
TCP_SERVER = """
import os, socket, time
s = socket.socket(); s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(); time.sleep(60)
"""
SLEEP = "import time; time.sleep(60)"
FAST = {"periodSeconds": 0.05, "timeoutSeconds": 0.5}


async def ready_pod(rt: ProcessRuntime, name: str) -> PodStatus:
    return await wait_until(lambda: (p := pod_of(rt, name)) and p.ready and p)


def never_ready_for(seconds: float) -> Any:
    async def watch(rt: ProcessRuntime, name: str) -> PodStatus:
        running = await wait_until(
            lambda: (p := pod_of(rt, name)) and p.containers[0].state == "Running" and p
        )
        await asyncio.sleep(seconds)
        status = pod_of(rt, name)
        assert status is not None and not status.ready
        return running

    return watch


@pytest.mark.parametrize(
    ("code", "probe", "passes"),
    [
        pytest.param(
            HTTP_SERVER, {"httpGet": {"path": "/ok", "port": "http"}}, True, id="http 200"
        ),
        pytest.param(
            HTTP_SERVER, {"httpGet": {"path": "/moved", "port": 8080}}, True, id="http 302"
        ),
        pytest.param(
            HTTP_SERVER, {"httpGet": {"path": "/bad", "port": "http"}}, False, id="http 500"
        ),
        pytest.param(TCP_SERVER, {"tcpSocket": {"port": "http"}}, True, id="tcp listening"),
        pytest.param(SLEEP, {"tcpSocket": {"port": 8080}}, False, id="tcp refused"),
        pytest.param(SLEEP, {"exec": {"command": ["python3", "-c", "pass"]}}, True, id="exec 0"),
        pytest.param(
            SLEEP, {"exec": {"command": [PY, "-c", "raise SystemExit(1)"]}}, False, id="exec 1"
        ),
        pytest.param(
            SLEEP,
            {"exec": {"command": [PY, "-c", "import time; time.sleep(5)"]}, "timeoutSeconds": 0.2},
            False,
            id="exec timeout",
        ),
    ],
)
def test_readiness_probe_kinds(
    state_dir: Path, tmp_path: Path, code: str, probe: dict[str, Any], passes: bool
) -> None:
    """Each probe kind makes the pod Ready when it passes and keeps it not Ready when it fails."""
    spec = container(
        ports=[{"containerPort": 8080, "name": "http"}],
        readinessProbe={**FAST, **probe},
        **py(code),
    )

    async def scenario(rt: ProcessRuntime) -> PodStatus:
        await rt.start_pod(pod_spec("probe-1", spec, base_dir=tmp_path))
        if passes:
            return await ready_pod(rt, "probe-1")
        return await never_ready_for(0.6)(rt, "probe-1")

    status = run_with_runtime(state_dir, scenario)
    assert status.containers[0].restart_count == 0


def test_ready_since_is_when_the_pod_became_ready(state_dir: Path, tmp_path: Path) -> None:
    """ready_since is the wall-clock time of becoming Ready; it clears when readiness fails."""
    flag = tmp_path / "healthy"
    flag.write_text("x")
    probe = {"exec": {"command": ["test", "-e", str(flag)]}, **FAST, "failureThreshold": 1}
    spec = container(readinessProbe=probe, **py(SLEEP))

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(pod_spec("since-1", spec, base_dir=tmp_path))
        status = await ready_pod(rt, "since-1")
        started = status.containers[0].started_at
        assert status.ready_since is not None and started is not None
        assert started <= status.ready_since < started + 2
        flag.unlink()
        gone = await wait_until(lambda: (p := pod_of(rt, "since-1")) and not p.ready and p)
        assert gone.ready_since is None
        flag.write_text("x")
        again = await ready_pod(rt, "since-1")
        assert again.ready_since is not None and again.ready_since > status.ready_since

    run_with_runtime(state_dir, scenario)


def test_liveness_failure_restarts_the_container(state_dir: Path, tmp_path: Path) -> None:
    """A failing liveness probe kills and restarts the container; the restart is counted."""
    starts = tmp_path / "starts"
    code = f"import time; open({str(starts)!r}, 'a').write('x\\n'); time.sleep(60)"
    probe = {"tcpSocket": {"port": 8080}, **FAST, "failureThreshold": 2, "initialDelaySeconds": 0.3}
    spec = container(ports=[{"containerPort": 8080}], livenessProbe=probe, **py(code))

    async def scenario(rt: ProcessRuntime) -> PodStatus:
        await rt.start_pod(pod_spec("live-1", spec, base_dir=tmp_path, grace=0.5))
        status = await wait_until(
            lambda: (p := pod_of(rt, "live-1")) and p.containers[0].restart_count >= 2 and p
        )
        await wait_until(lambda: len(starts.read_text().split()) >= 3)
        return status

    status = run_with_runtime(state_dir, scenario, backoff_initial=0.1)
    # the killed instance exited on SIGTERM
    assert status.containers[0].last_exit_code == 143


def test_passing_liveness_keeps_the_container(state_dir: Path, tmp_path: Path) -> None:
    """A passing liveness probe never restarts the container."""
    probe = {"exec": {"command": ["true"]}, **FAST}
    spec = container(livenessProbe=probe, **py(SLEEP))

    async def scenario(rt: ProcessRuntime) -> PodStatus:
        await rt.start_pod(pod_spec("live-2", spec, base_dir=tmp_path))
        await ready_pod(rt, "live-2")
        await asyncio.sleep(0.5)
        status = pod_of(rt, "live-2")
        assert status is not None
        return status

    assert run_with_runtime(state_dir, scenario).containers[0].restart_count == 0


def test_startup_probe_gates_readiness_and_restarts_on_failure(
    state_dir: Path, tmp_path: Path
) -> None:
    """Not Ready until the startup probe passes; failing it failureThreshold times restarts."""
    flag = tmp_path / "started"
    probe = {"exec": {"command": ["test", "-e", str(flag)]}, **FAST, "failureThreshold": 100}
    spec = container(startupProbe=probe, **py(SLEEP))
    failing = container(
        startupProbe={"exec": {"command": ["false"]}, **FAST, "failureThreshold": 2}, **py(SLEEP)
    )

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(pod_spec("startup-1", spec, base_dir=tmp_path))
        await rt.start_pod(pod_spec("startup-2", failing, base_dir=tmp_path, grace=0.5))
        await never_ready_for(0.3)(rt, "startup-1")
        flag.write_text("x")
        await ready_pod(rt, "startup-1")
        await wait_until(lambda: (p := pod_of(rt, "startup-2")) and p.restarts >= 1)

    run_with_runtime(state_dir, scenario)


def test_probe_state_thresholds() -> None:
    """successThreshold consecutive successes flip to True, failureThreshold failures to False."""
    state = ProbeState(
        Probe(kind="tcpSocket", success_threshold=2, failure_threshold=3), initial=False
    )
    assert [state.record(ok) for ok in (True, False, True, True)] == [False, False, False, True]
    assert [state.record(ok) for ok in (False, False, True, False, False, False)] == [
        False, False, False, False, False, True,
    ]  # fmt: skip
    assert state.result is False


def test_probe_parse_allows_fractional_seconds_and_defaults() -> None:
    """Kubernetes field names, with defaults and fractional seconds."""
    probe = Probe.parse({"httpGet": {"port": "http"}, "periodSeconds": 0.25})
    assert (probe.kind, probe.path, probe.scheme, probe.port) == ("httpGet", "/", "HTTP", "http")
    assert (probe.period, probe.timeout, probe.failure_threshold) == (0.25, 1.0, 3)
    with pytest.raises(ValueError):
        Probe.parse({"periodSeconds": 1})


def test_resolve_port_by_number_name_or_undeclared_number() -> None:
    """Ports resolve by name or number through the pod's map; unknown numbers pass through."""
    ports = {"8080": 40001, "http": 40001}
    assert resolve_port("http", ports) == 40001
    assert resolve_port(8080, ports) == 40001
    assert resolve_port(9999, ports) == 9999
    assert resolve_port("nope", ports) is None


def test_http_probe_times_out_on_a_silent_server() -> None:
    """An accepting server that never answers fails the probe within timeoutSeconds."""

    async def main() -> bool:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        probe = Probe(kind="httpGet", port=port, timeout=0.2)
        target = ProbeTarget(host="127.0.0.1", ports={}, env={}, cwd=".")
        try:
            return await asyncio.wait_for(check(probe, target), 2)
        finally:
            server.close()

    assert asyncio.run(main()) is False
