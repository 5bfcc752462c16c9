"""Pods as real process groups: start, env, ports, multi-container, stop, SIGTERM→SIGKILL."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import time
from pathlib import Path

from runtime_helpers import (
    PY,
    container,
    pid_alive,
    pod_of,
    pod_spec,
    py,
    run_with_runtime,
    wait_until,
)

from reconciler.runtime import ContainerState, PodPhase, PodStatus
from reconciler.runtime.process import Backoff, ProcessRuntime
from reconciler.runtime.waiting import wait_gone

SLEEP = "import time; time.sleep(60)"


def dump_env(out: Path) -> str:
    return (
        "import json, os, time\n"
        f"json.dump(dict(os.environ), open({str(out)!r}, 'w'))\n"
        "time.sleep(60)\n"
    )


def test_backoff_doubles_to_the_cap_after_an_immediate_first_retry() -> None:
    """The kubelet's sequence: 0, 10, 20, 40, ... capped at 300; reset starts over."""
    backoff = Backoff(10, 300)
    assert [backoff.next() for _ in range(8)] == [0, 10, 20, 40, 80, 160, 300, 300]
    backoff.reset()
    assert backoff.next() == 0


def test_multi_container_pod_gets_ports_and_env(state_dir: Path, tmp_path: Path) -> None:
    """Two containers run; each sees PORT, PORT_<NAME>, POD_*, IMAGE_* and expanded $(VAR)s."""
    web_env, side_env = tmp_path / "web.json", tmp_path / "side.json"
    (tmp_path / "work").mkdir()
    web = container(
        "web",
        image="demo:1.2",
        ports=[
            {"containerPort": 8080, "name": "http"},
            {"containerPort": 9090, "name": "metrics-x"},
        ],
        env=[
            {"name": "GREETING", "value": "hi $(POD_NAME) on $(PORT) $$(PORT) $(NOPE)"},
            {"name": "URL", "value": "http://$(POD_IP):$(PORT_HTTP)/$(GREETING)"},
        ],
        workingDir="work",
        command=[PY, "-c", dump_env(web_env), "$(PORT_METRICS_X)"],
    )
    sidecar = container("side", image="sidecar", **py(dump_env(side_env)))

    async def scenario(rt: ProcessRuntime) -> PodStatus:
        await rt.start_pod(pod_spec("web-1", web, sidecar, base_dir=tmp_path))
        await wait_until(lambda: web_env.exists() and side_env.exists())
        return await wait_until(lambda: (p := pod_of(rt, "web-1")) and p.ready and p)

    status = run_with_runtime(state_dir, scenario)
    assert status.phase is PodPhase.RUNNING
    assert [c.state for c in status.containers] == [ContainerState.RUNNING] * 2
    http, metrics = status.ports["http"], status.ports["metrics-x"]
    assert status.ports["8080"] == http and status.ports["9090"] == metrics and http != metrics
    env = json.loads(web_env.read_text())
    assert env["PORT"] == str(http) and env["PORT_HTTP"] == str(http)
    assert env["PORT_METRICS_X"] == str(metrics)
    assert (env["POD_NAME"], env["POD_NAMESPACE"], env["POD_IP"]) == (
        "web-1",
        "default",
        "127.0.0.1",
    )
    assert (env["IMAGE"], env["IMAGE_NAME"], env["IMAGE_TAG"]) == ("demo:1.2", "demo", "1.2")
    assert env["GREETING"] == f"hi web-1 on {http} $(PORT) $(NOPE)"
    assert env["URL"] == f"http://127.0.0.1:{http}/hi web-1 on {http} $(PORT) $(NOPE)"
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(PY)
    side = json.loads(side_env.read_text())
    # a sidecar without ports still finds the pod's first port and every named one
    assert side["PORT"] == str(http) and side["IMAGE_TAG"] == "latest"


