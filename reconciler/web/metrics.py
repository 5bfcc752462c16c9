"""``/metrics``: the names Prometheus dashboards already use, in prometheus-client's text format.

- kube-state-metrics for Deployments (``kube_deployment_*``, labels ``namespace``,
  ``deployment``), ReplicaSets (``kube_replicaset_*``: ``replicaset``) and pods (``kube_pod_*``:
  ``pod``, ``uid``, ``container``), with its conditions as ``{condition, status, reason}``;
- Argo Rollouts' controller metrics: ``rollout_info{namespace,name,strategy,traffic_router,
  phase}``, ``rollout_info_replicas_*``, the ``rollout_reconcile`` histogram (Argo's buckets),
  ``rollout_events_total{namespace,name,type,reason}``, and ``notification_send_success`` /
  ``notification_send_error`` / ``notification_send`` for the webhooks;
- the Service proxy, per Service port and traffic group, with the revision the group routes to:
  ``reconciler_service_connections_total``, ``..._active_connections``,
  ``..._connect_failures_total``, ``..._bytes_received_total``, ``..._bytes_sent_total``,
  ``..._refused_connections_total``; canary weights and analysis failures per deployment.

State metrics are computed at scrape time from the store (on the web server's reader thread,
never on the daemon's loop); counters and histograms that only the running daemon knows
(reconcile durations, events seen, notifications) live in ``Live``. A scrape of 300
deployments x 2 pods takes a few tens of milliseconds (bench/web/).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.samples import Sample

from reconciler import __version__
from reconciler.cli.rollout_tree import rollout_status_word
from reconciler.engine.fenceposts import resolve_fenceposts
from reconciler.objects import Kind, ObjectRef
from reconciler.proxy import ListenerStats
from reconciler.store import Store
from reconciler.web.views import ServiceIndex, group_revisions

__all__ = ["RECONCILE_BUCKETS", "Live", "render_metrics"]

RECONCILE_BUCKETS = (0.01, 0.15, 0.25, 0.5, 1.0)  # Argo Rollouts' rollout_reconcile buckets
_POD_PHASES = ("Pending", "Succeeded", "Failed", "Unknown", "Running")
_CONDITION_STATUSES = ("true", "false", "unknown")
# kube-state-metrics keeps the reason label to the deployment controller's own reasons
_DEPLOYMENT_REASONS = frozenset(
    {
        "ReplicaSetUpdated",
        "ReplicaSetCreateError",
        "NewReplicaSetCreated",
        "FoundNewReplicaSet",
        "NewReplicaSetAvailable",
        "ProgressDeadlineExceeded",
        "DeploymentPaused",
        "DeploymentResumed",
        "MinimumReplicasAvailable",
        "MinimumReplicasUnavailable",
        "",
    }
)


class _Histogram:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * len(RECONCILE_BUCKETS)
        self.count = 0
        self.sum = 0.0


class Live:
    """What only the running daemon knows; written on the loop, read by a scrape (a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reconcile: dict[tuple[str, str], _Histogram] = {}
        self.notify_time: dict[tuple[str, str], _Histogram] = {}
        self.events: dict[tuple[str, str, str, str], int] = {}
        self.sent: dict[tuple[str, str, str, str], int] = {}
        self.failed: dict[tuple[str, str, str, str], int] = {}
        self.attempts_failed: dict[str, int] = {}
        self.dropped: dict[str, int] = {}

    def _observe(self, table: dict[tuple[str, str], _Histogram], key: Any, seconds: float) -> None:
        with self._lock:
            histogram = table.get(key)
            if histogram is None:
                histogram = table[key] = _Histogram()
            histogram.count += 1
            histogram.sum += seconds
            for i, bound in enumerate(RECONCILE_BUCKETS):
                if seconds <= bound:
                    histogram.buckets[i] += 1

    def reconciled(self, ref: ObjectRef, seconds: float) -> None:
        self._observe(self.reconcile, (ref.namespace, ref.name), seconds)

    def event(self, ref: ObjectRef, *, type: str, reason: str, count: int = 1) -> None:
        with self._lock:
            key = (ref.namespace, ref.name, type, reason)
            self.events[key] = self.events.get(key, 0) + count

    def notified(
        self, ref: ObjectRef, *, reason: str, ok: bool, seconds: float, webhook: str
    ) -> None:
        key = (ref.namespace, ref.name, "webhook", reason)
        with self._lock:
            table = self.sent if ok else self.failed
            table[key] = table.get(key, 0) + 1
        self._observe(self.notify_time, (ref.namespace, ref.name), seconds)

    def attempt_failed(self, webhook: str) -> None:
        with self._lock:
            self.attempts_failed[webhook] = self.attempts_failed.get(webhook, 0) + 1

    def dropped_notification(self, webhook: str) -> None:
        with self._lock:
            self.dropped[webhook] = self.dropped.get(webhook, 0) + 1

    def copy(self) -> dict[str, Any]:
        with self._lock:
            return {
                "reconcile": {
                    k: (list(h.buckets), h.count, h.sum) for k, h in self.reconcile.items()
                },
                "notify_time": {
                    k: (list(h.buckets), h.count, h.sum) for k, h in self.notify_time.items()
                },
                "events": dict(self.events),
                "sent": dict(self.sent),
                "failed": dict(self.failed),
                "attempts_failed": dict(self.attempts_failed),
                "dropped": dict(self.dropped),
            }


class _Family(Metric):
    """One family whose samples carry a fixed list of label names (cheaper than the
    ``*MetricFamily`` helpers, which rebuild the label dict from keyword checks)."""

    def __init__(self, name: str, doc: str, typ: str, labels: Sequence[str], sample: str):
        super().__init__(name, doc, typ)
        self.label_names = tuple(labels)
        self.sample = sample

    def add(self, values: Sequence[str], value: float) -> None:
        self.samples.append(
            Sample(self.sample, dict(zip(self.label_names, values, strict=True)), float(value))
        )


def _gauge(name: str, doc: str, labels: Sequence[str]) -> _Family:
    return _Family(name, doc, "gauge", labels, name)


def _counter(name: str, doc: str, labels: Sequence[str]) -> _Family:
    """A counter named as Prometheus' text format wants it (``x_total``); Argo's counters
    without the suffix (``notification_send_success``) keep their exact name as untyped, the
    only way prometheus-client writes a counter sample without ``_total``."""
    if name.endswith("_total"):
        return _Family(name.removesuffix("_total"), doc, "counter", labels, name)
    return _Family(name, doc, "unknown", labels, name)


def _histograms(
    name: str, doc: str, table: Mapping[tuple[str, str], tuple[list[int], int, float]]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["namespace", "name"])
    for (namespace, object_name), (buckets, count, total) in sorted(table.items()):
        cumulative = [
            (str(bound), float(n)) for bound, n in zip(RECONCILE_BUCKETS, buckets, strict=True)
        ]
        cumulative.append(("+Inf", float(count)))
        family.add_metric([namespace, object_name], cumulative, total)
    return family


def _pod_uid(namespace: str, name: str, created_at: float) -> str:
    """A stable uid per pod (kube-state-metrics labels pods with their uid)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"reconciler:{namespace}/{name}/{created_at}"))


class _StateCollector:
    """One scrape: reads the store once and yields every family."""

    def __init__(
        self,
        store: Store,
        stats: Mapping[str, Sequence[ListenerStats]],
        live: Live,
        analysis_failures: Callable[[ObjectRef, str], int] | None,
    ) -> None:
        self.store = store
        self.stats = stats
        self.live = live
        self.analysis_failures = analysis_failures

    def collect(self) -> Iterator[Metric]:
        store = self.store
        deployments = store.list_objects(Kind.DEPLOYMENT)
        services = store.list_objects(Kind.SERVICE)
        replicasets = store.list_all_replicasets()
        pods = store.list_pods()
        rows_of: dict[tuple[str, str], list[Any]] = {}
        for rs in replicasets:
            rows_of.setdefault((rs.namespace, rs.deployment), []).append(rs)
        yield from self._deployments(deployments, rows_of)
        yield from self._replicasets(replicasets)
        yield from self._pods(pods)
        yield from self._proxy(deployments, services, rows_of)
        yield from self._live()

    def _deployments(
        self, deployments: Sequence[Any], rows_of: Mapping[tuple[str, str], list[Any]]
    ) -> Iterator[Metric]:
        labels = ("namespace", "deployment")
        f = {
            key: _gauge(f"kube_deployment_{key}", doc, labels)
            for key, doc in (
                ("created", "Unix creation timestamp"),
                ("spec_replicas", "Number of desired pods for a deployment."),
                (
                    "spec_paused",
                    "Whether the deployment is paused and will not be processed by "
                    "the deployment controller.",
                ),
                (
                    "spec_strategy_rollingupdate_max_unavailable",
                    "Maximum number of unavailable "
                    "replicas during a rolling update of a deployment.",
                ),
                (
                    "spec_strategy_rollingupdate_max_surge",
                    "Maximum number of replicas that can "
                    "be scheduled above the desired number of replicas during a rolling update of "
                    "a deployment.",
                ),
                (
                    "metadata_generation",
                    "Sequence number representing a specific generation of the desired state.",
                ),
                (
                    "status_observed_generation",
                    "The generation observed by the deployment controller.",
                ),
                ("status_replicas", "The number of replicas per deployment."),
                ("status_replicas_ready", "The number of ready replicas per deployment."),
                ("status_replicas_available", "The number of available replicas per deployment."),
                (
                    "status_replicas_unavailable",
                    "The number of unavailable replicas per deployment.",
                ),
                ("status_replicas_updated", "The number of updated replicas per deployment."),
            )
        }
        condition = _gauge(
            "kube_deployment_status_condition",
            "The current status conditions of a deployment.",
            (*labels, "reason", "condition", "status"),
        )
        info = _gauge(
            "rollout_info",
            "Information about rollout.",
            ("namespace", "name", "strategy", "traffic_router", "phase"),
        )
        argo = {
            key: _gauge(
                f"rollout_info_replicas_{key}",
                f"The number of {key} replicas per rollout.",
                ("namespace", "name"),
            )
            for key in ("available", "unavailable", "desired", "updated")
        }
        analysis = _gauge(
            "reconciler_rollout_analysis_failures",
            "Failed canary analysis checks of the revision being rolled out.",
            ("namespace", "name", "revision"),
        )
        weight = _gauge(
            "reconciler_rollout_canary_weight",
            "Canary: the share of new connections the proxy gives the canary (actualWeight) and "
            "the one the current step asks for (setWeight), in percent.",
            ("namespace", "name", "kind"),
        )
        for obj in deployments:
            spec, status = obj.spec["spec"], obj.status
            key = (obj.ref.namespace, obj.ref.name)
            replicas = int(spec.get("replicas", 1))

            def get(field: str, status: Mapping[str, Any] = status) -> float:
                return float(status.get(field, 0) or 0)

            f["created"].add(key, int(obj.created_at))
            f["spec_replicas"].add(key, replicas)
            f["spec_paused"].add(key, 1.0 if spec.get("paused") else 0.0)
            strategy = spec.get("strategy") or {}
            kind = str(strategy.get("type", "RollingUpdate"))
            if kind == "RollingUpdate":
                rolling = strategy.get("rollingUpdate") or {}
                surge, unavailable = resolve_fenceposts(
                    rolling.get("maxSurge", "25%"),
                    rolling.get("maxUnavailable", "25%"),
                    replicas=replicas,
                )
                f["spec_strategy_rollingupdate_max_unavailable"].add(key, unavailable)
                f["spec_strategy_rollingupdate_max_surge"].add(key, surge)
            f["metadata_generation"].add(key, obj.generation)
            f["status_observed_generation"].add(key, get("observedGeneration"))
            f["status_replicas"].add(key, get("replicas"))
            f["status_replicas_ready"].add(key, get("readyReplicas"))
            f["status_replicas_available"].add(key, get("availableReplicas"))
            unavailable_now = status.get("unavailableReplicas")
            if unavailable_now is None:
                unavailable_now = max(replicas - int(get("availableReplicas")), 0)
            f["status_replicas_unavailable"].add(key, float(unavailable_now))
            f["status_replicas_updated"].add(key, get("updatedReplicas"))
            for cond in status.get("conditions") or []:
                reason = str(cond.get("reason", ""))
                if reason not in _DEPLOYMENT_REASONS:
                    reason = "unknown"
                given = str(cond.get("status", "Unknown")).lower()
                for value in _CONDITION_STATUSES:
                    condition.add(
                        [*key, reason, str(cond.get("type", "")), value],
                        1.0 if given == value else 0.0,
                    )
            phase, _ = rollout_status_word(obj)
            if phase == "InvalidSpec":
                phase = "Degraded"  # Argo's phase for an invalid spec; the message says why
            router = "reconciler-proxy" if kind in ("Canary", "BlueGreen") else ""
            info.add([*key, kind, router, phase], 1.0)
            argo["available"].add(key, get("availableReplicas"))
            argo["unavailable"].add(key, max(get("replicas") - get("availableReplicas"), 0))
            argo["desired"].add(key, replicas)
            argo["updated"].add(key, get("updatedReplicas"))
            rollout = status.get("rollout") or {}
            if kind == "Canary":
                weight.add([*key, "actual"], float(rollout.get("actualWeight", 0) or 0))
                weight.add([*key, "set"], float(rollout.get("setWeight", 0) or 0))
                current = str(rollout.get("currentPodHash") or "")
                checked = (strategy.get("canary") or {}).get("analysis")
                if checked and current and current != rollout.get("stableRS"):
                    failures = (
                        self.analysis_failures(obj.ref, current) if self.analysis_failures else 0
                    )
                    revision = next(
                        (str(r.revision) for r in rows_of.get(key, []) if r.hash == current), ""
                    )
                    analysis.add([*key, revision], failures)
        yield from f.values()
        yield condition
        yield info
        yield from argo.values()
        yield weight
        yield analysis

    def _replicasets(self, replicasets: Sequence[Any]) -> Iterator[Metric]:
        labels = ("namespace", "replicaset")
        f = {
            key: _gauge(f"kube_replicaset_{key}", doc, labels)
            for key, doc in (
                ("created", "Unix creation timestamp"),
                ("spec_replicas", "Number of desired pods for a ReplicaSet."),
                ("status_replicas", "The number of replicas per ReplicaSet."),
                ("status_ready_replicas", "The number of ready replicas per ReplicaSet."),
                (
                    "status_fully_labeled_replicas",
                    "The number of fully labeled replicas per ReplicaSet.",
                ),
            )
        }
        owner = _gauge(
            "kube_replicaset_owner",
            "Information about the ReplicaSet's owner.",
            (*labels, "owner_kind", "owner_name", "owner_is_controller"),
        )
        for rs in replicasets:
            key = (rs.namespace, rs.name)
            current = float(rs.status.get("replicas", 0) or 0)
            f["created"].add(key, int(rs.created_at))
            f["spec_replicas"].add(key, rs.replicas)
            f["status_replicas"].add(key, current)
            f["status_ready_replicas"].add(key, float(rs.status.get("readyReplicas", 0)))
            f["status_fully_labeled_replicas"].add(key, current)
            owner.add([*key, "Deployment", rs.deployment, "true"], 1.0)
        yield from f.values()
        yield owner

    def _pods(self, pods: Sequence[Any]) -> Iterator[Metric]:
        base = ("namespace", "pod", "uid")
        per_container = (*base, "container")
        info = _gauge(
            "kube_pod_info",
            "Information about pod.",
            (
                *base,
                "host_ip",
                "pod_ip",
                "node",
                "created_by_kind",
                "created_by_name",
                "priority_class",
                "host_network",
            ),
        )
        owner = _gauge(
            "kube_pod_owner",
            "Information about the Pod's owner.",
            (*base, "owner_kind", "owner_name", "owner_is_controller"),
        )
        created = _gauge("kube_pod_created", "Unix creation timestamp", base)
        phase = _gauge("kube_pod_status_phase", "The pods current phase.", (*base, "phase"))
        ready = _gauge(
            "kube_pod_status_ready",
            "Describes whether the pod is ready to serve requests.",
            (*base, "condition"),
        )
        container_info = _gauge(
            "kube_pod_container_info",
            "Information about a container in a pod.",
            (*per_container, "image_spec", "image", "image_id", "container_id"),
        )
        restarts = _counter(
            "kube_pod_container_status_restarts_total",
            "The number of container restarts per container.",
            per_container,
        )
        states = {
            key: _gauge(
                f"kube_pod_container_status_{key}",
                f"Describes whether the container is currently in {key} state.",
                per_container,
            )
            for key in ("ready", "running", "waiting", "terminated")
        }
        waiting = _gauge(
            "kube_pod_container_status_waiting_reason",
            "Describes the reason the container is currently in waiting state.",
            (*per_container, "reason"),
        )
        terminated = _gauge(
            "kube_pod_container_status_terminated_reason",
            "Describes the reason the container is currently in terminated state.",
            (*per_container, "reason"),
        )
        last = _gauge(
            "kube_pod_container_status_last_terminated_reason",
            "Describes the last reason the container was in terminated state.",
            (*per_container, "reason"),
        )
        for record in pods:
            status = record.status
            key = [
                record.namespace,
                record.name,
                _pod_uid(record.namespace, record.name, record.created_at),
            ]
            ip = str(status.get("ip", "127.0.0.1"))
            info.add([*key, ip, ip, "localhost", "ReplicaSet", record.owner, "", "true"], 1)
            owner.add([*key, "ReplicaSet", record.owner, "true"], 1.0)
            created.add(key, int(record.created_at))
            current = str(status.get("phase", "Pending"))
            for name in _POD_PHASES:
                phase.add([*key, name], 1.0 if current == name else 0.0)
            is_ready = bool(status.get("ready"))
            for value in _CONDITION_STATUSES:
                ready.add([*key, value], 1.0 if (value == "true") == is_ready else 0.0)
            for c in status.get("containers") or []:
                ckey = [*key, str(c.get("name", ""))]
                image = str(c.get("image", ""))
                container_info.add([*ckey, image, image, "", ""], 1.0)
                restarts.add(ckey, int(c.get("restart_count", 0)))
                state = str(c.get("state", "Waiting")).lower()
                states["ready"].add(ckey, 1.0 if c.get("ready") else 0.0)
                for name in ("running", "waiting", "terminated"):
                    states[name].add(ckey, 1.0 if state == name else 0.0)
                reason = str(c.get("reason", ""))
                if state == "waiting" and reason:
                    waiting.add([*ckey, reason], 1.0)
                if state == "terminated" and reason:
                    terminated.add([*ckey, reason], 1.0)
                if c.get("last_reason"):
                    last.add([*ckey, str(c["last_reason"])], 1.0)
        yield from (info, owner, created, phase, ready, container_info, restarts)
        yield from states.values()
        yield from (waiting, terminated, last)

    def _proxy(
        self,
        deployments: Sequence[Any],
        services: Sequence[Any],
        rows_of: Mapping[tuple[str, str], list[Any]],
    ) -> Iterator[Metric]:
        index = ServiceIndex(deployments, services)
        by_ref = {d.ref: d for d in deployments}
        labels = ("namespace", "service", "port", "group", "revision")
        names = (
            ("connections_total", "Connections the Service proxy forwarded."),
            ("active_connections", "Connections the Service proxy is relaying now."),
            (
                "connect_failures_total",
                "Connects to an endpoint that failed (retried on another endpoint).",
            ),
            ("bytes_received_total", "Bytes the proxy received from clients."),
            ("bytes_sent_total", "Bytes the proxy sent to clients."),
        )
        f = {
            key: (_counter if key.endswith("_total") else _gauge)(
                f"reconciler_service_{key}", doc, labels
            )
            for key, doc in names
        }
        refused = _counter(
            "reconciler_service_refused_connections_total",
            "Connections reset at once because no endpoint could take them.",
            ("namespace", "service", "port"),
        )
        for service, listeners in sorted(self.stats.items()):
            namespace, _, name = service.partition("/")
            owner = index.owner.get(service)
            revisions: Mapping[str, str] = {}
            if owner is not None and owner in by_ref:
                rollout = by_ref[owner].status.get("rollout") or {}
                revisions = group_revisions(rollout, rows_of.get((owner.namespace, owner.name), []))
            for listener in listeners:
                refused.add([namespace, name, listener.port_name], listener.refused)
                for g in listener.groups:
                    key = [namespace, name, listener.port_name, g.name, revisions.get(g.name, "")]
                    f["connections_total"].add(key, g.total)
                    f["active_connections"].add(key, g.active)
                    f["connect_failures_total"].add(key, g.failed)
                    f["bytes_received_total"].add(key, getattr(g, "bytes_in", 0))
                    f["bytes_sent_total"].add(key, getattr(g, "bytes_out", 0))
        yield from f.values()
        yield refused

    def _live(self) -> Iterator[Metric]:
        live = self.live.copy()
        yield _histograms(
            "rollout_reconcile", "Rollout reconciliation performance.", live["reconcile"]
        )
        four = ("namespace", "name", "type", "reason")
        for name, doc, table in (
            ("rollout_events_total", "Count of rollout events", live["events"]),
            ("notification_send_success", "Notification send success.", live["sent"]),
            ("notification_send_error", "Error sending the notification", live["failed"]),
        ):
            family = _counter(name, doc, four)
            for key, value in sorted(table.items()):
                family.add(key, value)
            yield family
        yield _histograms(
            "notification_send", "Notification send performance.", live["notify_time"]
        )
        for name, doc, table in (
            (
                "reconciler_webhook_attempt_failures_total",
                "Webhook deliveries that failed and "
                "were retried or given up (by receiver, scheme://host:port).",
                live["attempts_failed"],
            ),
            (
                "reconciler_webhook_dropped_total",
                "Notifications dropped because a receiver's queue was full.",
                live["dropped"],
            ),
        ):
            family = _counter(name, doc, ("webhook",))
            for webhook, value in sorted(table.items()):
                family.add([webhook], value)
            yield family
        build = _gauge("reconciler_build_info", "The running reconciler's version.", ("version",))
        build.add([__version__], 1.0)
        yield build


_PROCESS = CollectorRegistry(auto_describe=False)
ProcessCollector(registry=_PROCESS)


def render_metrics(
    store: Store,
    *,
    stats: Mapping[str, Sequence[ListenerStats]],
    live: Live,
    analysis_failures: Callable[[ObjectRef, str], int] | None = None,
) -> bytes:
    """The whole exposition (text format 0.0.4) of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StateCollector(store, stats, live, analysis_failures))
    return bytes(generate_latest(registry) + generate_latest(_PROCESS))
