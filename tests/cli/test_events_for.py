"""``get events --for TYPE/NAME``: only the events on that object."""

from __future__ import annotations

import pytest
from test_read_world import World, world_fixture  # noqa: F401 - the world fixture

from reconciler.objects import Kind, ObjectRef


def test_get_events_for_one_object(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """--for pod/NAME lists the pod's events and not its Deployment's (any kind spelling)."""
    world.deployment()
    world.event(ObjectRef(Kind.DEPLOYMENT, "default", "web"), "ScalingReplicaSet", "Scaled up")
    world.event(ObjectRef(Kind.POD, "default", "web-1-a"), "BackOff", "Back-off", type="Warning")
    assert world.cli("get", "events", "--for", "po/web-1-a") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert [line.split()[1:4] for line in out[1:]] == [["Warning", "BackOff", "pod/web-1-a"]]


def test_get_events_for_needs_type_and_name(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """--for without TYPE/ is a usage error naming the form (exit 2)."""
    world.deployment()
    assert world.cli("get", "events", "--for", "web") == 2
    assert "resource/name form" in capsys.readouterr().err
