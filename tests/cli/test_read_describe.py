"""``describe``: kubectl's pages, byte for byte, read from a store the daemon wrote."""

from __future__ import annotations

import pytest
from test_read_world import (  # noqa: F401 - the world fixture
    HOURS_3,
    World,
    complete_status,
    condition,
    container,
    world_fixture,
)

from reconciler.cli.describe import rfc1123z, tabwrite
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import ContainerState

T0 = 1700000000.0  # Tue, 14 Nov 2023 22:13:20 +0000

POD_TEMPLATE = """\
Pod Template:
  Labels:  app=web
  Containers:
   web:
    Image:      web:2
    Port:       8080/TCP
    Host Port:  0/TCP
    Command:
      python3
      -m
      http.server
    Environment:
      MODE:        fast
      API_TOKEN:   <redacted>
    Mounts:        <none>
  Volumes:         <none>
  Node-Selectors:  <none>
  Tolerations:     <none>
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a:\t1\nlong-key:\t2\n", "a:         1\nlong-key:  2\n", id="one block"),
        pytest.param(
            "a:\t1\nsection:\n  long-key:\t2\n",
            "a:  1\nsection:\n  long-key:  2\n",
            id="a line without a tab ends the block",
        ),
        pytest.param(
            "Port:\t<unset>\t80/TCP\nTargetPort:\t8080/TCP\n",
            "Port:        <unset>  80/TCP\nTargetPort:  8080/TCP\n",
            id="a column only some lines have",
        ),
        pytest.param("x\t\ty\n", "x    y\n", id="empty cells keep the padding"),
    ],
)
def test_tabwrite_aligns_like_go_tabwriter(text: str, expected: str) -> None:
    """Consecutive lines sharing a column align on it; the last cell is never padded."""
    assert tabwrite(text) == expected


def _web(world: World) -> tuple[str, str]:
    world.deployment(image="web:2", created=T0)
    old = world.rs1 = world.revision(image="web:1", replicas=0, created=T0)
    new = world.revision(image="web:2", replicas=3, created=T0 + 100)
    return old.name, new.name


def test_describe_deployment_prints_kubectl_sections_in_order(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every §2.7 section in order, tab-aligned, with events and secret env values redacted."""
    _, new = _web(world)
    rs_hash = new.rsplit("-", 1)[1]
    world.status(**complete_status(rollout={"currentPodHash": rs_hash}))
    ref = ObjectRef(Kind.DEPLOYMENT, "default", "web")
    world.event(ref, "ScalingReplicaSet", f"Scaled up replica set {new} to 3")
    world.event(ref, "ScalingReplicaSet", f"Scaled up replica set {new} to 3")
    assert world.cli("describe", "deployment", "web") == 0
    assert capsys.readouterr().out == (
        "Name:                   web\n"
        "Namespace:              default\n"
        "CreationTimestamp:      Tue, 14 Nov 2023 22:13:20 +0000\n"
        "Labels:                 app=web\n"
        "Annotations:            deployment.kubernetes.io/revision: 2\n"
        "                        reconciler/source: manifests/web.yaml:1\n"
        "Selector:               app=web\n"
        "Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable\n"
        "StrategyType:           RollingUpdate\n"
        "MinReadySeconds:        0\n"
        "RollingUpdateStrategy:  25% max unavailable, 25% max surge\n"
        + POD_TEMPLATE
        + "Conditions:\n"
        # the conditions share a column block with OldReplicaSets (Go tabwriter), exactly
        # as in the Kubernetes docs' example
        "  Type           Status  Reason\n"
        "  ----           ------  ------\n"
        "  Available      True    MinimumReplicasAvailable\n"
        "  Progressing    True    NewReplicaSetAvailable\n"
        "OldReplicaSets:  <none>\n"
        f"NewReplicaSet:   {new} (3/3 replicas created)\n"
        "Events:\n"
        "  Type    Reason             Age              From                   Message\n"
        "  ----    ------             ----             ----                   -------\n"
        f"  Normal  ScalingReplicaSet  3h (x2 over 3h)  deployment-controller  "
        f"Scaled up replica set {new} to 3\n"
    )


