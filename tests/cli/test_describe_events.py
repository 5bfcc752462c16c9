"""``describe pod``/``describe rs``: each object's own events, with the component that saw them."""

from __future__ import annotations

import pytest
from test_read_world import HOURS_3, World, world_fixture  # noqa: F401 - the world fixture

from reconciler.events import record_pod_created
from reconciler.objects import Kind, ObjectRef


def test_describe_pod_lists_the_kubelets_events(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pod's events table: kubectl's columns, `From kubelet`, repeats as `(xN over …)`."""
    world.deployment()
    rs = world.revision(replicas=1)
    pod = world.pod(rs, "aaaaa", ready=False)
    ref = ObjectRef(Kind.POD, "default", pod.name)
    message = f"Back-off restarting failed container web in pod {pod.name}_default"
    for _ in range(4):
        world.store.add_event(
            ref,
            type="Warning",
            reason="BackOff",
            message=message,
            now=world.now - HOURS_3,
            source="kubelet",
        )
    world.event(ObjectRef(Kind.DEPLOYMENT, "default", "web"), "ScalingReplicaSet", "not here")
    assert world.cli("describe", "pod", pod.name) == 0
    events = capsys.readouterr().out.split("Events:\n", 1)[1]
    assert events == (
        "  Type     Reason   Age              From     Message\n"
        "  ----     ------   ----             ----     -------\n"
        f"  Warning  BackOff  3h (x4 over 3h)  kubelet  {message}\n"
    )


def test_describe_replicaset_lists_its_controllers_events(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """SuccessfulCreate on the ReplicaSet's page, from replicaset-controller."""
    world.deployment()
    rs = world.revision(replicas=1)
    record_pod_created(world.store, "default", rs.name, f"{rs.name}-aaaaa", now=world.now - 5)
    assert world.cli("describe", "rs", rs.name) == 0
    events = capsys.readouterr().out.split("Events:\n", 1)[1]
    assert events == (
        "  Type    Reason            Age   From                   Message\n"
        "  ----    ------            ----  ----                   -------\n"
        f"  Normal  SuccessfulCreate  5s    replicaset-controller  Created pod: {rs.name}-aaaaa\n"
    )
