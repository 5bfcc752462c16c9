"""Helpers for isolation tests: pod specs with volumes and config, and host-leftover checks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reconciler.defaults import default_pod_template
from reconciler.runtime import PodConfig, PodSpec
from reconciler.runtime.isolation import cgroups


def isolated_pod(
    name: str,
    *containers: dict[str, Any],
    base_dir: Path,
    volumes: list[dict[str, Any]] | None = None,
    config: PodConfig | None = None,
    grace: float = 5,
) -> PodSpec:
    template = default_pod_template(
        {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": list(containers),
                "volumes": volumes or [],
                "terminationGracePeriodSeconds": grace,
            },
        }
    )
    return PodSpec(
        name=name,
        namespace="default",
        owner="web-abc",
        labels={"app": "web"},
        template=template,
        base_dir=base_dir,
        config=config or PodConfig(),
    )


def mounts_under(path: Path) -> list[str]:
    """Mount points of the host's (this process's) namespace at or under ``path``."""
    root = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = line.split()[4]
            if point == root or point.startswith(root + "/"):
                out.append(point)
    return out


def cgroup_dirs(state_dir: Path) -> list[Path]:
    """This state directory's cgroup directories that still exist (every controller)."""
    hierarchy, _ = cgroups.detect()
    if hierarchy is None:
        return []
    return [top for top in hierarchy.top(state_dir) if top.exists()]


def require_isolation() -> None:
    """Skip, saying why, where the platform lacks cgroups or mount namespaces (never here)."""
    import pytest

    from reconciler.runtime.isolation.capabilities import detect

    found = detect()
    if not found.cgroups:
        pytest.skip(f"no usable cgroups: {found.cgroup_problem}")
    if not found.mount_namespace:
        pytest.skip(found.mount_problem)
