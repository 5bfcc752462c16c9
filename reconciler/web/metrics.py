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
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from reconciler import __version__
from reconciler.objects import Kind, ObjectRef
from reconciler.proxy import ListenerStats
from reconciler.store import Store
from reconciler.web.kube_metrics import (
    counter,
    deployment_families,
    gauge,
    pod_families,
    replicaset_families,
)
from reconciler.web.views import ServiceIndex, group_revisions

__all__ = ["RECONCILE_BUCKETS", "Live", "render_metrics"]

RECONCILE_BUCKETS = (0.01, 0.15, 0.25, 0.5, 1.0)  # Argo Rollouts' rollout_reconcile buckets


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
        yield from deployment_families(deployments, rows_of, self.analysis_failures)
        yield from replicaset_families(replicasets)
        yield from pod_families(pods)
        yield from self._proxy(deployments, services, rows_of)
        yield from self._live()

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
            key: (counter if key.endswith("_total") else gauge)(
                f"reconciler_service_{key}", doc, labels
            )
            for key, doc in names
        }
        refused = counter(
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
            family = counter(name, doc, four)
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
            family = counter(name, doc, ("webhook",))
            for webhook, value in sorted(table.items()):
                family.add([webhook], value)
            yield family
        build = gauge("reconciler_build_info", "The running reconciler's version.", ("version",))
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
