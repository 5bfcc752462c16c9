"""A pod that outlives its daemon is adopted: same volumes, same cgroups, requests counted."""

from __future__ import annotations

from pathlib import Path

from reconciler.runtime import PodConfig
from reconciler.runtime.isolation.pods import Isolation
from reconciler.runtime.isolation.schedule import Resources
from tests.runtime.isolation_helpers import (
    cgroup_dirs,
    isolated_pod,
    mounts_under,
    require_isolation,
)


def test_adoption_finds_what_setup_made_and_teardown_removes_it(
    state_dir: Path, tmp_path: Path
) -> None:
    """A second Isolation adopts the pod without mounting or writing again, counts its
    requests for the scheduler, and its teardown leaves nothing behind."""
    require_isolation()
    spec = isolated_pod(
        "web-1",
        {
            "name": "app",
            "image": "a:1",
            "resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "32Mi"}},
        },
        base_dir=tmp_path,
        volumes=[
            {"name": "mem", "emptyDir": {"medium": "Memory"}},
            {"name": "cfg", "configMap": {"name": "c"}},
        ],
        config=PodConfig(config_maps={"c": {"k": b"v"}}),
    )
    capacity = Resources(cpu_millis=1000, memory=64 * 2**20)
    first = Isolation(state_dir, capacity=capacity)
    made = first.prepare(spec, tmp_path / "rt")
    assert made.error == ""
    second = Isolation(state_dir, capacity=capacity)
    try:
        adopted = second.adopt(spec, tmp_path / "rt")
        assert adopted.volumes == made.volumes
        assert {n: g.leaves for n, g in adopted.cgroups.items()} == {
            n: g.leaves for n, g in made.cgroups.items()
        }
        assert len(mounts_under(state_dir)) == 1  # the tmpfs once, not twice
        bigger = isolated_pod(
            "web-2",
            {"name": "app", "image": "a:1", "resources": {"requests": {"memory": "40Mi"}}},
            base_dir=tmp_path,
        )
        assert "Insufficient memory" in second.admit(bigger)
    finally:
        second.adopt(spec, tmp_path / "rt").teardown()
    assert mounts_under(state_dir) == []
    assert cgroup_dirs(state_dir) == []
    assert not (state_dir / "volumes").exists()
