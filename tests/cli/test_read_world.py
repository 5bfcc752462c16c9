"""A store populated the way the daemon populates it, for the read and intent command tests.

``World`` writes applied objects, ReplicaSets (through ``record_revision``), pods, events and
statuses through the public Store API, so the commands under test read exactly what they read
in production. Imported by the other ``test_read_*`` modules.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.defaults import default_deployment, default_service
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import ContainerState, ContainerStatus, PodPhase, PodStatus
from reconciler.store import AppliedObject, PodRecord, ReplicaSetRow, Store, pod_to_dict

HOURS_3 = 3 * 3600 + 10  # ages print as "3h" for a minute


def container(
    name: str = "web",
    image: str = "web:1",
    *,
    state: ContainerState = ContainerState.RUNNING,
    ready: bool = True,
    reason: str = "",
    message: str = "",
    restarts: int = 0,
    started_at: float | None = None,
    last_exit_code: int | None = None,
    last_reason: str = "",
) -> ContainerStatus:
    return ContainerStatus(
        name=name,
        image=image,
        state=state,
        reason=reason,
        message=message,
        ready=ready,
        restart_count=restarts,
        started_at=started_at,
        last_exit_code=last_exit_code,
        last_reason=last_reason,
    )


class World:
    """Objects in a real Store, written as the daemon writes them."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.store = Store.open(state_dir)
        self.now = time.time()
        self._pods: list[PodRecord] = []
        # the world is what a live daemon wrote: it holds the daemon lock until stop_daemon()
        self._daemon: Store | None = Store.open(state_dir)
        self._daemon.lock_daemon()

    def stop_daemon(self) -> None:
        """From now on no daemon holds the state directory (read commands warn)."""
        if self._daemon is not None:
            self._daemon.close()
            self._daemon = None

    def close(self) -> None:
        self.stop_daemon()
        self.store.close()

    def cli(self, *argv: str) -> int:
        return main([*argv, "--state-dir", os.fspath(self.state_dir)])

    def deployment(
        self,
        name: str = "web",
        *,
        replicas: int = 3,
        image: str = "web:1",
        strategy: Mapping[str, Any] | None = None,
        containers: list[dict[str, Any]] | None = None,
        created: float | None = None,
        paused: bool = False,
    ) -> AppliedObject:
        manifest: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": containers
                        or [
                            {
                                "name": name,
                                "image": image,
                                "command": ["python3", "-m", "http.server"],
                                "ports": [{"containerPort": 8080}],
                                "env": [
                                    {"name": "MODE", "value": "fast"},
                                    {"name": "API_TOKEN", "value": "s3cr3t"},
                                ],
                            }
                        ]
                    },
                },
            },
        }
        if strategy is not None:
            manifest["spec"]["strategy"] = dict(strategy)
        if paused:
            manifest["spec"]["paused"] = True
        ref = ObjectRef(Kind.DEPLOYMENT, "default", name)
        return self.store.put_object(
            ref=ref,
            manifest=manifest,
            spec=default_deployment(manifest),
            source=f"manifests/{name}.yaml",
            line=1,
            digest=name,
            now=created if created is not None else self.now - HOURS_3,
        )

    def service(
        self, name: str, *, selector: Mapping[str, str], port: int, target: int | str
    ) -> AppliedObject:
        manifest = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {
                "selector": dict(selector),
                "ports": [{"port": port, "targetPort": target}],
            },
        }
        return self.store.put_object(
            ref=ObjectRef(Kind.SERVICE, "default", name),
            manifest=manifest,
            spec=default_service(manifest),
            source=f"manifests/{name}.yaml",
            line=1,
            digest=name,
            now=self.now - HOURS_3,
        )

    def revision(
        self,
        deployment: str = "web",
        *,
        image: str = "web:1",
        replicas: int,
        ready: int | None = None,
        created: float | None = None,
        change_cause: str = "",
    ) -> ReplicaSetRow:
        """Record a revision of ``deployment``'s template with ``image``, at ``replicas``."""
        obj = self.store.get_object(ObjectRef(Kind.DEPLOYMENT, "default", deployment))
        assert obj is not None
        template = copy.deepcopy(obj.spec["spec"]["template"])
        template["spec"]["containers"][0]["image"] = image
        result = self.store.record_revision(
            obj.ref,
            template,
            change_cause=change_cause,
            now=created if created is not None else self.now - HOURS_3,
        )
        up = replicas if ready is None else ready
        self.store.set_replicaset(
            "default",
            result.replicaset.name,
            replicas=replicas,
            status={"replicas": replicas, "readyReplicas": up, "availableReplicas": up},
        )
        row = self.store.get_replicaset("default", result.replicaset.name)
        assert row is not None
        return row

    def pod(
        self,
        rs: ReplicaSetRow,
        suffix: str,
        *,
        containers: tuple[ContainerStatus, ...] | None = None,
        ready: bool = True,
        phase: PodPhase = PodPhase.RUNNING,
        port: int = 40000,
        terminating: bool = False,
    ) -> PodStatus:
        image = rs.template["spec"]["containers"][0]["image"]
        pod = PodStatus(
            name=f"{rs.name}-{suffix}",
            namespace="default",
            owner=rs.name,
            labels=dict(rs.template["metadata"]["labels"]),
            phase=phase,
            created_at=self.now - HOURS_3,
            containers=containers
            or (container(rs.deployment, image, ready=ready, started_at=self.now - HOURS_3),),
            ready=ready,
            ready_since=self.now - HOURS_3 if ready else None,
            terminating=terminating,
            ports={"8080": port},
        )
        self._pods.append(
            PodRecord(
                name=pod.name,
                namespace="default",
                owner=rs.name,
                deployment=rs.deployment,
                status=pod_to_dict(pod),
                created_at=pod.created_at,
                updated_at=self.now,
            )
        )
        self.store.replace_pods(self._pods)
        return pod

    def status(self, name: str = "web", **status: Any) -> None:
        self.store.set_status(ObjectRef(Kind.DEPLOYMENT, "default", name), dict(status))

    def event(self, ref: ObjectRef, reason: str, message: str, *, type: str = "Normal") -> None:
        self.store.add_event(ref, type=type, reason=reason, message=message, now=self.now - HOURS_3)


def condition(kind: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": 0.0,
        "lastTransitionTime": 0.0,
    }


def complete_status(replicas: int = 3, *, generation: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "unavailableReplicas": 0,
        "conditions": [
            condition("Available", "True", "MinimumReplicasAvailable"),
            condition("Progressing", "True", "NewReplicaSetAvailable"),
        ],
        **extra,
    }


@pytest.fixture(name="world")
def world_fixture(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    made = World(state_dir)
    yield made
    made.close()
    monkeypatch.delenv("TZ")
    time.tzset()


def test_world_records_what_the_daemon_records(world: World) -> None:
    """The fixture writes a deployment, its ReplicaSet and pods through the Store API."""
    world.deployment()
    rs = world.revision(replicas=3)
    world.pod(rs, "aaaaa")
    assert rs.name.startswith("web-") and rs.revision == 1
    assert [p.name for p in world.store.list_pods("default")] == [f"{rs.name}-aaaaa"]
