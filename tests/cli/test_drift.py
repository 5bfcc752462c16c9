"""Drift in the read commands: rolled back, aborted, a held prune, and no drift at all."""

from __future__ import annotations

import pytest
from test_read_world import World, complete_status, condition, world_fixture

from reconciler.folder.sync import PENDING_PRUNE_META

__all__ = ["world_fixture"]


def _rolled_back(world: World, *, failed: bool = True, **rollout: object) -> tuple[str, str]:
    """web: revision 1 (web:1) runs 3 pods, revision 2 (web:2) is what the file asks for
    (``failed``: autoRollback recorded revision 2 as failed)."""
    world.deployment("web", replicas=3, image="web:2")
    old = world.revision(image="web:1", replicas=3)
    new = world.revision(image="web:2", replicas=0)
    world.status(
        "web",
        **complete_status(
            3,
            rollout={
                "currentPodHash": new.hash,
                "stableRS": old.hash,
                "failedTemplateHash": new.hash if failed else "",
                **rollout,
            },
            conditions=[
                condition("ReplicaFailure", "True", "CrashLoopBackOff", 'pod "web-x" crashed')
            ],
        ),
    )
    return old.name, new.name


def test_get_marks_a_rolled_back_deployment(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """UP-TO-DATE counts the folder's revision's pods, -o wide names the running image, and a
    warning says what runs, why, and the undo and retry commands."""
    _rolled_back(world)
    assert world.cli("get", "deployments", "-o", "wide") == 0
    captured = capsys.readouterr()
    row = captured.out.splitlines()[1].split()
    assert row[:3] == ["web", "3/3", "0"]
    assert "web:2 (running web:1)" in captured.out
    assert captured.err == (
        "Warning: deployment.apps/web runs revision 1 (web:1), not revision 2 (web:2) that the "
        'folder asks for (rolled back automatically: pod "web-x" crashed); to resolve: '
        "'reconciler rollout undo deployment/web' to write revision 1 back to the file, or "
        "'reconciler rollout retry deployment/web' to try revision 2 again, or edit the "
        "manifest\n"
    )


def test_describe_says_an_aborted_rollout_runs_the_stable_revision(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """An abort: the Drift section names both ReplicaSets, the abort's cause, retry and undo."""
    old, new = _rolled_back(
        world, failed=False, abort=True, abortMessage="analysis assessed Failed"
    )
    assert world.cli("describe", "deployment", "web") == 0
    out = capsys.readouterr().out
    assert "Replicas:               3 desired | 0 updated | 3 total" in out  # none runs rev 2
    assert "Drift:\n  Reason:        Aborted\n" in out
    assert f"  Running:       revision 1 (web:1), ReplicaSet {old}\n" in out
    assert f"  Folder Asks:   revision 2 (web:2), ReplicaSet {new}\n" in out
    assert "  Why:           analysis assessed Failed\n" in out
    assert "'reconciler rollout retry deployment/web' to try revision 2 again" in out


def test_a_held_prune_is_drift_and_names_the_prune_command(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """An object whose file is gone while the prune guard holds it: get says it runs without
    a manifest and names `reconciler prune`."""
    world.deployment("web", replicas=1)
    world.status("web", **complete_status(1))
    world.store.set_meta(PENDING_PRUNE_META, "Deployment/default/web")
    assert world.cli("get", "deployments") == 0
    err = capsys.readouterr().err
    assert "deployment.apps/web runs but its manifest is gone from the folder" in err
    assert "'reconciler prune' to delete it, or restore its file" in err


def test_no_drift_no_mark(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A rollout in progress (new revision not stable yet, nothing failed) is not drift."""
    world.deployment("web", replicas=3, image="web:2")
    old = world.revision(image="web:1", replicas=3)
    new = world.revision(image="web:2", replicas=1)
    world.status(
        "web", **complete_status(3, rollout={"currentPodHash": new.hash, "stableRS": old.hash})
    )
    assert world.cli("get", "deployments", "-o", "wide") == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "running" not in captured.out


def test_the_drift_warning_goes_with_every_output_format(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-o json` and `get rollout` warn on stderr too; stdout stays what it was."""
    _rolled_back(world)
    assert world.cli("get", "deployments", "-o", "json") == 0
    captured = capsys.readouterr()
    assert captured.out.lstrip().startswith("{") or captured.out.lstrip().startswith("[")
    assert "runs revision 1 (web:1), not revision 2 (web:2)" in captured.err
    assert world.cli("get", "rollout", "web") == 0
    assert "runs revision 1 (web:1), not revision 2 (web:2)" in capsys.readouterr().err
