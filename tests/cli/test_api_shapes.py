"""Objects as the API server shapes them: golden files for each kind, and the invariants.

The golden files in ``golden/`` were checked field by field against a real
``kubectl get pods -o json`` capture (github.com/gpdgpa/kuard ``temp.sh``: a Pod in a ``List``
with sorted keys, ``metadata.resourceVersion: ""`` on the List, conditions in the kubelet's
order Initialized, Ready, ContainersReady, PodScheduled, ``lastProbeTime: null``,
``containerStatuses`` with ``containerID``/``imageID``/``lastState``/``started``, ``podIPs``,
``qosClass``, ``startTime``, an ``ownerReferences`` entry with ``blockOwnerDeletion`` and
``controller``) and against the API reference for the fields a terminating pod carries
(``deletionTimestamp`` = deletion request + grace period, ``deletionGracePeriodSeconds``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler import apiobjects as api
from reconciler.cli.printers import go_json
from reconciler.defaults import default_deployment, default_pod_template, default_service
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import ContainerState, ContainerStatus, PodPhase, PodStatus
from reconciler.store import AppliedObject, ReplicaSetRow

GOLDEN = Path(__file__).parent / "golden"
T0 = 1796165580.0  # 2026-12-01T22:53:00Z


def _template() -> dict[str, Any]:
    return default_pod_template(
        {
            "metadata": {"labels": {"app": "web", "pod-template-hash": "5d4f8c9b7"}},
            "spec": {
                "containers": [
                    {"name": "web", "image": "web:1", "ports": [{"containerPort": 8080}]}
                ],
                "terminationGracePeriodSeconds": 20,
            },
        }
    )


def _rs() -> ReplicaSetRow:
    return ReplicaSetRow(
        name="web-5d4f8c9b7",
        namespace="default",
        deployment="web",
        hash="5d4f8c9b7",
        revision=2,
        revision_history=(),
        template=_template(),
        change_cause="image web:1",
        replicas=3,
        annotations={},
        status={"replicas": 3, "readyReplicas": 2, "availableReplicas": 2},
        created_at=T0 - 60,
    )


def _pod(*, terminating: bool = False, ready: bool = True) -> PodStatus:
    return PodStatus(
        name="web-5d4f8c9b7-x2k9q",
        namespace="default",
        owner="web-5d4f8c9b7",
        labels={"app": "web", "pod-template-hash": "5d4f8c9b7"},
        phase=PodPhase.RUNNING,
        created_at=T0,
        containers=(
            ContainerStatus(
                name="web",
                image="web:1",
                state=ContainerState.RUNNING,
                ready=ready,
                restart_count=1,
                last_restart_at=T0 + 2,
                started_at=T0 + 3,
                last_exit_code=137,
                last_reason="Error",
            ),
        ),
        ready=ready,
        ready_since=T0 + 5 if ready else None,
        terminating=terminating,
        terminating_since=T0 + 100 if terminating else None,
        ports={"8080": 40123},
    )


def _deployment() -> AppliedObject:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        },
    }
    status = {
        "observedGeneration": 2,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "unavailableReplicas": 1,
        "conditions": [
            {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "message": "Deployment does not have minimum availability.",
                "lastUpdateTime": T0,
                "lastTransitionTime": T0,
            }
        ],
        "rollout": {"currentPodHash": "5d4f8c9b7"},
    }
    return _applied(Kind.DEPLOYMENT, "web", manifest, default_deployment(manifest), status)


def _service() -> AppliedObject:
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    return _applied(Kind.SERVICE, "web", manifest, default_service(manifest), {})


def _applied(
    kind: Kind, name: str, manifest: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]
) -> AppliedObject:
    return AppliedObject(
        ref=ObjectRef(kind, "default", name),
        manifest=manifest,
        spec=spec,
        source=f"manifests/{name}.yaml",
        line=1,
        digest=name,
        generation=2,
        created_at=T0 - 120,
        updated_at=T0 - 60,
        status=status,
    )


def _objects() -> dict[str, dict[str, Any]]:
    rs, dep, svc = _rs(), _deployment(), _service()
    other = dataclasses.replace(
        _pod(ready=False), name="web-5d4f8c9b7-b7m2n", ports={"8080": 40124}
    )
    pods = [_pod(), other]
    return {
        "pod": api.pod_object(_pod(), template=rs.template, owner_uid=api.replicaset_uid(rs)),
        "pod_terminating": api.pod_object(
            _pod(terminating=True, ready=False), template=rs.template, owner_uid="u"
        ),
        "replicaset": api.replicaset_object(rs, owner_uid=api.object_uid(dep)),
        "deployment": api.deployment_object(dep, [rs]),
        "service": api.service_object(svc, cluster_ip="127.0.0.1"),
        "endpoints": api.endpoints_object(svc, pods),
        "endpointslices": api.as_list(api.endpointslice_objects(svc, pods)),
        "namespace": api.namespace_object("default", created_at=T0 - 3600),
    }


@pytest.mark.parametrize("name", sorted(_objects()))
def test_object_matches_its_golden_file(name: str) -> None:
    """Each kind prints, byte for byte, as its golden `-o json` file."""
    expected = (GOLDEN / f"{name}.json").read_text(encoding="utf-8")
    assert go_json(_objects()[name]) + "\n" == expected


def test_terminating_pod_says_when_it_will_be_gone() -> None:
    """deletionTimestamp is when termination began plus the grace period, in RFC 3339."""
    obj = _objects()["pod_terminating"]
    assert obj["metadata"]["deletionTimestamp"] == api.rfc3339(T0 + 100 + 20)
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 20
    assert "deletionTimestamp" not in _objects()["pod"]["metadata"]


def test_uid_is_stable_and_resource_version_follows_content() -> None:
    """The same object keeps its uid and resourceVersion; a change gives a new resourceVersion."""
    first, again = _objects()["pod"], _objects()["pod"]
    assert first["metadata"]["uid"] == again["metadata"]["uid"]
    assert first["metadata"]["resourceVersion"] == again["metadata"]["resourceVersion"]
    changed = api.pod_object(_pod(ready=False), template=_rs().template)
    assert changed["metadata"]["uid"] == first["metadata"]["uid"]
    assert changed["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]


def test_owner_references_chain_pod_to_replicaset_to_deployment() -> None:
    """A pod's owner uid is its ReplicaSet's uid, whose owner uid is its Deployment's."""
    objects = _objects()
    pod_owner = objects["pod"]["metadata"]["ownerReferences"][0]
    rs_owner = objects["replicaset"]["metadata"]["ownerReferences"][0]
    assert pod_owner["uid"] == objects["replicaset"]["metadata"]["uid"]
    assert rs_owner["uid"] == objects["deployment"]["metadata"]["uid"]
    assert pod_owner["controller"] is True and pod_owner["blockOwnerDeletion"] is True


def test_keys_are_sorted_at_every_level() -> None:
    """Every mapping's keys come out sorted, as kubectl prints the API's JSON."""

    def check(value: Any) -> None:
        if isinstance(value, dict):
            assert list(value) == sorted(value)
            for v in value.values():
                check(v)
        elif isinstance(value, list):
            for v in value:
                check(v)

    for obj in _objects().values():
        check(json.loads(go_json(obj)))
