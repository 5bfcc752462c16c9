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
from dataclasses import dataclass
from itertools import chain
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector

from reconciler import __version__
from reconciler.engine.serialize import rollout_of
from reconciler.objects import Kind, ObjectRef
from reconciler.proxy import ListenerStats
from reconciler.store import AppliedObject, PodRecord, ReplicaSetRow, Store
from reconciler.store.scan import pod_of
from reconciler.web.kube_metrics import (
    Family,
    HistogramFamily,
    counter,
    deployment_families,
    gauge,
    pod_families,
    replicaset_families,
)
from reconciler.web.traffic_metrics import Totals, render_traffic
from reconciler.web.views import ServiceIndex, group_revisions

__all__ = ["RECONCILE_BUCKETS", "Live", "Metrics", "render_metrics"]

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
) -> HistogramFamily:
    family = HistogramFamily(name, doc, RECONCILE_BUCKETS)
    for key, (buckets, count, total) in sorted(table.items()):
        family.add(key, buckets, count, total)
    return family


_STATUS_COLUMN = 11  # of a scan's object row: the ones before it are the object's own

# the state families' HELP/TYPE lines, in the order /metrics writes them
_HEADERS = tuple(
    f.header()
    for f in chain(deployment_families([], {}, None), replicaset_families([]), pod_families([]))
)


@dataclass(slots=True)
class _Entry:
    obj: AppliedObject
    rows: list[ReplicaSetRow]
    parts: tuple[str, ...]  # this deployment's sample lines in each family (in _FAMILIES order)
    revisions: dict[str, str]  # traffic group -> revision (views.group_revisions)
    raw: tuple[Any, ...]  # the scan's rows it was rendered from (object, ReplicaSets, pods)
    analysis: tuple[str, int] | None  # (pod hash, failures) its analysis series shows


def _analysed_hash(obj: AppliedObject) -> str | None:
    """The canary revision whose analysis failures the deployment's series show, if any
    (as ``deployment_families`` decides it)."""
    strategy = obj.spec["spec"].get("strategy") or {}
    if str(strategy.get("type", "RollingUpdate")) != "Canary":
        return None
    rollout = rollout_of(obj.status)
    checked = (strategy.get("canary") or {}).get("analysis")
    return rollout.current_pod_hash if checked and rollout.updating else None


def _entry(
    obj: AppliedObject,
    rows: list[ReplicaSetRow],
    pods: Sequence[PodRecord],
    analysis_failures: Callable[[ObjectRef, str], int] | None,
    *,
    raw: tuple[Any, ...] = (),
) -> _Entry:
    rows_of = {(obj.ref.namespace, obj.ref.name): rows}
    analysed = _analysed_hash(obj)
    failures = analysis_failures(obj.ref, analysed) if analysed and analysis_failures else 0

    def fixed(ref: ObjectRef, rs_hash: str) -> int:
        return failures  # the figure the entry records, read once

    families = chain(
        deployment_families([obj], rows_of, fixed), replicaset_families(rows), pod_families(pods)
    )
    parts = tuple(family.lines() if family.rows else "" for family in families)
    assert len(parts) == len(_HEADERS)
    return _Entry(
        obj,
        rows,
        parts,
        group_revisions(rollout_of(obj.status), rows),
        raw,
        (analysed, failures) if analysed else None,
    )


def _proxy_families() -> list[Family]:
    labels = ("namespace", "service", "port", "group", "revision")
    families = [
        counter(
            "reconciler_service_connections_total",
            "Connections the Service proxy forwarded.",
            labels,
        ),
        gauge(
            "reconciler_service_active_connections",
            "Connections the Service proxy is relaying now.",
            labels,
        ),
        counter(
            "reconciler_service_connect_failures_total",
            "Connects to an endpoint that failed (retried on another endpoint).",
            labels,
        ),
        counter(
            "reconciler_service_bytes_received_total",
            "Bytes the proxy received from clients.",
            labels,
        ),
        counter("reconciler_service_bytes_sent_total", "Bytes the proxy sent to clients.", labels),
        counter(
            "reconciler_service_refused_connections_total",
            "Connections reset at once because no endpoint could take them.",
            ("namespace", "service", "port"),
        ),
    ]
    return families


