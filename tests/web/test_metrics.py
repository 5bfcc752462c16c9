"""/metrics: kube-state-metrics and Argo Rollouts names whose values are the store's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.runtime import PodStatus
from tests.e2e.harness import DaemonProcess, wait_for
from tests.e2e.load import fetch_version
from tests.e2e.test_walkthrough import write
from tests.ports import free_port
from tests.web.client import request
from tests.web.manifests import canary, rolling

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(daemon: DaemonProcess) -> Samples:
    code, body = request(daemon.http_url() + "/metrics")
    assert code == 200
    out: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, metric: str, **labels: str) -> float:
    key = (metric, frozenset(labels.items()))
    assert key in samples, f"{metric}{labels} not in /metrics"
    return samples[key]


def matching(samples: Samples, metric: str, **labels: str) -> dict[frozenset[Any], float]:
    want = set(labels.items())
    return {k[1]: v for k, v in samples.items() if k[0] == metric and want <= k[1]}


def rollout(daemon: DaemonProcess, name: str) -> dict[str, Any]:
    return dict(daemon.status(name).get("rollout", {}))


Seen = tuple[dict[str, dict[str, Any]], list[PodStatus]]  # statuses by name, pods


def still_scrape(daemon: DaemonProcess, names: tuple[str, ...]) -> tuple[Samples, Seen] | None:
    """A scrape and the store's statuses and pods, when the store was the same just before and
    just after it (the scrape must then show exactly that state); None when it moved."""

    def read() -> Seen:
        return {n: daemon.status(n) for n in names}, daemon.pods()

    before = read()
    samples = scrape(daemon)
    after = read()
    return (samples, after) if before == after else None


def test_metrics_match_the_store_during_a_canary(
    folder: Path, start_daemon: Any, token: str
) -> None:
    """Deployment, pod, rollout and proxy series equal the store's figures before and at a pause."""
    port = free_port()
    write(folder, "cn", canary("cn", "demo:1", token=token, port=port))
    write(folder, "web", rolling("web", "demo:1", token=token, replicas=1))
    daemon = start_daemon()
    wait_for(lambda: rollout(daemon, "cn").get("phase") == "Healthy", what="cn healthy")
    wait_for(lambda: rollout(daemon, "web").get("phase") == "Healthy", what="web healthy")

    # the store may change between two reads (a probe, a restart): compare a scrape with the
    # state the store held all through it
    samples, (statuses, pods) = wait_for(
        lambda: still_scrape(daemon, ("cn", "web")), what="a scrape of a still store"
    )
    for name in ("cn", "web"):
        status = statuses[name]
        d = {"namespace": "default", "deployment": name}
        assert value(samples, "kube_deployment_spec_replicas", **d) == (2 if name == "cn" else 1)
        for metric, field in (
            ("kube_deployment_status_replicas_available", "availableReplicas"),
            ("kube_deployment_status_replicas_updated", "updatedReplicas"),
            ("kube_deployment_status_replicas_ready", "readyReplicas"),
            ("kube_deployment_status_replicas", "replicas"),
        ):
            assert value(samples, metric, **d) == status[field], metric
        assert value(samples, "kube_deployment_spec_paused", **d) == 0
        for condition in status["conditions"]:
            series = matching(
                samples, "kube_deployment_status_condition", condition=condition["type"], **d
            )
            true = {dict(k)["status"]: v for k, v in series.items()}
            assert true[condition["status"].lower()] == 1.0, condition
            assert sum(true.values()) == 1.0
    info = matching(samples, "rollout_info", namespace="default", name="cn")
    assert [dict(k)["phase"] for k in info] == ["Healthy"]
    assert [dict(k)["strategy"] for k in info] == ["Canary"]
    assert len(pods) == 3
    for pod in pods:
        uid_series = matching(samples, "kube_pod_info", namespace="default", pod=pod.name)
        assert len(uid_series) == 1
        phase = matching(samples, "kube_pod_status_phase", pod=pod.name, phase=str(pod.phase))
        assert list(phase.values()) == [1.0]
        restarts = matching(samples, "kube_pod_container_status_restarts_total", pod=pod.name)
        assert list(restarts.values()) == [float(pod.containers[0].restart_count)]
    assert matching(samples, "rollout_reconcile_count", name="cn")
    assert sum(matching(samples, "rollout_events_total", name="cn").values()) >= 1

    # the canary: paused at 50%, traffic split through the proxy, counted per revision
    write(folder, "cn", canary("cn", "demo:2", token=token, port=port))
    wait_for(
        lambda: (
            rollout(daemon, "cn").get("phase") == "Paused"
            and rollout(daemon, "cn").get("actualWeight") == 50
        ),
        what="paused at 50%",
    )
    versions = [fetch_version(port) for _ in range(40)]
    assert set(versions) == {"1", "2"}
    samples, (statuses, _) = wait_for(
        lambda: (
            (still := still_scrape(daemon, ("cn",)))
            and sum(
                matching(still[0], "reconciler_service_connections_total", service="cn").values()
            )
            >= 40
            and still
        ),
        what="connections counted",
    )
    info = matching(samples, "rollout_info", namespace="default", name="cn")
    assert [dict(k)["phase"] for k in info] == ["Paused"]
    assert (
        value(
            samples,
            "reconciler_rollout_canary_weight",
            namespace="default",
            name="cn",
            kind="actual",
        )
        == 50
    )
    by_revision = {
        dict(k)["revision"]: v
        for k, v in matching(samples, "reconciler_service_connections_total", service="cn").items()
    }
    assert by_revision == {"1": versions.count("1"), "2": versions.count("2")}
    sent = matching(samples, "reconciler_service_bytes_sent_total", service="cn", revision="2")
    assert next(iter(sent.values())) > 0
    assert (
        value(
            samples, "kube_deployment_status_replicas_updated", namespace="default", deployment="cn"
        )
        == statuses["cn"]["updatedReplicas"]
    )
    assert matching(samples, "rollout_events_total", name="cn", reason="RolloutPaused")
