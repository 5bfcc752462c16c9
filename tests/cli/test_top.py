"""``top``: kubectl's columns and units, and its words when a pod has no metrics."""

from __future__ import annotations

import pytest
from test_read_world import World, world_fixture  # noqa: F401 - the world fixture

from reconciler.cli import top


def test_top_pods_table(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """NAME, CPU(cores) in whole millicores, MEMORY(bytes) in Mi; --sort-by cpu largest first;
    --containers one line per container."""
    world.deployment()
    rs = world.revision(replicas=2)
    a, b = world.pod(rs, "aaaaa"), world.pod(rs, "bbbbb")
    monkeypatch.setattr(top, "_root_pid", lambda state, pod, container: 1)
    usage = {(a.name, "web"): (2.4, 30 * 2**20 + 5), (b.name, "web"): (250.0, 12 * 2**20)}
    monkeypatch.setattr(top, "_measure", lambda containers: usage)
    assert world.cli("top", "pods", "--sort-by", "cpu") == 0
    assert capsys.readouterr().out == (
        f"{'NAME':<{len(b.name) + 3}}CPU(cores)   MEMORY(bytes)\n"
        f"{b.name}   250m         12Mi\n"
        f"{a.name}   2m           30Mi\n"
    )
    assert world.cli("top", "pod", a.name, "--containers", "--no-headers") == 0
    assert capsys.readouterr().out == f"{a.name}   web   2m   30Mi\n"


def test_top_pod_without_metrics(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A pod with no running process: kubectl's `Metrics not available`; a missing pod: NotFound."""
    world.deployment()
    rs = world.revision(replicas=1)
    pod = world.pod(rs, "aaaaa")
    assert world.cli("top", "pod", pod.name) == 1
    assert capsys.readouterr().err == (
        f"error: Metrics not available for pod default/{pod.name}, age: 3h\n"
    )
    assert world.cli("top", "pod", "nope") == 1
    assert capsys.readouterr().err == 'Error from server (NotFound): pods "nope" not found\n'


def test_top_node_columns(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """`top node`: localhost with CPU and memory, absolute and in percent."""
    assert world.cli("top", "node", "--no-headers") == 0
    name, cpu, cpu_share, memory, memory_share = capsys.readouterr().out.split()
    assert name == "localhost"
    assert cpu.endswith("m") and cpu_share.endswith("%")
    assert memory.endswith("Mi") and memory_share.endswith("%")