def test_command_and_args_are_expanded_and_workdir_is_relative_to_base(
    state_dir: Path, tmp_path: Path
) -> None:
    """$(VAR) in command/args expands; relative workingDir resolves against the manifest dir."""
    (tmp_path / "sub").mkdir()
    code = (
        "import os, sys, time; open('argv.txt', 'w').write(' '.join(sys.argv[1:])); time.sleep(60)"
    )
    spec = container(
        env=[{"name": "WHO", "value": "world"}],
        workingDir="sub",
        command=[PY, "-c", code],
        args=["hello", "$(WHO)", "$$(WHO)", "$(POD_NAME)"],
    )

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(pod_spec("argv-1", spec, base_dir=tmp_path))
        await wait_until(lambda: (tmp_path / "sub" / "argv.txt").exists())

    run_with_runtime(state_dir, scenario)
    assert (tmp_path / "sub" / "argv.txt").read_text() == "hello world $(WHO) argv-1"


def test_no_command_is_a_config_error(state_dir: Path, tmp_path: Path) -> None:
    """A container without `command` waits with CreateContainerConfigError and a clear message."""

    async def scenario(rt: ProcessRuntime) -> PodStatus:
        await rt.start_pod(pod_spec("nocmd-1", container(), base_dir=tmp_path))
        return await wait_until(
            lambda: (
                (p := pod_of(rt, "nocmd-1"))
                and p.containers[0].reason == "CreateContainerConfigError"
                and p
            )
        )

    status = run_with_runtime(state_dir, scenario)
    assert status.phase is PodPhase.PENDING and not status.ready
    assert "has no command" in status.containers[0].message


def test_missing_executable_backs_off_then_starts_once_it_appears(
    state_dir: Path, tmp_path: Path
) -> None:
    """ErrImagePull → ImagePullBackOff while the executable is missing; it starts once present."""
    tool = tmp_path / "bin" / "demo-server"
    seen: set[str] = set()

    async def scenario(rt: ProcessRuntime) -> PodStatus:
        rt.subscribe(lambda p: seen.add(p.containers[0].reason))
        await rt.start_pod(
            pod_spec("pull-1", container(command=["./bin/demo-server"]), base_dir=tmp_path)
        )
        waiting = await wait_until(
            lambda: (
                (p := pod_of(rt, "pull-1")) and p.containers[0].reason == "ImagePullBackOff" and p
            )
        )
        assert waiting.phase is PodPhase.PENDING
        tool.parent.mkdir()
        tool.write_text(f"#!{PY}\nimport time\ntime.sleep(60)\n")
        tool.chmod(0o755)
        return await wait_until(lambda: (p := pod_of(rt, "pull-1")) and p.ready and p)

    status = run_with_runtime(state_dir, scenario, image_pull_backoff_initial=0.2)
    assert {"ErrImagePull", "ImagePullBackOff"} <= seen
    assert status.containers[0].restart_count == 0


def test_missing_executable_message_names_the_image_and_command(
    state_dir: Path, tmp_path: Path
) -> None:
    """The ErrImagePull message says which image and which executable was not found."""

    async def scenario(rt: ProcessRuntime) -> str:
        await rt.start_pod(
            pod_spec(
                "pull-2", container(image="demo:9", command=["no-such-tool-xyz"]), base_dir=tmp_path
            )
        )
        status = await wait_until(
            lambda: (p := pod_of(rt, "pull-2")) and p.containers[0].reason == "ErrImagePull" and p
        )
        return status.containers[0].message

    message = run_with_runtime(state_dir, scenario, image_pull_backoff_initial=5)
    assert message == (
        'failed to pull image "demo:9": '
        'exec: "no-such-tool-xyz": executable file not found in $PATH'
    )


def test_crash_loop_back_off_timing(state_dir: Path, tmp_path: Path) -> None:
    """A crashing container restarts at once, then after 0.2 s, 0.4 s, 0.4 s (cap), counting."""
    starts = tmp_path / "starts"
    code = (
        f"import time; open({str(starts)!r}, 'a').write(f'{{time.time()}}\\n'); raise SystemExit(3)"
    )
    reasons: list[str] = []

    async def scenario(rt: ProcessRuntime) -> PodStatus:
        rt.subscribe(lambda p: reasons.append(p.containers[0].reason))
        await rt.start_pod(pod_spec("crash-1", container(**py(code)), base_dir=tmp_path))
        await wait_until(
            lambda: starts.exists() and len(starts.read_text().split()) >= 5, timeout=10
        )
        status = await wait_until(
            lambda: (
                (p := pod_of(rt, "crash-1")) and p.containers[0].reason == "CrashLoopBackOff" and p
            )
        )
        return status

    status = run_with_runtime(state_dir, scenario, backoff_initial=0.2, backoff_max=0.4)
    times = [float(t) for t in starts.read_text().split()][:5]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # each gap is the back-off plus one Python start-up (~0.05-0.2 s on a loaded machine)
    assert gaps[0] < 0.2 + 0.35
    for gap, back_off in zip(gaps[1:], [0.2, 0.4, 0.4], strict=True):
        assert back_off <= gap < back_off + 0.35, gaps
    assert status.phase is PodPhase.RUNNING and not status.ready
    c = status.containers[0]
    assert c.restart_count >= 4 and c.last_exit_code == 3 and c.last_reason == "Error"
    assert c.message.startswith("back-off 0.4s restarting failed container=app pod=crash-1_default")
    assert "Error" in reasons