def test_describe_deployment_shows_manifest_errors_and_old_replica_sets(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid edit is visible (Manifest Errors) while the old RS still serves; no events."""
    old, new = _web(world)
    world.store.set_replicaset("default", old, replicas=2, status={"replicas": 2})
    error = "manifests/web.yaml:9:7: error: spec.replicas: 'x' is not of type 'integer' (schema)"
    world.status(
        **complete_status(
            rollout={"currentPodHash": new.rsplit("-", 1)[1]},
            invalid=[error],
            conditions=[condition("Progressing", "True", "ReplicaSetUpdated")],
        )
    )
    assert world.cli("describe", "deploy/web") == 0
    out = capsys.readouterr().out
    assert (
        "Conditions:\n"
        "  Type          Status  Reason\n"
        "  ----          ------  ------\n"
        "  Progressing   True    ReplicaSetUpdated\n"
        "Manifest Errors:\n"
        f"  {error}\n"
        "Drift:\n"
        "  Reason:        InvalidManifest\n"
        f"  Running:       revision 2 (web:2), ReplicaSet {new}\n"
        "  Folder Asks:   a manifest that cannot be applied\n"
        f"  Why:           {error}\n"
        "  Resolve:       fix the file at manifests/web.yaml:9:7\n"
        f"OldReplicaSets:  {old} (2/2 replicas created)\n"
        f"NewReplicaSet:   {new} (3/3 replicas created)\n"
        "Events:          <none>\n"
    ) in out


def test_describe_canary_deployment_has_a_rollout_section(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """BlueGreen/Canary deployments show phase, step, weights and pause reasons."""
    world.deployment(
        strategy={"type": "Canary", "canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}
    )
    rs = world.revision(replicas=3)
    rollout = {
        "phase": "Paused",
        "message": "CanaryPauseStep",
        "currentStepIndex": 1,
        "setWeight": 20,
        "actualWeight": 20,
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": 0}],
        "currentPodHash": rs.hash,
    }
    world.status(**complete_status(rollout=rollout))
    assert world.cli("describe", "deployment", "web") == 0
    assert (
        "Rollout:\n"
        "  Phase:         Paused\n"
        "  Message:       CanaryPauseStep\n"
        "  Step:          1/2\n"
        "  SetWeight:     20\n"
        "  ActualWeight:  20\n"
        "  Paused:        CanaryPauseStep\n"
    ) in capsys.readouterr().out


def test_describe_pod_shows_container_states(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """State, Last State, Ready, Restart Count, host ports and redacted env of a crashing pod."""
    _, new = _web(world)
    rs = world.store.get_replicaset("default", new)
    assert rs is not None
    crashing = container(
        "web",
        "web:2",
        state=ContainerState.WAITING,
        ready=False,
        reason="CrashLoopBackOff",
        restarts=4,
        last_exit_code=1,
        last_reason="Error",
    )
    world.pod(rs, "fghij", ready=False, containers=(crashing,), port=41234)
    assert world.cli("describe", "pod", f"{new}-fghij") == 0
    start = rfc1123z(world.now - HOURS_3)
    assert capsys.readouterr().out == (
        f"Name:           {new}-fghij\n"
        "Namespace:      default\n"
        "Node:           localhost/127.0.0.1\n"
        f"Start Time:     {start}\n"
        "Labels:         app=web\n"
        f"                pod-template-hash={rs.hash}\n"
        "Annotations:    <none>\n"
        "Status:         Running\n"
        "IP:             127.0.0.1\n"
        f"Controlled By:  ReplicaSet/{new}\n"
        "Containers:\n"
        "  web:\n"
        "    Image:      web:2\n"
        "    Port:       8080/TCP\n"
        "    Host Port:  41234/TCP\n"
        "    Command:\n"
        "      python3\n"
        "      -m\n"
        "      http.server\n"
        "    State:          Waiting\n"
        "      Reason:       CrashLoopBackOff\n"
        "    Last State:     Terminated\n"
        "      Reason:       Error\n"
        "      Exit Code:    1\n"
        "    Ready:          False\n"
        "    Restart Count:  4\n"
        "    Environment:\n"
        "      MODE:       fast\n"
        "      API_TOKEN:  <redacted>\n"
        "    Mounts:       <none>\n"
        "Conditions:\n"
        "  Type              Status\n"
        "  Initialized       True \n"
        "  Ready             False \n"
        "  ContainersReady   False \n"
        "  PodScheduled      True \n"
        "Volumes:            <none>\n"
        "Events:             <none>\n"
    )


def test_describe_service_lists_ready_endpoints(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Endpoints are the Ready pods' host:port for the targetPort; others are left out."""
    _, new = _web(world)
    rs = world.store.get_replicaset("default", new)
    assert rs is not None
    world.pod(rs, "aaaaa", port=40001)
    world.pod(rs, "bbbbb", port=40002, ready=False)
    world.pod(rs, "ccccc", port=40003)
    world.service("web", selector={"app": "web"}, port=8000, target=8080)
    assert world.cli("describe", "service", "web") == 0
    assert capsys.readouterr().out == (
        "Name:              web\n"
        "Namespace:         default\n"
        "Labels:            <none>\n"
        "Annotations:       <none>\n"
        "Selector:          app=web\n"
        "Type:              ClusterIP\n"
        "IP:                127.0.0.1\n"
        "Port:              <unset>  8000/TCP\n"
        "TargetPort:        8080/TCP\n"
        "Endpoints:         127.0.0.1:40001,127.0.0.1:40003\n"
        "Session Affinity:  None\n"
        "Events:            <none>\n"
    )


def test_describe_replicaset_counts_pods(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A ReplicaSet page: owner, replicas and pod phases."""
    _, new = _web(world)
    rs = world.store.get_replicaset("default", new)
    assert rs is not None
    world.pod(rs, "aaaaa")
    assert world.cli("describe", "rs", new) == 0
    out = capsys.readouterr().out
    assert "Controlled By:  Deployment/web\n" in out
    assert "Replicas:       3 current / 3 desired\n" in out
    assert "Pods Status:    1 Running / 0 Waiting / 0 Succeeded / 0 Failed\n" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["deployment", "nope"], 'deployments.apps "nope" not found', id="deployment"),
        pytest.param(["pod", "nope"], 'pods "nope" not found', id="pod"),
        pytest.param(["svc/nope"], 'services "nope" not found', id="service"),
    ],
)
def test_describe_missing_object_is_kubectl_not_found(
    world: World, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """A missing object prints kubectl's NotFound error and exits 1."""
    assert world.cli("describe", *argv) == 1
    assert capsys.readouterr().err == f"Error from server (NotFound): {message}\n"
