"""Pods outlive the runtime that started them; the next one adopts what verifies, and only that."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import container, pid_alive, pod_of, pod_spec, py, wait_until
from structlog.testing import capture_logs

from reconciler.runtime.adopt import NewerRecordsError
from reconciler.runtime.layout import write_private_json
from reconciler.runtime.process import ProcessRuntime
from reconciler.runtime.records import ProcessRecord, boot_id, clean_leftovers, process_start_time

DAEMON = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {helpers!r})
from runtime_helpers import container, pod_spec, wait_until, pod_of
from reconciler.runtime.process import ProcessRuntime

async def main():
    rt = ProcessRuntime(Path({state!r}))
    await rt.start()
    for name in ("left-1", "left-2"):
        spec = container(command=["python3", {tree!r}, {pids!r}], ports=[{{"containerPort": 80}}])
        await rt.start_pod(pod_spec(name, spec, base_dir=Path({base!r}), grace=1))
    await wait_until(lambda: sum(p.ready for p in rt.pods()) == 2)
    print("ready", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""

TREE = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(sys.argv[1], "a") as out:
    out.write(f"{os.getpid()} {kid.pid}\\n")
time.sleep(60)
"""

SLEEP = "import time; time.sleep(60)"


def shim_record(state_dir: Path, pod: str, name: str = "app") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (state_dir / "runtime" / "default" / pod / f"{name}.shim.json").read_text()
    )
    return data


def runtime(state_dir: Path) -> ProcessRuntime:
    return ProcessRuntime(state_dir, backoff_initial=0.2, backoff_max=0.8)


def test_pods_of_a_killed_daemon_are_adopted_then_stopped_by_close(
    state_dir: Path, tmp_path: Path
) -> None:
    """kill -9 of the owning daemon: the trees live on, the next start adopts them (same pids,
    ports, 0 restarts, Ready), and close() stops every process of them, grandchildren too."""
    pids_file = tmp_path / "pids"
    tree = tmp_path / "tree.py"
    tree.write_text(TREE)
    script = DAEMON.format(
        helpers=str(Path(__file__).parent),
        state=str(state_dir),
        tree=str(tree),
        pids=str(pids_file),
        base=str(tmp_path),
    )
    daemon = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert daemon.stdout is not None
        for line in daemon.stdout:  # the runtime logs to stdout too
            if line.strip() == "ready":
                break
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            not pids_file.exists() or len(pids_file.read_text().split()) < 4
        ):
            time.sleep(0.01)
    finally:
        daemon.kill()
        daemon.wait()
    tree_pids = [int(p) for p in pids_file.read_text().split()]
    assert len(tree_pids) == 4 and all(pid_alive(p) for p in tree_pids)
    records = sorted((state_dir / "runtime").glob("*/*/*.json"))
    assert records and all(r.stat().st_mode & 0o777 == 0o600 for r in records)
    for folder in ("runtime", "runtime/default", "logs", "logs/default", "logs/default/left-1"):
        assert (state_dir / folder).stat().st_mode & 0o777 == 0o700, folder
    ports = {
        p.parent.name: json.loads(p.read_text())["ports"]["80"]
        for p in (state_dir / "runtime").glob("*/*/pod.json")
    }
    mains = {pod: shim_record(state_dir, pod)["child"]["pid"] for pod in ("left-1", "left-2")}

    async def restart() -> None:
        rt = runtime(state_dir)
        await rt.start()
        for name in ("left-1", "left-2"):
            pod = pod_of(rt, name)
            assert pod is not None and pod.ready and pod.restarts == 0
            assert pod.ports["80"] == ports[name]
        assert all(pid_alive(p) for p in tree_pids)
        await rt.close()

    asyncio.run(restart())
    assert set(mains.values()) <= set(tree_pids)
    assert not any(pid_alive(p) for p in tree_pids)
    assert not list((state_dir / "runtime").glob("*/*"))
    assert not list((state_dir / "logs").glob("*/*"))