def test_stop_sends_sigterm_then_sigkill_to_a_process_ignoring_it(
    state_dir: Path, tmp_path: Path
) -> None:
    """A process ignoring SIGTERM is killed after terminationGracePeriodSeconds, not before."""
    marker = tmp_path / "got-term"
    code = (
        "import signal, time\n"
        f"signal.signal(signal.SIGTERM, lambda *a: open({str(marker)!r}, 'w').write('x'))\n"
        f"open({str(tmp_path / 'up')!r}, 'w').write('x')\n"
        "while True: time.sleep(0.05)\n"
    )

    async def scenario(rt: ProcessRuntime) -> tuple[float, int | None]:
        await rt.start_pod(
            pod_spec("stubborn-1", container(**py(code)), base_dir=tmp_path, grace=0.6)
        )
        await wait_until(lambda: (tmp_path / "up").exists())
        finals: list[PodStatus] = []
        rt.subscribe(lambda p: finals.append(p) if p.gone else None)
        began = time.monotonic()
        await rt.stop_pod("stubborn-1")
        await wait_until(lambda: marker.exists(), timeout=2)
        await wait_gone(rt, "stubborn-1")
        took = time.monotonic() - began
        assert pod_of(rt, "stubborn-1") is None
        return took, finals[0].containers[0].signal

    took, killed_by = run_with_runtime(state_dir, scenario)
    assert 0.6 <= took < 1.5
    assert killed_by == signal.SIGKILL


def test_graceful_process_stops_at_sigterm_without_waiting_for_the_grace_period(
    state_dir: Path, tmp_path: Path
) -> None:
    """A process that exits on SIGTERM is gone at once; its ports are released."""

    async def scenario(rt: ProcessRuntime) -> tuple[float, int]:
        spec = container(ports=[{"containerPort": 80}], **py(SLEEP))
        await rt.start_pod(pod_spec("quick-1", spec, base_dir=tmp_path, grace=30))
        status = await wait_until(lambda: (p := pod_of(rt, "quick-1")) and p.ready and p)
        began = time.monotonic()
        await rt.stop_pod("quick-1")
        await wait_gone(rt, "quick-1")
        return time.monotonic() - began, status.ports["80"]

    took, port = run_with_runtime(state_dir, scenario)
    assert took < 1.0
    with socket.socket() as sock:  # the host port is free again
        sock.bind(("127.0.0.1", port))


def test_terminating_is_announced_before_the_signal_and_pre_stop_runs_first(
    state_dir: Path, tmp_path: Path
) -> None:
    """Subscribers see terminating (not ready) first; preStop exec runs before SIGTERM."""
    log = tmp_path / "order"
    code = (
        "import signal, sys, time\n"
        f"def term(*a):\n    open({str(log)!r}, 'a').write('sigterm\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, term)\n"
        f"open({str(tmp_path / 'up')!r}, 'w').write('x')\n"
        "while True: time.sleep(0.05)\n"
    )
    hook = f"open({str(log)!r}, 'a').write('prestop\\n')"
    spec = container(lifecycle={"preStop": {"exec": {"command": [PY, "-c", hook]}}}, **py(code))

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.start_pod(pod_spec("hook-1", spec, base_dir=tmp_path))
        await wait_until(lambda: (tmp_path / "up").exists())

        def on_change(status: PodStatus) -> None:
            if status.terminating and not log.exists():
                log.write_text("announced\n")
                assert not status.ready

        rt.subscribe(on_change)
        await rt.stop_pod("hook-1")
        await wait_gone(rt, "hook-1")

    run_with_runtime(state_dir, scenario)
    assert log.read_text().split() == ["announced", "prestop", "sigterm"]


