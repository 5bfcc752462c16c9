"""``port-forward``: which pod and port a target names, and kubectl's refusals."""

from __future__ import annotations

import pytest
from test_read_world import World, container, world_fixture  # noqa: F401 - the world fixture

from reconciler.cli.port_forward import parse_ports, resolve
from reconciler.runtime import ContainerState


def test_service_resolves_to_a_ready_pod_and_its_target_port(world: World) -> None:
    """svc/NAME: a Ready pod its selector matches; the Service port becomes the targetPort."""
    world.deployment()
    rs = world.revision(replicas=2)
    world.pod(rs, "aaaaa", ready=False, port=41001)
    ready = world.pod(rs, "bbbbb", port=41002)
    world.service("web", selector={"app": "web"}, port=80, target=8080)
    pod, forwards = resolve(world.store, "svc/web", "default", parse_ports([":80"]))
    assert pod.name == ready.name
    assert [(f.local, f.remote, f.port) for f in forwards] == [(0, "80", 41002)]


def test_pod_port_that_is_not_declared(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A port the pod does not declare is refused, naming the ports it has (exit 1)."""
    world.deployment()
    rs = world.revision(replicas=1)
    pod = world.pod(rs, "aaaaa")
    assert world.cli("port-forward", f"pod/{pod.name}", "9999") == 1
    assert capsys.readouterr().err == (
        f"error: pod {pod.name} does not declare port 9999 (its containerPorts: 8080); only "
        "declared ports have a host port to forward to\n"
    )


def test_pod_not_running(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A pod that is not Running: kubectl's `unable to forward port` with its status."""
    from reconciler.runtime import PodPhase

    world.deployment()
    rs = world.revision(replicas=1)
    waiting = container("web", state=ContainerState.WAITING, ready=False, reason="ErrImagePull")
    pod = world.pod(rs, "aaaaa", ready=False, phase=PodPhase.PENDING, containers=(waiting,))
    assert world.cli("port-forward", pod.name, "8080") == 1
    assert capsys.readouterr().err == (
        "error: unable to forward port because pod is not running. Current status=Pending\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["svc/nope", "80"], 'Error from server (NotFound): services "nope" not found'),
        pytest.param(["deploy/nope", "80"], 'deployments.apps "nope" not found'),
        pytest.param(["svc/web", "81"], "error: Service web does not have a service port 81"),
    ],
)
def test_targets_that_do_not_resolve(
    world: World, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Missing objects and ports are kubectl's errors (exit 1)."""
    world.deployment()
    rs = world.revision(replicas=1)
    world.pod(rs, "aaaaa")
    world.service("web", selector={"app": "web"}, port=80, target=8080)
    assert world.cli("port-forward", *argv) == 1
    assert message in capsys.readouterr().err