def test_detached_pods_are_adopted_ready_and_their_probes_go_on(
    state_dir: Path, tmp_path: Path
) -> None:
    """detach() leaves the pod running; the next runtime reports it Ready at once (no flap to
    not-Ready that would empty the endpoints), and its readiness probe still governs it."""
    marker = tmp_path / "healthy"
    marker.touch()
    probe = {"exec": {"command": ["test", "-f", str(marker)]}, "periodSeconds": 0.2}
    spec = pod_spec("probed", container(**py(SLEEP), readinessProbe=probe), base_dir=tmp_path)

    async def first() -> None:
        rt = runtime(state_dir)
        await rt.start()
        await rt.start_pod(spec)
        await wait_until(lambda: (p := pod_of(rt, "probed")) is not None and p.ready)
        await rt.detach()

    asyncio.run(first())
    main = shim_record(state_dir, "probed")["child"]["pid"]
    assert pid_alive(main)

    async def second() -> None:
        rt = runtime(state_dir)
        await rt.start()
        try:
            pod = pod_of(rt, "probed")
            assert pod is not None and pod.ready and pod.restarts == 0
            assert shim_record(state_dir, "probed")["child"]["pid"] == main
            marker.unlink()
            await wait_until(lambda: not pod_of(rt, "probed").ready, timeout=5)  # type: ignore[union-attr]
        finally:
            await rt.close()

    asyncio.run(second())
    assert not pid_alive(main)


@pytest.mark.parametrize("victim", ["container", "shim"])
def test_a_container_that_died_while_no_daemon_ran_is_restarted(
    state_dir: Path, tmp_path: Path, victim: str
) -> None:
    """Killed while nobody watched: the next runtime restarts it (restart count 1), and says
    how it ended: its exit code, or ContainerStatusUnknown when its shim died with it."""
    spec = pod_spec("lonely", container(**py(SLEEP)), base_dir=tmp_path, grace=1)

    async def first() -> None:
        rt = runtime(state_dir)
        await rt.start()
        await rt.start_pod(spec)
        await wait_until(lambda: (p := pod_of(rt, "lonely")) is not None and p.ready)
        await rt.detach()

    asyncio.run(first())
    record = shim_record(state_dir, "lonely")
    main, shim = record["child"]["pid"], record["shim"]["pid"]
    os.kill(shim if victim == "shim" else main, signal.SIGKILL)
    exit_file = state_dir / "runtime" / "default" / "lonely" / "app.exit.json"
    if victim == "container":
        deadline = time.monotonic() + 5
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)

    async def second() -> tuple[int, str, int | None]:
        rt = runtime(state_dir)
        await rt.start()
        try:
            await wait_until(
                lambda: (p := pod_of(rt, "lonely")) is not None and p.ready and p.restarts == 1
            )
            status = pod_of(rt, "lonely")
            assert status is not None
            assert not pid_alive(main)  # with its shim gone, the runtime stopped it
            c = status.containers[0]
            return c.restart_count, c.last_reason, c.last_exit_code
        finally:
            await rt.close()

    restarts, reason, code = asyncio.run(second())
    assert restarts == 1
    if victim == "container":
        assert (reason, code) == ("Error", 137)
    else:
        assert reason == "ContainerStatusUnknown"


def bystander() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )


def forged_shim_record(path: Path, process: subprocess.Popen[bytes]) -> None:
    """A record naming ``process``'s pid but another start time (the pid was reused)."""
    start = (process_start_time(process.pid) or 1) - 1
    entry = {"pid": process.pid, "start_time": start}
    write_private_json(
        path,
        {
            "format": 1,
            "boot_id": boot_id(),
            "shim": entry,
            "child": {**entry, "pgid": process.pid},
            "started_at": time.time(),
        },
    )


@pytest.mark.parametrize("pod_json", ["valid", "corrupt"])
def test_a_reused_pid_is_neither_adopted_nor_killed(
    state_dir: Path, tmp_path: Path, pod_json: str
) -> None:
    """Records whose pids now belong to other processes: nothing is adopted or killed; a pod
    whose pod.json is unreadable is removed and logged as not adopted."""
    stranger = bystander()
    try:
        spec = pod_spec("reused", container(**py(SLEEP)), base_dir=tmp_path, grace=1)

        async def first() -> None:
            rt = runtime(state_dir)
            await rt.start()
            await rt.start_pod(spec)
            await wait_until(lambda: (p := pod_of(rt, "reused")) is not None and p.ready)
            await rt.close()  # the real processes are gone; now forge records of that pod
            await rt.start_pod(spec)
            await wait_until(lambda: (p := pod_of(rt, "reused")) is not None and p.ready)
            await rt.detach()

        asyncio.run(first())
        pod_dir = state_dir / "runtime" / "default" / "reused"
        real = shim_record(state_dir, "reused")
        os.kill(real["shim"]["pid"], signal.SIGKILL)
        os.kill(real["child"]["pid"], signal.SIGKILL)
        (pod_dir / "app.exit.json").unlink(missing_ok=True)
        forged_shim_record(pod_dir / "app.shim.json", stranger)
        if pod_json == "corrupt":
            (pod_dir / "pod.json").write_text("{not json")

        async def second() -> list[str]:
            rt = runtime(state_dir)
            with capture_logs() as logs:
                await rt.start()
            try:
                return [e["event"] for e in logs]
            finally:
                await rt.close()

        events = asyncio.run(second())
        assert stranger.poll() is None  # never killed
        if pod_json == "corrupt":
            assert "pod_not_adopted" in events
            assert not pod_dir.exists()
        else:
            assert "container_lost" in events
    finally:
        stranger.kill()
        stranger.wait()


