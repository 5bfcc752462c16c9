"""``wait --for``: kubectl's messages and exit codes over what the store holds."""

from __future__ import annotations

import threading

import pytest
from test_read_world import World, complete_status, world_fixture  # noqa: F401 - the world fixture


def _run(world: World, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = world.cli("wait", *argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_condition_met(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A Deployment whose Available condition is True: `deployment.apps/web condition met`."""
    world.deployment()
    world.status(**complete_status())
    assert _run(world, capsys, "--for=condition=Available", "deployment/web") == (
        0,
        "deployment.apps/web condition met\n",
        "",
    )
    assert _run(world, capsys, "deploy", "web", "--for", "condition=available=TRUE")[0] == 0


def test_condition_times_out(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Not met within --timeout: kubectl's timed-out error naming deployments/NAME, exit 1."""
    world.deployment()
    world.status(**complete_status())
    assert _run(world, capsys, "deploy/web", "--for=condition=Available=False", "--timeout=0") == (
        1,
        "",
        "error: timed out waiting for the condition on deployments/web\n",
    )


def test_jsonpath_value(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """--for=jsonpath='{.status.readyReplicas}'=3 compares the value as kubectl prints it."""
    world.deployment()
    world.status(**complete_status(3))
    code, out, _ = _run(world, capsys, "deploy/web", "--for=jsonpath='{.status.readyReplicas}'=3")
    assert (code, out) == (0, "deployment.apps/web condition met\n")
    code, _, err = _run(
        world, capsys, "deploy/web", "--for=jsonpath={.status.readyReplicas}=4", "--timeout=0.2"
    )
    assert (code, err) == (1, "error: timed out waiting for the condition on deployments/web\n")


def test_pod_ready_by_selector(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """`wait pods -l app=web --for=condition=Ready`: one line per pod, pod conditions derived."""
    world.deployment()
    rs = world.revision(replicas=2)
    a, b = world.pod(rs, "aaaaa"), world.pod(rs, "bbbbb")
    assert _run(world, capsys, "pods", "-l", "app=web", "--for=condition=Ready") == (
        0,
        f"pod/{a.name} condition met\npod/{b.name} condition met\n",
        "",
    )


def test_missing_object(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A named object that does not exist: NotFound; with --for=delete it is met at once."""
    world.deployment()
    assert _run(world, capsys, "deploy/nope", "--for=condition=Available") == (
        1,
        "",
        'Error from server (NotFound): deployments.apps "nope" not found\n',
    )
    assert _run(world, capsys, "pod/nope", "--for=delete", "--timeout=0") == (0, "", "")
    assert _run(world, capsys, "pods", "--all", "--for=condition=Ready") == (
        1,
        "",
        "error: no matching resources found\n",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["deploy/web"], "--for must be specified", id="no --for"),
        pytest.param(["deploy/web", "--for=ready"], "unrecognized condition", id="bad --for"),
        pytest.param(["deploy", "--for=delete"], "no name was specified", id="no name"),
        pytest.param(
            ["deploy/web", "--for=jsonpath={.a[}=1"], "unterminated array", id="bad path"
        ),
    ],
)
def test_usage_errors(
    world: World, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Malformed requests are usage errors (exit 2) that say what is wrong."""
    world.deployment()
    code, _, err = _run(world, capsys, *argv)
    assert code == 2 and message in err


def test_delete_met_when_the_pod_goes(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A pod that exists and then goes: `pod/NAME condition met` once it is gone."""
    world.deployment()
    rs = world.revision(replicas=1)
    pod = world.pod(rs, "aaaaa")
    remover = threading.Timer(0.3, lambda: world.store.replace_pods([]))
    remover.start()
    try:
        assert _run(world, capsys, f"pod/{pod.name}", "--for=delete", "--timeout=10s") == (
            0,
            f"pod/{pod.name} condition met\n",
            "",
        )
    finally:
        remover.cancel()
