"""``rollout status``: kubectl's messages in order, exit codes, fail fast, strategy lines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest
from test_read_world import (  # noqa: F401 - the world fixture
    World,
    complete_status,
    condition,
    world_fixture,
)

from reconciler.objects import Kind, ObjectRef

CANARY = {"type": "Canary", "canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}


def _spawn(world: World, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "rollout",
            "status",
            *argv,
            "--poll-interval",
            "0.02",
            "--state-dir",
            os.fspath(world.state_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _expect_line(proc: subprocess.Popen[str], expected: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the process prints within a poll; the test's timeout guards
    assert line == expected + "\n"


def _progress(
    replicas: int, updated: int, available: int, *, generation: int = 1
) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "conditions": [condition("Progressing", "True", "ReplicaSetUpdated")],
    }


@pytest.mark.timeout(20)
def test_status_prints_each_message_until_rolled_out(world: World) -> None:
    """The §2.3 messages in order as the store changes, then success with exit 0."""
    world.deployment()
    world.status(observedGeneration=0)
    proc = _spawn(world, "deployment/web")
    prefix = 'Waiting for deployment "web" rollout to finish: '
    _expect_line(proc, "Waiting for deployment spec update to be observed...")
    world.status(**_progress(4, 1, 3))
    _expect_line(proc, prefix + "1 out of 3 new replicas have been updated...")
    world.status(**_progress(4, 3, 3))
    _expect_line(proc, prefix + "1 old replicas are pending termination...")
    world.status(**_progress(3, 3, 2))
    _expect_line(proc, prefix + "2 of 3 updated replicas are available...")
    world.status(**complete_status(3))
    _expect_line(proc, 'deployment "web" successfully rolled out')
    assert proc.wait(timeout=10) == 0


@pytest.mark.timeout(20)
def test_status_fails_fast_on_replica_failure(world: World) -> None:
    """A ReplicaFailure condition ends the wait at once with the pod's reason, exit 1."""
    world.deployment()
    world.status(**_progress(4, 1, 3))
    proc = _spawn(world, "deployment/web")
    _expect_line(
        proc,
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been '
        "updated...",
    )
    failing = _progress(4, 1, 3)
    failing["conditions"].append(
        condition(
            "ReplicaFailure",
            "True",
            "ImagePullBackOff",
            'pod "web-abc-x2x7q" is in ImagePullBackOff: image web:nope not found',
        )
    )
    world.status(**failing)
    assert proc.wait(timeout=10) == 1
    assert proc.stderr is not None
    assert proc.stderr.read() == (
        'error: deployment "web" rollout failed: pod "web-abc-x2x7q" is in ImagePullBackOff: '
        "image web:nope not found\n"
    )