def test_records_of_an_older_format_are_stopped_and_replaced(state_dir: Path) -> None:
    """Format 0 (no format.json; from before pods outlived the daemon): its recorded process
    is stopped, the records replaced, and the runtime says so."""
    old = bystander()
    try:
        ProcessRecord.of(old.pid).save(
            state_dir / "runtime" / "default" / "old-1" / "app.proc.json"
        )
        write_private_json(
            state_dir / "runtime" / "default" / "old-1" / "pod.json",
            {"name": "old-1", "namespace": "default", "containers": ["app"]},
        )

        async def start() -> list[dict[str, Any]]:
            rt = runtime(state_dir)
            with capture_logs() as logs:
                await rt.start()
            await rt.close()
            return logs

        logs = asyncio.run(start())
        assert old.wait(5) == -signal.SIGKILL
        replaced = [e for e in logs if e["event"] == "runtime_records_replaced"]
        assert replaced and replaced[0]["found_format"] == 0
        assert json.loads((state_dir / "runtime" / "format.json").read_text()) == {"format": 1}
    finally:
        old.kill()
        old.wait()


def test_records_of_a_newer_format_refuse_the_start_and_touch_nothing(state_dir: Path) -> None:
    """A downgrade: the runtime cannot know what a newer one left, so it refuses, saying why."""
    write_private_json(state_dir / "runtime" / "format.json", {"format": 99})
    pod = state_dir / "runtime" / "default" / "new-1" / "pod.json"
    write_private_json(pod, {"format": 99})

    async def start() -> None:
        await runtime(state_dir).start()

    with pytest.raises(NewerRecordsError, match=r"newer reconciler .*format 99"):
        asyncio.run(start())
    assert pod.exists()


def test_a_reused_pid_is_not_killed(state_dir: Path) -> None:
    """A format-0 record whose pid now belongs to a process with another start time is left
    alone by the legacy cleaner."""
    stranger = bystander()
    try:
        real = ProcessRecord.of(stranger.pid)
        forged = ProcessRecord(
            pid=real.pid, pgid=real.pid, start_time=real.start_time - 1, boot_id=real.boot_id
        )
        forged.save(state_dir / "runtime" / "default" / "old-1" / "app.proc.json")
        clean_leftovers(state_dir)
        assert stranger.poll() is None
        assert not (state_dir / "runtime").exists()
    finally:
        os.kill(stranger.pid, signal.SIGKILL)
        stranger.wait()


def test_a_shim_still_starting_is_waited_for_and_adopted(state_dir: Path, tmp_path: Path) -> None:
    """A shim holds its lock from the first instant but writes its record a moment later (a
    daemon killed in between): the next runtime waits for the record and adopts the shim
    instead of starting a second instance of the container."""
    spec = pod_spec("young", container(**py(SLEEP)), base_dir=tmp_path, grace=1)

    async def first() -> None:
        rt = runtime(state_dir)
        await rt.start()
        await rt.start_pod(spec)
        await wait_until(lambda: (p := pod_of(rt, "young")) is not None and p.ready)
        await rt.detach()

    asyncio.run(first())
    record_file = state_dir / "runtime" / "default" / "young" / "app.shim.json"
    record = record_file.read_text()
    main = json.loads(record)["child"]["pid"]
    record_file.unlink()  # as if the shim had not written it yet; it still holds the lock
    writer = threading.Timer(0.5, record_file.write_text, args=(record,))
    writer.start()

    async def second() -> tuple[int, int]:
        rt = runtime(state_dir)
        await rt.start()
        try:
            pod = pod_of(rt, "young")
            assert pod is not None
            return json.loads(record_file.read_text())["child"]["pid"], pod.restarts
        finally:
            await rt.close()

    try:
        assert asyncio.run(second()) == (main, 0)
    finally:
        writer.cancel()
    assert not pid_alive(main)
