"""``logs -l``, ``--prefix``, ``--all-containers``, ``--max-log-requests``: multi-stream logs."""

from __future__ import annotations

import pytest
from test_read_logs import _runtime_files
from test_read_world import World, container, world_fixture  # noqa: F401 - the world fixture


def _two_pods(world: World) -> tuple[str, str]:
    world.deployment("web")
    world.deployment("api")
    web = world.revision("web", replicas=2)
    api = world.revision("api", image="api:1", replicas=1)
    first, second = world.pod(web, "aaaaa").name, world.pod(web, "bbbbb").name
    other = world.pod(api, "ccccc").name
    lines = "".join(f"line {i}\n" for i in range(12)).encode()
    _runtime_files(world, first, {"web": lines})
    _runtime_files(world, second, {"web": b"second\n"})
    _runtime_files(world, other, {"api": b"not this\n"})
    return first, second


def test_logs_selector_prints_each_matching_pod_with_prefix(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pods by name, the last 10 lines each (kubectl's default with -l), each line prefixed."""
    first, second = _two_pods(world)
    assert world.cli("logs", "-l", "app=web", "--prefix") == 0
    expected = "".join(f"[pod/{first}/web] line {i}\n" for i in range(2, 12))
    expected += f"[pod/{second}/web] second\n"
    assert capsys.readouterr().out == expected


def test_logs_selector_tail_and_no_prefix(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """An explicit --tail wins over the selector default; without --prefix lines are bare."""
    _two_pods(world)
    assert world.cli("logs", "-l", "app=web", "--tail", "1") == 0
    assert capsys.readouterr().out == "line 11\nsecond\n"


def test_logs_follow_more_streams_than_allowed(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Following more pods than --max-log-requests is kubectl's error, exit 1."""
    _two_pods(world)
    assert world.cli("logs", "-l", "app=web", "-f", "--max-log-requests", "1") == 1
    assert capsys.readouterr().err == (
        "error: you are attempting to follow 2 log streams, but maximum allowed concurrency "
        "is 1, use --max-log-requests to increase the limit\n"
    )


def test_logs_all_containers(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """--all-containers prints every container of the pod, in the pod's order."""
    world.deployment()
    rs = world.revision(replicas=1)
    pod = world.pod(rs, "aaaaa", containers=(container("web"), container("sidecar")))
    _runtime_files(world, pod.name, {"web": b"w\n", "sidecar": b"s\n"})
    assert world.cli("logs", pod.name, "--all-containers", "--prefix") == 0
    assert capsys.readouterr().out == f"[pod/{pod.name}/web] w\n[pod/{pod.name}/sidecar] s\n"


def test_logs_selector_matching_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """No pod matches: kubectl's `No resources found` on stderr, exit 0."""
    world.deployment()
    assert world.cli("logs", "-l", "app=none") == 0
    assert capsys.readouterr().err == "No resources found in default namespace.\n"


def test_logs_needs_a_target_or_selector(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Neither a pod nor -l is a usage error (exit 2)."""
    world.deployment()
    assert world.cli("logs") == 2
    assert "expected POD, TYPE/NAME or -l SELECTOR" in capsys.readouterr().err
