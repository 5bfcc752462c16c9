"""Limits through cgroups and requests through the one-node scheduler, with real processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from isolation_helpers import cgroup_dirs, isolated_pod, require_isolation
from runtime_helpers import container, pod_of, py, run_with_runtime, wait_until

from reconciler.runtime import ContainerState, PodPhase
from reconciler.runtime.isolation import cgroups
from reconciler.runtime.isolation.pods import Isolation
from reconciler.runtime.isolation.schedule import Resources
from reconciler.runtime.process import ProcessRuntime
from reconciler.runtime.waiting import wait_gone

SLEEP = "import time; time.sleep(60)"
INSUFFICIENT_MEMORY = (
    "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: "
    "1 No preemption victims found for incoming pod."
)


@pytest.fixture
def _needs_isolation() -> None:
    require_isolation()


@pytest.mark.usefixtures("_needs_isolation")
def test_a_container_past_its_memory_limit_is_oom_killed_and_restarted(
    state_dir: Path, tmp_path: Path
) -> None:
    """limits.memory 50Mi, 200 MiB touched: Last State Terminated/OOMKilled/137, then Running."""
    marker = tmp_path / "ran-once"
    code = (
        "import os, time\n"
        f"if not os.path.exists({str(marker)!r}):\n"
        f"    open({str(marker)!r}, 'w').close()\n"
        "    hog = bytearray(200 * 2**20)\n"
        "time.sleep(60)\n"
    )
    spec = isolated_pod(
        "web-1",
        container("app", **py(code), resources={"limits": {"memory": "50Mi"}}),
        base_dir=tmp_path,
    )

    async def scenario(rt: ProcessRuntime) -> object:
        await rt.start_pod(spec)
        pod = await wait_until(
            lambda: (
                (p := pod_of(rt, "web-1"))
                and p.containers[0].restart_count == 1
                and p.containers[0].state is ContainerState.RUNNING
                and p
            ),
            timeout=20,
        )
        await rt.stop_pod("web-1")
        await wait_gone(rt, "web-1")
        return pod.containers[0]

    status = run_with_runtime(state_dir, scenario)
    assert status.last_reason == "OOMKilled"  # type: ignore[attr-defined]
    assert status.last_exit_code == 137  # type: ignore[attr-defined]
    assert cgroup_dirs(state_dir) == []


@pytest.mark.usefixtures("_needs_isolation")
def test_limits_are_written_to_the_containers_cgroup_and_it_runs_in_it(
    state_dir: Path, tmp_path: Path
) -> None:
    """cpu 500m → a 50 ms quota per 100 ms period; memory 64Mi; the process is in the leaf."""
    spec = isolated_pod(
        "web-2",
        container(
            "app",
            **py(SLEEP),
            resources={"limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"cpu": "250m"}},
        ),
        base_dir=tmp_path,
    )
    hierarchy, _ = cgroups.detect()
    assert hierarchy is not None
    leaves = hierarchy.leaves(state_dir, "default", "web-2", "app")
    group = cgroups.ContainerCgroup(hierarchy, leaves, hierarchy.top(state_dir))

    async def scenario(rt: ProcessRuntime) -> dict[str, str]:
        await rt.start_pod(spec)
        await wait_until(
            lambda: (p := pod_of(rt, "web-2")) and p.containers[0].state is ContainerState.RUNNING
        )
        pids = await wait_until(group.pids)
        if hierarchy.version is cgroups.Version.V2:
            leaf = leaves[0]
            seen = {
                "memory": (leaf / "memory.max").read_text().strip(),
                "cpu": (leaf / "cpu.max").read_text().strip(),
                "weight": (leaf / "cpu.weight").read_text().strip(),
            }
        else:
            memory, cpu = (group.memory_leaf, next(p for p in leaves if p != group.memory_leaf))
            seen = {
                "memory": (memory / "memory.limit_in_bytes").read_text().strip(),
                "cpu": (cpu / "cpu.cfs_quota_us").read_text().strip()
                + " "
                + (cpu / "cpu.cfs_period_us").read_text().strip(),
                "weight": (cpu / "cpu.shares").read_text().strip(),
            }
        seen["member"] = str(len(pids))
        await rt.stop_pod("web-2")
        await wait_gone(rt, "web-2")
        return seen

    seen = run_with_runtime(state_dir, scenario)
    assert seen["memory"] == str(64 * 2**20)
    assert seen["cpu"] == "50000 100000"
    expected_weight = "256" if hierarchy.version is cgroups.Version.V1 else "10"
    assert seen["weight"] == expected_weight
    assert seen["member"] == "1"
    assert cgroup_dirs(state_dir) == []


def test_a_pod_whose_requests_do_not_fit_stays_pending_until_room_is_made(
    state_dir: Path, tmp_path: Path
) -> None:
    """700Mi placed on a 1Gi node; 500Mi more waits Pending with the scheduler's message, then
    runs once the first pod is gone."""
    node = Isolation(state_dir, capacity=Resources(cpu_millis=2000, memory=2**30))

    def pod(name: str) -> object:
        memory = "700Mi" if name == "web-a" else "500Mi"
        return isolated_pod(
            name,
            container("app", **py(SLEEP), resources={"requests": {"memory": memory}}),
            base_dir=tmp_path,
        )

    async def scenario(rt: ProcessRuntime) -> list[object]:
        await rt.start_pod(pod("web-a"))  # type: ignore[arg-type]
        await rt.start_pod(pod("web-b"))  # type: ignore[arg-type]
        held = pod_of(rt, "web-b")
        await rt.stop_pod("web-a")
        placed = await wait_until(
            lambda: (p := pod_of(rt, "web-b")) and p.phase is PodPhase.RUNNING and p, timeout=10
        )
        await rt.stop_pod("web-b")
        await wait_gone(rt, "web-b")
        return [held, placed]

    held, placed = run_with_runtime(state_dir, scenario, isolation=node)
    assert held.phase is PodPhase.PENDING  # type: ignore[attr-defined]
    assert held.unschedulable == INSUFFICIENT_MEMORY  # type: ignore[attr-defined]
    assert held.schedule_attempts == 1  # type: ignore[attr-defined]
    assert [c.reason for c in held.containers] == [""]  # type: ignore[attr-defined]
    assert placed.unschedulable == ""  # type: ignore[attr-defined]


def test_a_request_larger_than_the_host_is_unschedulable(state_dir: Path, tmp_path: Path) -> None:
    """requests.memory 100Ti and cpu 5000 on this host: both insufficient, sorted, Pending."""
    spec = isolated_pod(
        "web-c",
        container("app", **py(SLEEP), resources={"requests": {"memory": "100Ti", "cpu": "5000"}}),
        base_dir=tmp_path,
    )

    async def scenario(rt: ProcessRuntime) -> object:
        await rt.start_pod(spec)
        pod = pod_of(rt, "web-c")
        await rt.stop_pod("web-c")
        await wait_gone(rt, "web-c")
        return pod

    pod = run_with_runtime(state_dir, scenario)
    assert pod.phase is PodPhase.PENDING  # type: ignore[attr-defined]
    assert pod.unschedulable.startswith(  # type: ignore[attr-defined]
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption:"
    )


@pytest.mark.usefixtures("_needs_isolation")
def test_two_daemons_pods_of_one_name_never_share_a_cgroup(tmp_path: Path) -> None:
    """Two state directories, one pod name: two cgroup trees; stopping one leaves the other."""
    import asyncio

    states = [tmp_path / "a", tmp_path / "b"]
    for state in states:
        state.mkdir(mode=0o700)
    spec = isolated_pod(
        "web-1",
        container("app", **py(SLEEP), resources={"limits": {"memory": "64Mi"}}),
        base_dir=tmp_path,
    )

    async def main() -> tuple[int, int]:
        first, second = ProcessRuntime(states[0]), ProcessRuntime(states[1])
        for rt in (first, second):
            await rt.start()
            await rt.start_pod(spec)
        for rt in (first, second):
            await wait_until(
                lambda rt=rt: (
                    (p := pod_of(rt, "web-1")) and p.containers[0].state is ContainerState.RUNNING
                )
            )
        both = len(cgroup_dirs(states[0])) + len(cgroup_dirs(states[1]))
        await first.close()
        left = len(cgroup_dirs(states[1]))
        await second.close()
        return both, left

    both, left = asyncio.run(main())
    assert cgroups.state_id(states[0]) != cgroups.state_id(states[1])
    assert both >= 2 and left >= 1
    assert cgroup_dirs(states[0]) == [] and cgroup_dirs(states[1]) == []
