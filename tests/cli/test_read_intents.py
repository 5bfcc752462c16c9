"""Intents: promote/abort/retry/restart, delete pod and prune write rows the daemon consumes."""

from __future__ import annotations

import io
from typing import Any

import pytest
from test_read_world import World, world_fixture  # noqa: F401 - the world fixture

from reconciler.folder.sync import PENDING_PRUNE_META
from reconciler.objects import Kind, ObjectRef

CANARY = {"type": "Canary", "canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}
NO_DAEMON = "warning: no reconciler daemon is running on {}; the request waits until one starts\n"
WEB = ObjectRef(Kind.DEPLOYMENT, "default", "web")


def _intents(world: World) -> list[tuple[ObjectRef, str, dict[str, Any]]]:
    return [(i.ref, i.action, i.args) for i in world.store.pending_intents()]


@pytest.mark.parametrize(
    ("argv", "line", "action", "args"),
    [
        pytest.param(["promote", "web"], "rollout 'web' promoted", "promote", {"full": False}),
        pytest.param(
            ["promote", "deployment/web", "--full"],
            "rollout 'web' fully promoted",
            "promote",
            {"full": True},
            id="promote full",
        ),
        pytest.param(["abort", "web"], "rollout 'web' aborted", "abort", {}),
        pytest.param(["retry", "web"], "rollout 'web' retried", "retry", {}),
    ],
)
def test_rollout_intents(
    world: World,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    line: str,
    action: str,
    args: dict[str, Any],
) -> None:
    """Each verb prints the Argo plugin's line, queues its intent, and warns with no daemon."""
    world.deployment(strategy=CANARY)
    world.stop_daemon()
    assert world.cli("rollout", *argv) == 0
    captured = capsys.readouterr()
    assert captured.out == line + "\n"
    assert captured.err == NO_DAEMON.format(world.state_dir)
    assert _intents(world) == [(WEB, action, args)]


def test_retry_rollout_form(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """The plugin's ``retry rollout NAME`` form works too."""
    world.deployment(strategy=CANARY)
    assert world.cli("retry", "rollout", "web") == 0
    assert capsys.readouterr().out == "rollout 'web' retried\n"
    assert _intents(world) == [(WEB, "retry", {})]


def test_restart_writes_intent_with_time(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """``rollout restart`` is kubectl's line and an intent carrying the request time."""
    world.deployment()
    assert world.cli("rollout", "restart", "deployment/web") == 0
    assert capsys.readouterr().out == "deployment.apps/web restarted\n"
    [(ref, action, args)] = _intents(world)
    assert (ref, action) == (WEB, "restart")
    assert abs(args["at"] - world.now) < 60


def test_restart_twice_within_a_second_is_refused(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """kubectl's refusal of a second restart within a second; one intent only."""
    world.deployment()
    assert world.cli("rollout", "restart", "deployment/web") == 0
    assert world.cli("rollout", "restart", "deployment/web") == 1
    assert "within the past second" in capsys.readouterr().err
    assert len(_intents(world)) == 1


def test_no_warning_while_a_daemon_runs(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """With the daemon lock held, intents are written without the warning."""
    world.deployment(strategy=CANARY)  # the world holds the daemon lock
    assert world.cli("rollout", "promote", "web") == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("verb", ["promote", "abort"])
def test_promote_and_abort_refused_without_steps(
    world: World, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    """RollingUpdate has no steps: refused with a clear message, nothing queued."""
    world.deployment()
    assert world.cli("rollout", verb, "web") == 1
    err = capsys.readouterr().err
    assert err.startswith('error: deployment "web" uses the RollingUpdate strategy')
    assert f"{verb} applies to BlueGreen and Canary deployments" in err
    assert _intents(world) == []


def test_intent_for_missing_deployment(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing deployment is kubectl's NotFound and no intent."""
    assert world.cli("rollout", "promote", "nope") == 1
    assert capsys.readouterr().err == (
        'Error from server (NotFound): deployments.apps "nope" not found\n'
    )
    assert _intents(world) == []


def test_delete_pod_writes_delete_pod_intent(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """``delete pod NAME`` prints kubectl's line and queues a delete-pod intent for the pod."""
    world.deployment()
    rs = world.revision(replicas=1)
    pod = world.pod(rs, "x2x7q")
    assert world.cli("delete", "pod", pod.name) == 0
    assert capsys.readouterr().out == f'pod "{pod.name}" deleted\n'
    assert _intents(world) == [(ObjectRef(Kind.POD, "default", pod.name), "delete-pod", {})]
    assert world.cli("delete", "pod", "nope") == 1
    assert capsys.readouterr().err == 'Error from server (NotFound): pods "nope" not found\n'


def test_prune_asks_then_writes_intent(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """prune lists the held deletions, asks, and queues a prune intent on 'y'."""
    world.store.set_meta(PENDING_PRUNE_META, "Deployment/default/web\nService/default/web\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert world.cli("prune") == 1
    assert _intents(world) == []
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert world.cli("prune") == 0
    assert capsys.readouterr().out == (
        "The prune guard holds the deletion of:\n"
        "  deployment.apps/web (namespace default)\n"
        "  service/web (namespace default)\n"
        "Delete these 2 objects? [y/N] "
        "deployment.apps/web pruned\n"
        "service/web pruned\n"
    )
    [(_, action, args)] = _intents(world)
    assert action == "prune"
    assert args == {"objects": ["Deployment/default/web", "Service/default/web"]}


def test_prune_with_nothing_held(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing held: says so, exit 0, no intent."""
    assert world.cli("prune", "--yes") == 0
    assert capsys.readouterr().out == "No deletions are waiting for confirmation.\n"
    assert _intents(world) == []
