"""Quantities, the kubelet's cgroup arithmetic, detection and a v2 tree on a fake cgroupfs."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from reconciler.runtime.isolation import cgroups
from reconciler.runtime.isolation.quantity import (
    QuantityError,
    cpu_millis,
    format_memory,
    memory_bytes,
    parse_quantity,
)
from reconciler.runtime.isolation.schedule import (
    Resources,
    container_limits,
    pod_requests,
    unschedulable,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("50Mi", 50 * 2**20, id="binary"),
        pytest.param("1G", 10**9, id="decimal"),
        pytest.param("500m", Fraction(1, 2), id="milli"),
        pytest.param("1.5Gi", 3 * 2**29, id="fraction of a binary unit"),
        pytest.param("2e3", 2000, id="exponent"),
        pytest.param(3, 3, id="a YAML number"),
    ],
)
def test_quantities_parse_exactly(text: object, value: object) -> None:
    """Every suffix form of resource.Quantity, exactly."""
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["50MB", "1.2.3", "", "Mi", True, "1e999999999", float("inf")])
def test_not_a_quantity(text: object) -> None:
    """What apimachinery rejects is a QuantityError."""
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_rounding_and_formatting() -> None:
    """Bytes and millicores round up (0.5 byte is 1; 100u is 1m); formatting picks the unit."""
    assert (memory_bytes("0.5"), cpu_millis("100u"), cpu_millis("0.1")) == (1, 1, 100)
    assert format_memory(64 * 2**20) == "64Mi"


@pytest.mark.parametrize(
    ("millis", "quota", "shares", "weight"),
    [
        pytest.param(1000, 100_000, 1024, 39, id="one cpu"),
        pytest.param(250, 25_000, 256, 10, id="a quarter"),
        pytest.param(5, 1_000, 5, 1, id="below the minimum quota"),
        pytest.param(300_000, 30_000_000, 262_144, 10_000, id="shares capped"),
    ],
)
def test_cpu_arithmetic_is_the_kubelets(millis: int, quota: int, shares: int, weight: int) -> None:
    """MilliCPUToQuota, MilliCPUToShares and the OCI shares→weight mapping."""
    assert cgroups.cfs_quota(millis) == quota
    assert cgroups.cpu_shares(millis) == shares
    assert cgroups.cpu_weight(cgroups.cpu_shares(millis)) == weight


def test_requests_default_to_limits_and_sum_over_containers() -> None:
    """A container with only limits reserves them; requests win where given."""
    template = {
        "spec": {
            "containers": [
                {"resources": {"limits": {"memory": "50Mi", "cpu": "1"}}},
                {"resources": {"requests": {"memory": "10Mi"}, "limits": {"cpu": "2"}}},
                {},
            ]
        }
    }
    assert pod_requests(template) == Resources(cpu_millis=3000, memory=60 * 2**20)
    limits = container_limits(template["spec"]["containers"][0])
    assert (limits.memory, limits.cpu_limit_millis, limits.cpu_request_millis) == (
        50 * 2**20,
        1000,
        1000,
    )


def test_the_schedulers_message_lists_each_insufficient_resource_sorted() -> None:
    """cpu before memory; nothing when it fits exactly."""
    capacity = Resources(2000, 2**30)
    both = unschedulable(Resources(2001, 2**30 + 1), used=Resources(), capacity=capacity)
    assert both == (
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption: 0/1 "
        "nodes are available: 1 No preemption victims found for incoming pod."
    )
    assert (
        unschedulable(Resources(1000, 2**29), used=Resources(1000, 2**29), capacity=capacity) == ""
    )


def test_state_ids_differ_per_state_directory(tmp_path: Path) -> None:
    """Two state directories never share cgroup names; one is stable."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert cgroups.state_id(a) != cgroups.state_id(b)
    assert cgroups.state_id(a) == cgroups.state_id(tmp_path / "x" / ".." / "a")


