"""Isolated pods outlive the runtime too: the next one adopts their volumes, cgroups and places."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
from isolation_helpers import cgroup_dirs, isolated_pod, mounts_under, require_isolation
from runtime_helpers import container, pid_alive, pod_of, py, wait_until

from reconciler.runtime import ContainerState, PodPhase
from reconciler.runtime.isolation.pods import Isolation
from reconciler.runtime.isolation.schedule import Resources
from reconciler.runtime.process import ProcessRuntime

SLEEP = "import time; time.sleep(60)"


def runtime(state_dir: Path, **options: object) -> ProcessRuntime:
    return ProcessRuntime(state_dir, backoff_initial=0.2, backoff_max=0.8, **options)  # type: ignore[arg-type]


def child_pid(state_dir: Path, pod: str) -> int:
    record = json.loads((state_dir / "runtime" / "default" / pod / "app.shim.json").read_text())
    return int(record["child"]["pid"])


@pytest.mark.usefixtures("_needs_isolation")
def test_an_adopted_pod_keeps_its_mounts_and_cgroup_and_an_oom_after_adoption_is_reported(
    state_dir: Path, tmp_path: Path
) -> None:
    """Detached with a volume at a mountPath the host lacks and a memory limit: the next runtime
    adopts the same process (its mount namespace and cgroup untouched), reports an OOM kill that
    happens after the adoption as OOMKilled, and ``close`` removes the mounts and cgroups."""
    trigger = tmp_path / "hog-now"
    code = (
        "import os, time\n"
        "open('/var/scratch/note', 'w').write('kept')\n"
        f"while not os.path.exists({str(trigger)!r}): time.sleep(0.05)\n"
        f"os.unlink({str(trigger)!r})\n"
        "hog = bytearray(200 * 2**20)\n"
        "time.sleep(60)\n"
    )
    spec = isolated_pod(
        "iso-1",
        container(
            "app",
            **py(code),
            resources={"limits": {"memory": "50Mi"}},
            volumeMounts=[{"name": "scratch", "mountPath": "/var/scratch"}],
        ),
        volumes=[{"name": "scratch", "emptyDir": {}}],
        base_dir=tmp_path,
    )

    async def first() -> None:
        rt = runtime(state_dir)
        await rt.start()
        await rt.start_pod(spec)
        # written at /var/scratch inside its namespace: the wrapper has mounted and exec'ed
        await wait_until(lambda: note.exists())
        await rt.detach()

    note = state_dir / "volumes" / "default" / "iso-1" / "scratch" / "note"
    asyncio.run(first())
    main = child_pid(state_dir, "iso-1")
    assert pid_alive(main)
    assert cgroup_dirs(state_dir) != []
    namespace = os.readlink(f"/proc/{main}/ns/mnt")

    async def second() -> tuple[str, int | None, int, bool]:
        rt = runtime(state_dir)
        await rt.start()
        try:
            adopted = pod_of(rt, "iso-1")
            assert adopted is not None and adopted.restarts == 0
            same = child_pid(state_dir, "iso-1") == main and pid_alive(main)
            same = same and os.readlink(f"/proc/{main}/ns/mnt") == namespace
            same = same and note.read_text() == "kept"
            trigger.touch()
            pod = await wait_until(
                lambda: (
                    (p := pod_of(rt, "iso-1"))
                    and p.containers[0].restart_count == 1
                    and p.containers[0].state is ContainerState.RUNNING
                    and p
                ),
                timeout=20,
            )
            c = pod.containers[0]
            return c.last_reason, c.last_exit_code, c.restart_count, same
        finally:
            await rt.close()

    reason, code_, restarts, same = asyncio.run(second())
    assert same
    assert (reason, code_, restarts) == ("OOMKilled", 137, 1)
    assert cgroup_dirs(state_dir) == []
    assert mounts_under(state_dir) == []
    assert not (state_dir / "volumes").exists()


def test_a_pod_pending_across_a_detach_stays_pending_and_is_placed_once_room_is_made(
    state_dir: Path, tmp_path: Path
) -> None:
    """A pod the scheduler held is not started by the next runtime without a place: it stays
    Pending (placed after the adopted pods, whatever its name, so their requests count), and
    runs once room is made."""
    node = Isolation(state_dir, capacity=Resources(cpu_millis=2000, memory=2**30))

    def pod(name: str, memory: str) -> object:
        return isolated_pod(
            name,
            container("app", **py(SLEEP), resources={"requests": {"memory": memory}}),
            base_dir=tmp_path,
        )

    async def first() -> None:
        rt = runtime(state_dir, isolation=node)
        await rt.start()
        await rt.start_pod(pod("zbig", "700Mi"))  # type: ignore[arg-type]
        await rt.start_pod(pod("aheld", "500Mi"))  # type: ignore[arg-type]
        await wait_until(lambda: (p := pod_of(rt, "zbig")) and p.ready)
        assert pod_of(rt, "aheld").phase is PodPhase.PENDING  # type: ignore[union-attr]
        await rt.detach()

    asyncio.run(first())
    assert not (state_dir / "runtime" / "default" / "aheld" / "app.shim.json").exists()

    async def second() -> tuple[object, object]:
        again = Isolation(state_dir, capacity=Resources(cpu_millis=2000, memory=2**30))
        rt = runtime(state_dir, isolation=again)
        await rt.start()
        try:
            held = pod_of(rt, "aheld")
            await rt.stop_pod("zbig")
            placed = await wait_until(
                lambda: (p := pod_of(rt, "aheld")) and p.phase is PodPhase.RUNNING and p,
                timeout=10,
            )
            return held, placed
        finally:
            await rt.close()

    held, placed = asyncio.run(second())
    assert held.phase is PodPhase.PENDING  # type: ignore[attr-defined]
    assert held.unschedulable.startswith("0/1 nodes are available: 1 Insufficient memory.")  # type: ignore[attr-defined]
    assert placed.unschedulable == ""  # type: ignore[attr-defined]


@pytest.fixture
def _needs_isolation() -> None:
    require_isolation()


@pytest.mark.usefixtures("_needs_isolation")
def test_an_oom_kill_while_no_daemon_ran_is_reported_by_the_next_one(
    state_dir: Path, tmp_path: Path
) -> None:
    """The container passes its memory limit while no runtime watches: the next runtime
    restarts it and says Last State OOMKilled / 137, as if it had watched."""
    trigger = tmp_path / "hog-now"
    code = (
        "import os, time\n"
        f"while not os.path.exists({str(trigger)!r}): time.sleep(0.05)\n"
        f"os.unlink({str(trigger)!r})\n"
        "hog = bytearray(200 * 2**20)\n"
        "time.sleep(60)\n"
    )
    spec = isolated_pod(
        "iso-2",
        container("app", **py(code), resources={"limits": {"memory": "50Mi"}}),
        base_dir=tmp_path,
    )

    async def first() -> None:
        rt = runtime(state_dir)
        await rt.start()
        await rt.start_pod(spec)
        await wait_until(
            lambda: (p := pod_of(rt, "iso-2")) and p.containers[0].state is ContainerState.RUNNING
        )
        await rt.detach()

    asyncio.run(first())
    exit_file = state_dir / "runtime" / "default" / "iso-2" / "app.exit.json"
    trigger.touch()
    deadline = time.monotonic() + 20
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert exit_file.exists()

    async def second() -> tuple[str, int | None, int]:
        rt = runtime(state_dir)
        await rt.start()
        try:
            pod = await wait_until(
                lambda: (p := pod_of(rt, "iso-2")) and p.containers[0].restart_count == 1 and p,
                timeout=20,
            )
            c = pod.containers[0]
            return c.last_reason, c.last_exit_code, c.restart_count
        finally:
            await rt.close()

    assert asyncio.run(second()) == ("OOMKilled", 137, 1)
    assert cgroup_dirs(state_dir) == []
