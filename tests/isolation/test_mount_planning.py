"""The mount plan: binds over what exists, shadows of the nearest parent for what does not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.runtime.isolation.mounts import (
    Bind,
    MakePath,
    Mount,
    MountPathError,
    Shadow,
    check_mount_path,
    plan_mounts,
)

HOST = {"/", "/etc", "/etc/ssl", "/srv", "/srv/www", "/tmp", "/v/a", "/v/b", "/v/a/sub"}


def plan(*mounts: Mount, host: set[str] = HOST) -> list[object]:
    return list(plan_mounts(list(mounts), exists=host.__contains__))


@pytest.mark.parametrize(
    ("mounts", "expected"),
    [
        pytest.param(
            [Mount("/v/a", "/srv/www")],
            [Bind("/v/a", "/srv/www")],
            id="existing target: a plain bind",
        ),
        pytest.param(
            [Mount("/v/a", "/etc/config", read_only=True)],
            [Shadow("/etc"), MakePath("/etc/config"), Bind("/v/a", "/etc/config", True)],
            id="missing target: shadow the parent",
        ),
        pytest.param(
            [Mount("/v/a", "/data/x/y")],
            [Shadow("/"), MakePath("/data/x/y"), Bind("/v/a", "/data/x/y")],
            id="missing under the root: the root is shadowed",
        ),
        pytest.param(
            [Mount("/v/a", "/etc/a"), Mount("/v/b", "/etc/b")],
            [
                Shadow("/etc"),
                MakePath("/etc/a"),
                Bind("/v/a", "/etc/a"),
                MakePath("/etc/b"),
                Bind("/v/b", "/etc/b"),
            ],
            id="one shadow per parent",
        ),
        pytest.param(
            [Mount("/v/b", "/etc/config/sub"), Mount("/v/a", "/etc/config")],
            [
                Shadow("/etc"),
                MakePath("/etc/config"),
                Bind("/v/a", "/etc/config"),
                Bind("/v/b", "/etc/config/sub"),
            ],
            id="nested: parents first, the child exists in the parent's volume",
        ),
        pytest.param(
            [Mount("/v/a", "/etc/config"), Mount("/v/b", "/etc/config/new")],
            [
                Shadow("/etc"),
                MakePath("/etc/config"),
                Bind("/v/a", "/etc/config"),
                Shadow("/etc/config"),
                MakePath("/etc/config/new"),
                Bind("/v/b", "/etc/config/new"),
            ],
            id="never write into a volume: shadow it",
        ),
        pytest.param(
            [Mount("/v/f.conf", "/etc/app.conf", is_file=True)],
            [
                Shadow("/etc"),
                MakePath("/etc/app.conf", is_file=True),
                Bind("/v/f.conf", "/etc/app.conf", is_file=True),
            ],
            id="a file target is created as a file",
        ),
    ],
)
def test_plan(mounts: list[Mount], expected: list[object]) -> None:
    """Each case's steps, in order."""
    assert plan(*mounts) == expected


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        pytest.param("etc/x", "absolute", id="relative"),
        pytest.param("/etc/../x", "'..'", id="dot-dot"),
        pytest.param("/a:b", "':'", id="colon"),
    ],
)
def test_mount_paths_that_could_escape_are_refused(path: str, problem: str) -> None:
    """Relative, '..' and ':' mount paths never reach the planner."""
    with pytest.raises(MountPathError, match=problem):
        check_mount_path(path)


segment = st.sampled_from(["etc", "srv", "www", "a", "b", "conf"])
target = st.lists(segment, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


@given(st.lists(target, min_size=1, max_size=5, unique=True))
def test_every_target_is_bound_once_and_nothing_is_made_outside_a_shadow(
    targets: list[str],
) -> None:
    """Invariant: one Bind per mount; every MakePath lies under an earlier Shadow; a bind's
    parent exists (host, shadow or made) when it runs."""
    steps = plan(*(Mount("/v/a", t) for t in targets))
    binds = [s.target for s in steps if isinstance(s, Bind)]
    assert sorted(binds) == sorted(targets)
    shadows: list[str] = []
    for step in steps:
        if isinstance(step, Shadow):
            shadows.append(step.path)
        elif isinstance(step, MakePath):
            assert any(step.path.startswith(s.rstrip("/") + "/") for s in shadows), (
                f"{step.path} made outside a shadow"
            )