def _fake_v2(root: Path, *, own: str, delegated: bool) -> None:
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("cpu memory\n")
    here = root
    for part in own.strip("/").split("/"):
        here = here / part
        here.mkdir()
        (here / "cgroup.subtree_control").write_text("cpu memory\n" if delegated else "")
        (here / "cgroup.controllers").write_text("cpu memory\n")


def test_v2_detection_climbs_to_a_cgroup_that_delegates(tmp_path: Path) -> None:
    """The daemon's own v2 cgroup delegates: it is the base; else the nearest ancestor that does."""
    _fake_v2(tmp_path, own="/user.slice/app", delegated=True)
    hierarchy, problem = cgroups.detect(tmp_path, "0::/user.slice/app\n")
    assert problem == ""
    assert hierarchy == cgroups.Hierarchy(cgroups.Version.V2, (("", tmp_path / "user.slice/app"),))
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    assert cgroups.detect(tmp_path, "0::/\n") == (
        None,
        f"cgroup v2 at {tmp_path} has no memory controller",
    )


def test_v2_container_cgroup_gets_memory_max_and_cpu_max(tmp_path: Path) -> None:
    """On a fake v2 tree: every level delegates, the leaf holds memory.max, cpu.max, weight."""
    _fake_v2(tmp_path, own="/svc", delegated=True)
    hierarchy, _ = cgroups.detect(tmp_path, "0::/svc\n")
    assert hierarchy is not None
    state = tmp_path / "state"
    leaves = hierarchy.leaves(state, "default", "web-1", "app")
    group = cgroups.ContainerCgroup(hierarchy, leaves, hierarchy.top(state))
    # a fake cgroupfs creates no control files; writing them creates them
    group.create(
        cgroups.ContainerLimits(memory=50 * 2**20, cpu_limit_millis=500, cpu_request_millis=250)
    )
    leaf = leaves[0]
    assert (leaf / "memory.max").read_text() == str(50 * 2**20)
    assert (leaf / "cpu.max").read_text() == "50000 100000"
    assert (leaf / "cpu.weight").read_text() == "10"
    top = hierarchy.top(state)[0]
    assert (top / "cgroup.subtree_control").read_text() == "+memory +cpu"
    (leaf / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert group.oom_kills() == 1


def test_v1_oom_count_reads_oom_control(tmp_path: Path) -> None:
    """v1: the oom_kill line of memory.oom_control, else failcnt on old kernels."""
    memory, cpu = tmp_path / "memory", tmp_path / "cpu"
    memory.mkdir()
    cpu.mkdir()
    hierarchy = cgroups.Hierarchy(cgroups.Version.V1, (("memory", memory), ("cpu", cpu)))
    group = cgroups.ContainerCgroup(hierarchy, [memory, cpu], [memory, cpu])
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert group.oom_kills() == 2
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\n")
    (memory / "memory.failcnt").write_text("5\n")
    assert group.oom_kills() == 5


def test_v1_detection_uses_the_daemons_own_cgroups(tmp_path: Path) -> None:
    """v1: the base of each controller is where /proc/self/cgroup puts the daemon."""
    for controller, own in (("memory", "a/b"), ("cpu", "")):
        base = tmp_path / controller / own
        base.mkdir(parents=True, exist_ok=True)
        (tmp_path / controller / "cgroup.procs").write_text("")
    hierarchy, problem = cgroups.detect(tmp_path, "4:memory:/a/b\n2:cpu,cpuacct:/\n0::/\n")
    assert problem == ""
    assert hierarchy == cgroups.Hierarchy(
        cgroups.Version.V1, (("memory", tmp_path / "memory/a/b"), ("cpu", tmp_path / "cpu"))
    )
    hierarchy, problem = cgroups.detect(tmp_path, "4:memory:/a/b\n0::/\n")
    assert hierarchy is None and "cpu" in problem
