"""The kubelet's pod events, read off status changes, recorded on the Pod with its source."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.events import KubeletEvents, kubelet_events, record_pod_created
from reconciler.events.kubelet import reports_own_events
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import ContainerState, ContainerStatus, PodPhase, PodStatus
from reconciler.store import Store

POD = "web-5d4f9-abcde"


def _container(state: ContainerState, **fields: object) -> ContainerStatus:
    return ContainerStatus("web", "demo:1", state, **fields)  # type: ignore[arg-type]


def _pod(*containers: ContainerStatus, **fields: object) -> PodStatus:
    base = PodStatus(POD, "default", "web-5d4f9", {"app": "web"}, PodPhase.PENDING, 0.0, containers)
    return replace(base, **fields)  # type: ignore[arg-type]


CREATING = _container(ContainerState.WAITING, reason="ContainerCreating")
RUNNING = _container(ContainerState.RUNNING, started_at=10.0, ready=True)
PULL_FAILED = _container(
    ContainerState.WAITING, reason="ErrImagePull", message='executable "nope" not found'
)
PULL_BACKOFF = _container(ContainerState.WAITING, reason="ImagePullBackOff")
CRASHING = _container(ContainerState.WAITING, reason="CrashLoopBackOff", restart_count=1)


def _said(before: PodStatus | None, after: PodStatus) -> list[tuple[str, str, str, str]]:
    return [(e.type, e.reason, e.message, e.source) for e in kubelet_events(before, after)]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(
            None,
            _pod(CREATING),
            [
                (
                    "Normal",
                    "Scheduled",
                    f"Successfully assigned default/{POD} to localhost",
                    "default-scheduler",
                )
            ],
            id="a new pod is scheduled",
        ),
        pytest.param(
            _pod(CREATING),
            _pod(RUNNING),
            [
                (
                    "Normal",
                    "Pulled",
                    'Container image "demo:1" already present on machine',
                    "kubelet",
                ),
                ("Normal", "Created", "Created container web", "kubelet"),
                ("Normal", "Started", "Started container web", "kubelet"),
            ],
            id="a started container: pulled, created, started",
        ),
        pytest.param(
            _pod(CREATING),
            _pod(PULL_FAILED),
            [
                ("Normal", "Pulling", 'Pulling image "demo:1"', "kubelet"),
                (
                    "Warning",
                    "Failed",
                    'Failed to pull image "demo:1": executable "nope" not found',
                    "kubelet",
                ),
                ("Warning", "Failed", "Error: ErrImagePull", "kubelet"),
            ],
            id="a failed pull",
        ),
        pytest.param(
            _pod(PULL_FAILED),
            _pod(PULL_BACKOFF),
            [
                ("Normal", "BackOff", 'Back-off pulling image "demo:1"', "kubelet"),
                ("Warning", "Failed", "Error: ImagePullBackOff", "kubelet"),
            ],
            id="image pull back-off",
        ),
        pytest.param(
            _pod(RUNNING),
            _pod(CRASHING),
            [
                (
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container web in pod {POD}_default",
                    "kubelet",
                )
            ],
            id="crash loop back-off",
        ),
        pytest.param(
            _pod(CRASHING),
            _pod(replace(CRASHING, restart_count=2)),
            [
                (
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container web in pod {POD}_default",
                    "kubelet",
                )
            ],
            id="each back-off again",
        ),
        pytest.param(
            _pod(RUNNING),
            _pod(replace(RUNNING, ready=False)),
            [("Warning", "Unhealthy", "Readiness probe failed", "kubelet")],
            id="ready to not ready",
        ),
        pytest.param(
            _pod(RUNNING),
            _pod(RUNNING, terminating=True),
            [("Normal", "Killing", "Stopping container web", "kubelet")],
            id="terminating",
        ),
        pytest.param(_pod(RUNNING), _pod(RUNNING), [], id="nothing changed"),
        pytest.param(_pod(CRASHING), _pod(CRASHING, gone=True), [], id="gone"),
        pytest.param(
            None, _pod(CREATING, unschedulable="0/1 nodes are available"), [], id="not placed"
        ),
    ],
)
def test_kubelet_events_between_statuses(
    before: PodStatus | None, after: PodStatus, expected: list[tuple[str, str, str, str]]
) -> None:
    """Each change of a pod's status gives the kubelet's events for it, word for word."""
    assert _said(before, after) == expected


def test_recorder_writes_on_the_pod_and_spares_adopted_pods(tmp_path: Path) -> None:
    """Events land on the Pod from kubelet; a pod with recorded events (adopted) is a baseline."""
    with Store.open(tmp_path) as store:
        recorder = KubeletEvents(
            store, now=lambda: 5.0, known=lambda ref: bool(store.list_events(ref))
        )
        recorder.observe(_pod(CREATING))
        recorder.observe(_pod(RUNNING))
        ref = ObjectRef(Kind.POD, "default", POD)
        reasons = [(e.reason, e.source) for e in store.list_events(ref)]
        assert reasons == [
            ("Scheduled", "default-scheduler"),
            ("Pulled", "kubelet"),
            ("Created", "kubelet"),
            ("Started", "kubelet"),
        ]
        again = KubeletEvents(
            store, now=lambda: 6.0, known=lambda ref: bool(store.list_events(ref))
        )
        again.observe(_pod(RUNNING))  # the next daemon adopts it
        assert [e.count for e in store.list_events(ref)] == [1, 1, 1, 1]


def test_runtime_that_reports_its_own_events_gets_only_scheduled(tmp_path: Path) -> None:
    """For a podman pod only the scheduler's event comes from here (podman records the rest)."""

    class Selecting:
        def runtime_of(self, name: str) -> str:
            return "podman"

    with Store.open(tmp_path) as store:
        recorder = KubeletEvents(
            store,
            now=lambda: 5.0,
            known=lambda ref: False,
            reports_own=reports_own_events(Selecting()),
        )
        recorder.observe(_pod(RUNNING))
        events = store.list_events(ObjectRef(Kind.POD, "default", POD))
        assert [e.reason for e in events] == ["Scheduled"]
    assert reports_own_events(object())(_pod(RUNNING)) is False


def test_replicaset_controller_events_are_on_the_replicaset(tmp_path: Path) -> None:
    """SuccessfulCreate names the pod, on the ReplicaSet, from replicaset-controller."""
    with Store.open(tmp_path) as store:
        record_pod_created(store, "default", "web-5d4f9", POD, now=1.0)
        (event,) = store.list_events(ObjectRef(Kind.REPLICASET, "default", "web-5d4f9"))
        assert (event.reason, event.message, event.source) == (
            "SuccessfulCreate",
            f"Created pod: {POD}",
            "replicaset-controller",
        )


def test_recorder_survives_a_store_that_cannot_be_written() -> None:
    """A locked or full store loses the pod's events, never the pod change that caused them."""

    class Unwritable:
        def transaction(self) -> contextlib.nullcontext[None]:
            return contextlib.nullcontext()

        def add_event(self, ref: ObjectRef, **fields: object) -> None:
            raise sqlite3.OperationalError("database is locked")

    recorder = KubeletEvents(Unwritable(), now=lambda: 1.0, known=lambda ref: False)
    recorder.observe(_pod(RUNNING))  # no exception
