"""``get rollout NAME``: the Argo Rollouts plugin's tree, for a canary and a blue-green."""

from __future__ import annotations

import pytest
from test_read_world import (  # noqa: F401 - the world fixture
    World,
    complete_status,
    container,
    world_fixture,
)

from reconciler.runtime import ContainerState

STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]


def _tree(rows: list[tuple[str, str, str, str]], *, name_width: int) -> str:
    """The tree table with the NAME column padded as the tabwriter pads it."""
    kind_width = max(len(r[1]) for r in rows) + 2
    status_width = max(len(r[2]) for r in rows) + 2
    lines = []
    for name, kind, status, rest in rows:
        line = name.ljust(name_width) + kind.ljust(kind_width) + status.ljust(status_width) + rest
        lines.append(line.rstrip() + "\n")
    return "".join(lines)


def test_canary_tree(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Header with step and weights, revisions newest first, roles, pod states and readiness."""
    world.deployment(
        "demo",
        replicas=5,
        image="demo:red",
        strategy={"type": "Canary", "canary": {"steps": STEPS}},
    )
    r1 = world.revision("demo", image="demo:blue", replicas=0)
    r2 = world.revision("demo", image="demo:green", replicas=4)
    r3 = world.revision("demo", image="demo:red", replicas=1, ready=0)
    for suffix in ("bbbbb", "ccccc"):
        world.pod(r2, suffix)
    pulling = container(
        "demo", "demo:red", state=ContainerState.WAITING, ready=False, reason="ImagePullBackOff"
    )
    world.pod(r3, "xxxxx", ready=False, containers=(pulling,))
    status = complete_status(5, updatedReplicas=1, readyReplicas=4, availableReplicas=4)
    status["rollout"] = {
        "phase": "Paused",
        "message": "CanaryPauseStep",
        "currentPodHash": r3.hash,
        "stableRS": r2.hash,
        "currentStepIndex": 1,
        "setWeight": 20,
        "actualWeight": 20,
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": 0}],
    }
    world.status("demo", **status)
    assert world.cli("get", "rollout", "demo") == 0
    out = capsys.readouterr().out
    header, tree = out.split("\n\n")
    assert header + "\n" == (
        "Name:            demo\n"
        "Namespace:       default\n"
        "Status:          ॥ Paused\n"
        "Message:         CanaryPauseStep\n"
        "Strategy:        Canary\n"
        "  Step:          1/4\n"
        "  SetWeight:     20\n"
        "  ActualWeight:  20\n"
        "Images:          demo:green (stable)\n"
        "                 demo:red (canary)\n"
        "Replicas:\n"
        "  Desired:       5\n"
        "  Current:       5\n"
        "  Updated:       1\n"
        "  Ready:         4\n"
        "  Available:     4\n"
    )
    longest = max(len(f"│     └──□ {r.name}-bbbbb") for r in (r2, r3))
    assert tree == _tree(
        [
            ("NAME", "KIND", "STATUS", "AGE  INFO"),
            ("⟳ demo", "Rollout", "॥ Paused", "3h"),
            ("├──# revision:3", "", " ", ""),
            (f"│  └──⧉ {r3.name}", "ReplicaSet", "◌ Progressing", "3h   canary"),
            (f"│     └──□ {r3.name}-xxxxx", "Pod", "⚠ ImagePullBackOff", "3h   ready:0/1"),
            ("├──# revision:2", "", " ", ""),
            (f"│  └──⧉ {r2.name}", "ReplicaSet", "✔ Healthy", "3h   stable"),
            (f"│     ├──□ {r2.name}-bbbbb", "Pod", "✔ Running", "3h   ready:1/1"),
            (f"│     └──□ {r2.name}-ccccc", "Pod", "✔ Running", "3h   ready:1/1"),
            ("└──# revision:1", "", " ", ""),
            (f"   └──⧉ {r1.name}", "ReplicaSet", "• ScaledDown", "3h"),
        ],
        name_width=longest + 2,
    )


def test_blue_green_tree(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Blue-green roles (stable,active / preview), the scale-down delay, and the Paused status."""
    world.deployment(
        "bg",
        replicas=1,
        image="bg:green",
        strategy={"type": "BlueGreen", "blueGreen": {"activeService": "bg"}},
    )
    r1 = world.revision("bg", image="bg:blue", replicas=1)
    r2 = world.revision("bg", image="bg:green", replicas=1)
    world.pod(r1, "aaaaa")
    world.pod(r2, "bbbbb")
    status = complete_status(1)
    status["replicas"] = 2
    status["rollout"] = {
        "phase": "Paused",
        "message": "BlueGreenPause",
        "currentPodHash": r2.hash,
        "stableRS": r1.hash,
        "activeSelector": r1.hash,
        "previewSelector": r2.hash,
        "pauseConditions": [{"reason": "BlueGreenPause", "startTime": 0}],
        "scaleDownAt": {r1.name: world.now + 3 * 3600 + 59 * 60 + 30},
    }
    world.status("bg", **status)
    assert world.cli("get", "rollout", "bg") == 0
    out = capsys.readouterr().out
    assert "Status:          ॥ Paused\nMessage:         BlueGreenPause\n" in out
    assert "Strategy:        BlueGreen\nImages:          bg:blue (active, stable)\n" in out
    assert "                 bg:green (preview)\n" in out
    lines = out.splitlines()
    rs1 = next(line for line in lines if line.endswith(r1.name) or f"{r1.name} " in line)
    rs2 = next(line for line in lines if f"⧉ {r2.name} " in line)
    assert rs1.split()[-1] == "stable,active,delay:3h59m"
    assert rs2.split()[-1] == "preview"


def test_missing_rollout(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown name is kubectl's NotFound, exit 1."""
    assert world.cli("get", "rollout", "nope") == 1
    assert capsys.readouterr().err == (
        'Error from server (NotFound): deployments.apps "nope" not found\n'
    )