def _proxy_samples(
    families: list[Family],
    service: str,
    listeners: Sequence[ListenerStats],
    revisions: Mapping[str, str],
) -> None:
    total, active, failed, received, sent, refused = families
    namespace, _, name = service.partition("/")
    for listener in listeners:
        refused.add([namespace, name, listener.port_name], listener.refused)
        for g in listener.groups:
            key = [namespace, name, listener.port_name, g.name, revisions.get(g.name, "")]
            total.add(key, g.total)
            active.add(key, g.active)
            failed.add(key, g.failed)
            received.add(key, g.bytes_in)
            sent.add(key, g.bytes_out)


class Metrics:
    """Renders ``/metrics``, keeping each deployment's lines until the store's rows for it change.

    A full read and render of 300 deployments x 2 pods (20,000 samples) costs a few hundred
    milliseconds of Python; a scrape every 15 s must not. The cache is keyed on the store's own
    word, never on the daemon's passes (a status, a ReplicaSet's counts or the pods may be
    written outside a pass, or committed before its hook runs): a scrape first asks SQLite
    whether anything was committed since the last one (``Store.change_mark``); if so it reads
    the raw rows of one committed state (``Store.scan``) and re-renders the deployments whose
    object, status, ReplicaSet or pod rows differ from the ones their lines were made from. So
    no scrape serves a figure older than what the store held when it began. Analysis failures
    live in the daemon, not the store: those are asked again on every scrape.
    """

    def __init__(self, live: Live) -> None:
        self.live = live
        self._mark: tuple[int, int] | None = None  # the store's change mark at the last scan
        self._entries: dict[ObjectRef, _Entry] = {}
        self._services_raw: Sequence[Any] = ()
        self._services: list[AppliedObject] = []
        self._index: ServiceIndex | None = None  # rebuilt when deployments or services change
        self._proxy_lines: dict[str, tuple[Any, list[str]]] = {}  # service -> (stats, lines)
        self._state_bytes = b""  # the deployment, ReplicaSet and pod families, as last rendered
        self._proxy_bytes = b""

    @staticmethod
    def _stale_analysis(
        ref: ObjectRef, entry: _Entry, analysis_failures: Callable[[ObjectRef, str], int] | None
    ) -> bool:
        """The daemon counts another failure than the one the entry's lines show."""
        if entry.analysis is None:
            return False
        rs_hash, failures = entry.analysis
        return (analysis_failures(ref, rs_hash) if analysis_failures else 0) != failures

    def _analysis_moved(self, analysis_failures: Callable[[ObjectRef, str], int] | None) -> bool:
        return any(
            self._stale_analysis(ref, e, analysis_failures) for ref, e in self._entries.items()
        )

    def _refresh(
        self, store: Store, analysis_failures: Callable[[ObjectRef, str], int] | None
    ) -> None:
        if (
            self._index is not None
            and store.change_mark() == self._mark
            and not self._analysis_moved(analysis_failures)
        ):
            return  # nothing committed since the last scan
        scan = store.scan()
        rs_of: dict[tuple[str, str], list[Any]] = {}
        deployment_of: dict[tuple[str, str], tuple[str, str]] = {}  # (ns, rs) -> (ns, deploy)
        for row in scan.replicasets:  # name, namespace, deployment, ...
            rs_of.setdefault((row[1], row[2]), []).append(row)
            deployment_of[(row[1], row[0])] = (row[1], row[2])
        pods_of: dict[tuple[str, str], list[Any]] = {}
        for row in scan.pods:  # name, namespace, owner, deployment, ...
            key = deployment_of.get((row[1], row[2])) or (row[1], row[3])
            pods_of.setdefault(key, []).append(row)
        changed = self._index is None
        if scan.services != self._services_raw or self._index is None:
            self._services_raw = scan.services
            self._services = [Store.parse_object(row) for row in scan.services]
            changed = True
        specs_changed = changed  # what the Service index depends on: the objects, no status
        entries: dict[ObjectRef, _Entry] = {}
        for row in scan.deployments:  # kind, namespace, name, ...
            key = (row[1], row[2])
            raw = (row, tuple(rs_of.get(key, ())), tuple(pods_of.get(key, ())))
            ref = ObjectRef(Kind.DEPLOYMENT, row[1], row[2])
            old = self._entries.get(ref)
            if (
                old is not None
                and old.raw == raw
                and not self._stale_analysis(ref, old, analysis_failures)
            ):
                entries[ref] = old
                continue
            if old is None or old.raw[0][:_STATUS_COLUMN] != row[:_STATUS_COLUMN]:
                specs_changed = True
            entries[ref] = _entry(
                Store.parse_object(row),
                [Store.parse_replicaset(r) for r in raw[1]],
                [pod_of(p) for p in raw[2]],
                analysis_failures,
                raw=raw,
            )
            changed = True
        if entries.keys() != self._entries.keys():
            changed = specs_changed = True
        self._entries = entries
        self._mark = scan.mark
        if changed:
            ordered = [entries[ref] for ref in sorted(entries)]
            if specs_changed:
                self._index = ServiceIndex([e.obj for e in ordered], self._services)
            out: list[str] = []
            # zip(*...) turns the deployments' parts into one column per family, in C
            columns = list(zip(*(e.parts for e in ordered), strict=True)) or [()] * len(_HEADERS)
            for header, column in zip(_HEADERS, columns, strict=True):
                out.append(header)
                out.extend(column)
            self._state_bytes = "".join(out).encode()

    def render(
        self,
        store: Store,
        *,
        stats: Mapping[str, Sequence[ListenerStats]],
        analysis_failures: Callable[[ObjectRef, str], int] | None = None,
        traffic: Totals | None = None,
    ) -> bytes:
        """The whole exposition (text format 0.0.4) of one scrape (on the reader thread)."""
        self._refresh(store, analysis_failures)
        numbers = {
            (ref.namespace, rs.hash): str(rs.revision)
            for ref, entry in self._entries.items()
            for rs in entry.rows
        }
        proxy = self._proxy(stats) + render_traffic(traffic or {}, numbers).encode()
        out: list[str] = []
        for family in self._live():
            family.render(out)
        return self._state_bytes + proxy + "".join(out).encode() + generate_latest(_PROCESS)

    def _proxy(self, stats: Mapping[str, Sequence[ListenerStats]]) -> bytes:
        """The proxy's families; a Service's lines are rendered again only when its counters
        (or the revisions its groups route to) changed since the last scrape."""
        index = self._index
        changed = set(self._proxy_lines) != set(stats)
        for service, listeners in stats.items():
            owner = index.owner.get(service) if index is not None else None
            entry = self._entries.get(owner) if owner is not None else None
            revisions = entry.revisions if entry is not None else {}
            cached = self._proxy_lines.get(service)
            if cached is None or cached[0] != (listeners, revisions):
                fresh = _proxy_families()
                _proxy_samples(fresh, service, listeners, revisions)
                self._proxy_lines[service] = ((listeners, revisions), [f.lines() for f in fresh])
                changed = True
        if changed or not self._proxy_bytes:
            for gone in set(self._proxy_lines) - set(stats):
                del self._proxy_lines[gone]
            ordered = [self._proxy_lines[s][1] for s in sorted(self._proxy_lines)]
            out: list[str] = []
            for i, family in enumerate(_proxy_families()):
                out.append(family.header())
                out.extend(lines[i] for lines in ordered)
            self._proxy_bytes = "".join(out).encode()
        return self._proxy_bytes

    def _live(self) -> Iterator[Family | HistogramFamily]:
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
    """One scrape without a cache (everything read and rendered now)."""
    return Metrics(live).render(store, stats=stats, analysis_failures=analysis_failures)
