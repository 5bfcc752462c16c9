"""``validate --lint``: best practices, each a check with a stable id (kube-linter's idea).

A manifest can be valid and still be a bad idea: ``:latest`` images that change under a rollout,
pods without readiness probes that take traffic before they can serve it, containers without
limits, running as root. Each check has an id that never changes meaning, so CI configurations
and suppressions stay valid across releases; findings are warnings (errors with ``--strict``),
and one object opts out of a check with the annotation ``reconciler.dev/ignore: ID[,ID]``.

The pod checks apply to every kind with a pod template (Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job, CronJob, Rollout, Pod). The strategy checks (``manifests.lintstrategy``) are
the ones no peer has: whether a canary or blue-green rollout can do what it says.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import Severity
from reconciler.manifests.load import Document
from reconciler.manifests.schema import Finding, Path

__all__ = ["CHECKS", "Check", "lint_all", "lint_object", "pod_specs"]


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    summary: str
    remedy: str


CHECKS: tuple[Check, ...] = (
    Check("latest-tag", "image uses the :latest tag or no tag",
          "pin a version tag (or a digest) so every pod of a rollout runs the same code"),
    Check("no-readiness-probe", "container has no readiness probe",
          "add readinessProbe so pods get traffic only once they can serve it"),
    Check("liveness-equals-readiness", "liveness probe identical to the readiness probe",
          "make liveness laxer than readiness (longer period or threshold), or a pod that is "
          "only busy gets restarted"),
    Check("no-resource-limits", "container sets no resource limits",
          "set resources.limits.memory (and cpu) so one pod cannot starve the node"),
    Check("no-resource-requests", "container sets no resource requests",
          "set resources.requests.cpu and memory so the scheduler can place the pod"),
    Check("run-as-non-root", "runAsNonRoot is not set",
          "set securityContext.runAsNonRoot: true on the pod or every container"),
    Check("privileged", "container runs privileged",
          "drop securityContext.privileged; grant only the capabilities it needs"),
    Check("host-namespace", "pod shares the host's network, PID or IPC namespace",
          "remove hostNetwork/hostPID/hostIPC unless the pod is a node agent"),
    Check("service-selects-nothing", "Service selector matches no pod template in the files",
          "fix the selector or the pod labels; the Service would have no endpoints"),
    Check("canary-weight-unrealisable",
          "canary setWeight that the replicas cannot show without traffic routing",
          "use weights that are multiples of 100/replicas, more replicas, or trafficRouting"),
    Check("progress-deadline-pause", "progressDeadlineSeconds shorter than the longest pause",
          "raise progressDeadlineSeconds above the longest timed pause, or shorten the pause"),
    Check("bluegreen-preview-is-active",
          "blue-green preview Service that selects the active pods",
          "give the preview its own Service, whose selector only the rollout's pods match"),
)  # fmt: skip
IDS = frozenset(check.id for check in CHECKS)

_TEMPLATE_KINDS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "Rollout": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
_HOST = ("hostNetwork", "hostPID", "hostIPC")


def _warn(path: Path, message: str, rule: str, *, at: Path | None = None) -> Finding:
    return Finding(path, message, rule, Severity.WARNING, at=at)


def _get(obj: Any, path: Path) -> Any:
    for step in path:
        if isinstance(step, str) and isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(step, int) and isinstance(obj, list) and 0 <= step < len(obj):
            obj = obj[step]
        else:
            return None
    return obj


def pod_specs(obj: dict[str, Any]) -> tuple[Path, dict[str, Any], dict[str, str]] | None:
    """(path of the pod spec, the pod spec, its labels) of an object that makes pods."""
    kind = obj.get("kind")
    path: Path
    if kind == "Pod":
        spec, labels, path = obj.get("spec"), _get(obj, ("metadata", "labels")), ("spec",)
    elif isinstance(kind, str) and kind in _TEMPLATE_KINDS:
        template = _TEMPLATE_KINDS[kind]
        spec, labels = _get(obj, (*template, "spec")), _get(obj, (*template, "metadata", "labels"))
        path = (*template, "spec")
    else:
        return None
    if not isinstance(spec, dict):
        return None
    return path, spec, labels if isinstance(labels, dict) else {}


def lint_object(obj: dict[str, Any]) -> list[Finding]:
    """The per-object checks' findings (warnings)."""
    found = pod_specs(obj)
    out: list[Finding] = []
    if found is not None:
        path, spec, _ = found
        serving = obj.get("kind") not in ("Job", "CronJob")  # readiness means nothing to a job
        out.extend(_pod(spec, path, serving=serving))
    from reconciler.manifests.lintstrategy import strategy_findings

    out.extend(strategy_findings(obj))
    return out


def lint_all(documents: Sequence[Document]) -> list[tuple[int, Finding]]:
    """The checks across objects: (document index, finding)."""
    from reconciler.manifests.lintstrategy import cross_findings

    return cross_findings([doc.obj for doc in documents])


def _pod(spec: dict[str, Any], path: Path, *, serving: bool) -> Iterator[Finding]:
    for key in _HOST:
        if spec.get(key) is True:
            yield _warn((*path, key), f"{key}: true shares the host's namespace", "host-namespace")
    pod_context = spec.get("securityContext")
    pod_non_root = isinstance(pod_context, dict) and pod_context.get("runAsNonRoot") is True
    containers = spec.get("containers")
    if not isinstance(containers, list):
        return
    for index, container in enumerate(containers):
        if isinstance(container, dict):
            yield from _container(
                container, (*path, "containers", index), pod_non_root, serving=serving
            )


def _container(
    container: dict[str, Any], path: Path, pod_non_root: bool, *, serving: bool
) -> Iterator[Finding]:
    image = container.get("image")
    if isinstance(image, str) and "@" not in image:
        tag = image.rpartition("/")[2].partition(":")[2]
        if tag in ("", "latest"):
            what = "the :latest tag" if tag else "no tag (so :latest)"
            yield _warn((*path, "image"), f'image "{image}" uses {what}', "latest-tag")
    readiness, liveness = container.get("readinessProbe"), container.get("livenessProbe")
    if readiness is None and serving:
        yield _warn((*path, "readinessProbe"), "no readinessProbe", "no-readiness-probe", at=path)
    elif readiness is not None and liveness == readiness:
        yield _warn(
            (*path, "livenessProbe"),
            "livenessProbe is identical to readinessProbe: a pod that is only slow is "
            "restarted instead of taken out of the Service",
            "liveness-equals-readiness",
        )
    resources = container.get("resources")
    resources = resources if isinstance(resources, dict) else {}
    for key, rule in (("limits", "no-resource-limits"), ("requests", "no-resource-requests")):
        if not resources.get(key):
            yield _warn((*path, "resources", key), f"no resources.{key}", rule, at=path)
    context = container.get("securityContext")
    context = context if isinstance(context, dict) else {}
    if context.get("privileged") is True:
        yield _warn((*path, "securityContext", "privileged"), "privileged: true", "privileged")
    if not pod_non_root and context.get("runAsNonRoot") is not True:
        yield _warn(
            (*path, "securityContext", "runAsNonRoot"),
            "runAsNonRoot is not set (on the pod or the container): it may run as root",
            "run-as-non-root",
            at=path,
        )