def _run(world: World, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = world.cli("rollout", "status", *argv, "--poll-interval", "0.02")
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_status_exceeded_deadline(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """ProgressDeadlineExceeded is kubectl's error, exit 1."""
    world.deployment()
    status = _progress(4, 1, 3)
    status["conditions"] = [condition("Progressing", "False", "ProgressDeadlineExceeded")]
    world.status(**status)
    assert _run(world, capsys, "deployment/web") == (
        1,
        "",
        'error: deployment "web" exceeded its progress deadline\n',
    )


def test_wait_for_deadline_ignores_replica_failure(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """--wait-for-deadline keeps waiting past a ReplicaFailure (here until --timeout)."""
    world.deployment()
    status = _progress(4, 1, 3)
    status["conditions"].append(condition("ReplicaFailure", "True", "ImagePullBackOff", "x"))
    world.status(**status)
    code, out, err = _run(world, capsys, "web", "--wait-for-deadline", "--timeout", "0.2s")
    assert code == 1
    assert out == (
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been '
        "updated...\n"
    )
    assert err == "error: timed out waiting for the condition\n"


def test_watch_false_prints_once(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """--watch=false prints the current message and exits 0 even when not done."""
    world.deployment()
    world.status(**_progress(3, 3, 1))
    assert _run(world, capsys, "deployment/web", "--watch=false") == (
        0,
        'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are '
        "available...\n",
        "",
    )


def test_canary_until_paused(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A canary waiting at a pause step: steps completed as Argo counts them (currentStepIndex/len,
    as `get rollout` shows), weight and reason; --until-paused exits 0."""
    world.deployment(strategy=CANARY, replicas=5)
    status = _progress(6, 1, 6)
    status["rollout"] = {
        "phase": "Paused",
        "currentPodHash": "new",
        "stableRS": "old",
        "currentStepIndex": 1,
        "setWeight": 20,
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": 0}],
    }
    world.status(**status)
    assert _run(world, capsys, "deployment/web", "--until-paused") == (
        0,
        'Waiting for deployment "web" rollout to finish: canary step 1/2 (setWeight 20), '
        "paused (CanaryPauseStep)...\n",
        "",
    )


def test_blue_green_waits_for_cutover(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A blue-green rollout paused before promotion says so."""
    world.deployment(strategy={"type": "BlueGreen", "blueGreen": {"activeService": "web"}})
    status = complete_status(6)
    status["rollout"] = {
        "currentPodHash": "new",
        "activeSelector": "old",
        "previewSelector": "new",
        "pauseConditions": [{"reason": "BlueGreenPause", "startTime": 0}],
    }
    world.status(**status)
    code, out, _ = _run(world, capsys, "web", "--watch=false")
    assert (code, out) == (
        0,
        'Waiting for deployment "web" rollout to finish: preview is ready, active service '
        "cutover pending, paused (BlueGreenPause)...\n",
    )


def test_aborted_canary_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A Degraded (aborted) rollout ends with exit 1 and its message."""
    world.deployment(strategy=CANARY)
    status = complete_status(3)
    status["rollout"] = {
        "phase": "Degraded",
        "message": "RolloutAborted: Rollout aborted update to revision 2",
        "abort": True,
    }
    world.status(**status)
    assert _run(world, capsys, "web") == (
        1,
        "",
        'error: deployment "web" rollout aborted: RolloutAborted: Rollout aborted update to '
        "revision 2\n",
    )


def test_timeout(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """--timeout expiry is kubectl's 'timed out waiting for the condition', exit 1."""
    world.deployment()
    world.status(**_progress(3, 3, 1))
    started = time.monotonic()
    code, _, err = _run(world, capsys, "web", "--timeout", "0.3")
    assert (code, err) == (1, "error: timed out waiting for the condition\n")
    assert time.monotonic() - started < 5


def test_revision_mismatch(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """--revision N that is not the running revision is kubectl's error."""
    world.deployment()
    rs = world.revision(replicas=3)
    world.status(**complete_status(rollout={"currentPodHash": rs.hash}))
    assert _run(world, capsys, "web", "--revision", "2")[::2] == (
        1,
        "error: desired revision (2) is different from the running revision (1)\n",
    )
    assert _run(world, capsys, "web", "--revision", "1")[:2] == (
        0,
        'deployment "web" successfully rolled out\n',
    )


def test_missing_deployment(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """No such deployment: kubectl's NotFound, exit 1."""
    assert _run(world, capsys, "deployment/nope") == (
        1,
        "",
        'Error from server (NotFound): deployments.apps "nope" not found\n',
    )


def test_deleted_while_watching(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """The deployment going away mid-watch is an error."""
    world.deployment()
    world.status(**_progress(3, 3, 1))
    import threading

    timer = threading.Timer(
        0.2, lambda: world.store.delete_object(ObjectRef(Kind.DEPLOYMENT, "default", "web"))
    )
    timer.start()
    try:
        code, _, err = _run(world, capsys, "web", "--timeout", "5s")
    finally:
        timer.join()
    assert (code, err) == (1, "error: object has been deleted\n")
