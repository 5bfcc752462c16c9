"""The kube-state-metrics and Argo Rollouts families of ``/metrics``, from store rows.

Names, label names and help texts are kube-state-metrics' (``internal/store/deployment.go``,
``replicaset.go``, ``pod.go``) and the Argo Rollouts controller's (``rollout_info`` and its
``_replicas_*`` gauges), so existing dashboards and alerts work unchanged. A Condition's
``reason`` label is kept to the deployment controller's own reasons ("unknown" otherwise), as
kube-state-metrics does; pods get a stable ``uid`` derived from their name and creation time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from reconciler.cli.rollout_tree import rollout_status_word
from reconciler.engine.fenceposts import resolve_fenceposts
from reconciler.engine.serialize import rollout_of
from reconciler.objects import ObjectRef

__all__ = [
    "Family",
    "HistogramFamily",
    "counter",
    "deployment_families",
    "gauge",
    "pod_families",
    "replicaset_families",
]

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


def _escape(value: str) -> str:
    r"""A label value as the text format writes it (backslash, quote and newline escaped).

    >>> print(_escape('a"b\\c'))
    a\"b\\c
    """
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def _number(value: float) -> str:
    """Go's formatting of the special values, Python's shortest repr of the others."""
    value = float(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


class Prefix(NamedTuple):
    """The first labels of many samples, escaped and joined once (a pod's namespace, name and
    uid are the same in its fifteen series)."""

    text: str
    size: int


def prefix(names: Sequence[str], values: Sequence[str]) -> Prefix:
    text = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(names, values, strict=True))
    return Prefix(text, len(names))


_COMMON = {0.0: "0.0", 1.0: "1.0"}


class Family:
    """One metric family with a fixed list of label names, written straight to the text
    format (0.0.4). prometheus-client's ``generate_latest`` re-validates every label name of
    every sample (about 15 us a sample: 300 ms for the 20,000 samples of 300 deployments x 2
    pods); here the names are fixed identifiers checked once, values are escaped once per
    object (``Prefix``), and a sample costs one string format."""

    __slots__ = ("doc", "label_names", "name", "rows", "sample", "type")

    def __init__(self, name: str, doc: str, typ: str, labels: Sequence[str], sample: str):
        self.name = name
        self.doc = doc
        self.type = typ
        self.label_names = tuple(labels)
        self.sample = sample
        self.rows: list[tuple[str, float]] = []

    def add(self, values: Sequence[str], value: float) -> None:
        self.rows.append((prefix(self.label_names, values).text, value))

    def add_at(self, at: Prefix, extra: Sequence[str], value: float) -> None:
        """A sample whose first labels are ``at`` and the rest ``extra``."""
        if extra:
            names = self.label_names[at.size :]
            more = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(names, extra, strict=True))
            self.rows.append((f"{at.text},{more}", value))
        else:
            self.rows.append((at.text, value))

    def header(self) -> str:
        doc = self.doc.replace("\\", "\\\\").replace("\n", "\\n")
        return f"# HELP {self.sample} {doc}\n# TYPE {self.sample} {self.type}\n"

    def lines(self) -> str:
        sample, common = self.sample, _COMMON
        return "".join(
            f"{sample}{{{text}}} {common.get(value) or _number(value)}\n"
            if text
            else f"{sample} {common.get(value) or _number(value)}\n"
            for text, value in self.rows
        )

    def render(self, out: list[str]) -> None:
        out.append(self.header())
        out.append(self.lines())


def gauge(name: str, doc: str, labels: Sequence[str]) -> Family:
    return Family(name, doc, "gauge", labels, name)


def counter(name: str, doc: str, labels: Sequence[str]) -> Family:
    """A counter named as Prometheus' text format wants it (``x_total``); Argo's counters
    without the suffix (``notification_send_success``) keep their exact name as untyped, as
    prometheus-client does for a counter without ``_total``."""
    if name.endswith("_total"):
        return Family(name.removesuffix("_total"), doc, "counter", labels, name)
    return Family(name, doc, "untyped", labels, name)


class HistogramFamily:
    """A histogram per (namespace, name): ``_bucket{le}``, ``_count`` and ``_sum``."""

    __slots__ = ("bounds", "doc", "name", "rows")

    def __init__(self, name: str, doc: str, bounds: Sequence[float]) -> None:
        self.name = name
        self.doc = doc
        self.bounds = tuple(bounds)
        self.rows: list[tuple[tuple[str, str], list[int], int, float]] = []

    def add(self, key: tuple[str, str], buckets: list[int], count: int, total: float) -> None:
        self.rows.append((key, buckets, count, total))

    def render(self, out: list[str]) -> None:
        name = self.name
        out.append(f"# HELP {name} {self.doc}\n# TYPE {name} histogram\n")
        for (namespace, object_name), buckets, count, total in self.rows:
            labels = f'namespace="{_escape(namespace)}",name="{_escape(object_name)}"'
            for bound, n in zip(self.bounds, buckets, strict=True):
                out.append(f'{name}_bucket{{{labels},le="{bound}"}} {float(n)!r}\n')
            out.append(f'{name}_bucket{{{labels},le="+Inf"}} {float(count)!r}\n')
            out.append(f"{name}_count{{{labels}}} {float(count)!r}\n")
            out.append(f"{name}_sum{{{labels}}} {float(total)!r}\n")


def _pod_uid(namespace: str, name: str, created_at: float) -> str:
    """A stable uid per pod (kube-state-metrics labels pods with their uid)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"reconciler:{namespace}/{name}/{created_at}"))