def test_pre_stop_sleep_delays_the_signal(state_dir: Path, tmp_path: Path) -> None:
    """lifecycle.preStop.sleep waits before SIGTERM."""
    spec = container(lifecycle={"preStop": {"sleep": {"seconds": 0.3}}}, **py(SLEEP))

    async def scenario(rt: ProcessRuntime) -> float:
        await rt.start_pod(pod_spec("nap-1", spec, base_dir=tmp_path))
        await wait_until(lambda: (p := pod_of(rt, "nap-1")) and p.ready)
        began = time.monotonic()
        await rt.stop_pod("nap-1")
        await wait_gone(rt, "nap-1")
        return time.monotonic() - began

    assert 0.3 <= run_with_runtime(state_dir, scenario) < 1.5


def test_no_grandchild_survives_a_stop(state_dir: Path, tmp_path: Path) -> None:
    """Children and grandchildren (even ones ignoring SIGTERM) die with the pod."""
    pids = tmp_path / "pids"
    (tmp_path / "grandchild.py").write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)\n"
    )
    (tmp_path / "child.py").write_text(
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, 'grandchild.py'])\n"
        f"open({str(pids)!r}, 'a').write(f'{{p.pid}}\\n')\n"
        "time.sleep(60)\n"
    )
    (tmp_path / "main.py").write_text(
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, 'child.py'])\n"
        f"open({str(pids)!r}, 'a').write(f'{{p.pid}}\\n')\n"
        "time.sleep(60)\n"
    )

    async def scenario(rt: ProcessRuntime) -> list[int]:
        spec = container(command=["python3", "main.py"])
        await rt.start_pod(pod_spec("tree-1", spec, base_dir=tmp_path, grace=2))
        await wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2)
        tree = [int(p) for p in pids.read_text().split()]
        assert all(pid_alive(p) for p in tree)
        await rt.stop_pod("tree-1")
        await wait_gone(rt, "tree-1")
        return tree

    tree = run_with_runtime(state_dir, scenario)
    assert not any(pid_alive(p) for p in tree)


def test_grandchildren_die_when_the_main_process_crashes(state_dir: Path, tmp_path: Path) -> None:
    """When the main process exits, what is left of its group is killed before the restart."""
    pids = tmp_path / "pids"
    code = (
        "import subprocess, sys, time\n"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids)!r}, 'a').write(str(c.pid) + chr(10))\n"
        "time.sleep(0.2); sys.exit(1)\n"
    )

    async def scenario(rt: ProcessRuntime) -> int:
        await rt.start_pod(pod_spec("orphan-1", container(**py(code)), base_dir=tmp_path))
        await wait_until(
            lambda: (p := pod_of(rt, "orphan-1")) and p.containers[0].restart_count >= 1
        )
        return int(pids.read_text().split()[0])

    first_child = run_with_runtime(state_dir, scenario, backoff_initial=5)
    assert not pid_alive(first_child)


def test_stop_pod_of_unknown_pod_is_a_no_op_and_close_stops_everything(
    state_dir: Path, tmp_path: Path
) -> None:
    """stop_pod ignores unknown names; close() stops every pod (and its shim), waits for them."""
    pids: list[int] = []

    async def scenario(rt: ProcessRuntime) -> None:
        await rt.stop_pod("nope")
        for i in range(3):
            await rt.start_pod(pod_spec(f"many-{i}", container(**py(SLEEP)), base_dir=tmp_path))
        await wait_until(lambda: sum(p.ready for p in rt.pods()) == 3)
        for i in range(3):
            record = json.loads(
                (state_dir / "runtime/default" / f"many-{i}" / "app.shim.json").read_text()
            )
            pids.extend((record["child"]["pid"], record["shim"]["pid"]))

    run_with_runtime(state_dir, scenario)
    assert pids and not any(pid_alive(p) for p in pids)
    assert not list((state_dir / "runtime").glob("*/*"))