def deployment_families(
    deployments: Sequence[Any],
    rows_of: Mapping[tuple[str, str], list[Any]],
    analysis_failures: Callable[[ObjectRef, str], int] | None,
) -> Iterator[Family]:
    """kube-state-metrics' Deployment families and Argo Rollouts' rollout_info ones."""
    labels = ("namespace", "deployment")
    f = {
        key: gauge(f"kube_deployment_{key}", doc, labels)
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
                "Maximum number of unavailable replicas during a rolling update of a deployment.",
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
    condition = gauge(
        "kube_deployment_status_condition",
        "The current status conditions of a deployment.",
        (*labels, "reason", "condition", "status"),
    )
    info = gauge(
        "rollout_info",
        "Information about rollout.",
        ("namespace", "name", "strategy", "traffic_router", "phase"),
    )
    argo = {
        key: gauge(
            f"rollout_info_replicas_{key}",
            f"The number of {key} replicas per rollout.",
            ("namespace", "name"),
        )
        for key in ("available", "unavailable", "desired", "updated")
    }
    analysis = gauge(
        "reconciler_rollout_analysis_failures",
        "Failed canary analysis checks of the revision being rolled out.",
        ("namespace", "name", "revision"),
    )
    weight = gauge(
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
        rollout = rollout_of(status)
        if kind == "Canary":
            weight.add([*key, "actual"], float(rollout.actual_weight or 0))
            weight.add([*key, "set"], float(rollout.set_weight or 0))
            current = rollout.current_pod_hash
            checked = (strategy.get("canary") or {}).get("analysis")
            if checked and rollout.updating:
                failures = analysis_failures(obj.ref, current) if analysis_failures else 0
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


def replicaset_families(replicasets: Sequence[Any]) -> Iterator[Family]:
    """kube-state-metrics' ReplicaSet families."""
    labels = ("namespace", "replicaset")
    f = {
        key: gauge(f"kube_replicaset_{key}", doc, labels)
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
    owner = gauge(
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


def pod_families(pods: Sequence[Any]) -> Iterator[Family]:
    """kube-state-metrics' pod and container families."""
    base = ("namespace", "pod", "uid")
    per_container = (*base, "container")
    info = gauge(
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
    owner = gauge(
        "kube_pod_owner",
        "Information about the Pod's owner.",
        (*base, "owner_kind", "owner_name", "owner_is_controller"),
    )
    created = gauge("kube_pod_created", "Unix creation timestamp", base)
    phase = gauge("kube_pod_status_phase", "The pods current phase.", (*base, "phase"))
    ready = gauge(
        "kube_pod_status_ready",
        "Describes whether the pod is ready to serve requests.",
        (*base, "condition"),
    )
    container_info = gauge(
        "kube_pod_container_info",
        "Information about a container in a pod.",
        (*per_container, "image_spec", "image", "image_id", "container_id"),
    )
    restarts = counter(
        "kube_pod_container_status_restarts_total",
        "The number of container restarts per container.",
        per_container,
    )
    states = {
        key: gauge(
            f"kube_pod_container_status_{key}",
            f"Describes whether the container is currently in {key} state.",
            per_container,
        )
        for key in ("ready", "running", "waiting", "terminated")
    }
    waiting = gauge(
        "kube_pod_container_status_waiting_reason",
        "Describes the reason the container is currently in waiting state.",
        (*per_container, "reason"),
    )
    terminated = gauge(
        "kube_pod_container_status_terminated_reason",
        "Describes the reason the container is currently in terminated state.",
        (*per_container, "reason"),
    )
    last = gauge(
        "kube_pod_container_status_last_terminated_reason",
        "Describes the last reason the container was in terminated state.",
        (*per_container, "reason"),
    )
    for record in pods:
        status = record.status
        key = prefix(
            base,
            (
                record.namespace,
                record.name,
                _pod_uid(record.namespace, record.name, record.created_at),
            ),
        )
        ip = str(status.get("ip", "127.0.0.1"))
        info.add_at(key, (ip, ip, "localhost", "ReplicaSet", record.owner, "", "true"), 1.0)
        owner.add_at(key, ("ReplicaSet", record.owner, "true"), 1.0)
        created.add_at(key, (), int(record.created_at))
        current = str(status.get("phase", "Pending"))
        for name in _POD_PHASES:
            phase.add_at(key, (name,), 1.0 if current == name else 0.0)
        is_ready = bool(status.get("ready"))
        for value in _CONDITION_STATUSES:
            ready.add_at(key, (value,), 1.0 if (value == "true") == is_ready else 0.0)
        for c in status.get("containers") or []:
            ckey = Prefix(f'{key.text},container="{_escape(str(c.get("name", "")))}"', 4)
            image = str(c.get("image", ""))
            container_info.add_at(ckey, (image, image, "", ""), 1.0)
            restarts.add_at(ckey, (), int(c.get("restart_count", 0)))
            state = str(c.get("state", "Waiting")).lower()
            states["ready"].add_at(ckey, (), 1.0 if c.get("ready") else 0.0)
            for name in ("running", "waiting", "terminated"):
                states[name].add_at(ckey, (), 1.0 if state == name else 0.0)
            reason = str(c.get("reason", ""))
            if state == "waiting" and reason:
                waiting.add_at(ckey, (reason,), 1.0)
            if state == "terminated" and reason:
                terminated.add_at(ckey, (reason,), 1.0)
            if c.get("last_reason"):
                last.add_at(ckey, (str(c["last_reason"]),), 1.0)
    yield from (info, owner, created, phase, ready, container_info, restarts)
    yield from states.values()
    yield from (waiting, terminated, last)
