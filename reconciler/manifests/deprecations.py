"""Deprecated and removed apiVersions per Kubernetes version (Pluto's rule, Pluto's data).

A manifest that validated for years fails the day the cluster is upgraded past the version that
removed its apiVersion (``extensions/v1beta1`` Ingress in 1.22, ``batch/v1beta1`` CronJob in
1.25). ``validate`` says so before the upgrade: a warning once the target version deprecates
an apiVersion, an error once it removed it, each naming the replacement.

>>> [getattr(find("batch/v1beta1", "CronJob", v), "severity", None) for v in ("1.26", "1.23")]
['error', 'warning']
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEPRECATIONS", "Deprecation", "find"]


@dataclass(frozen=True, slots=True)
class Deprecation:
    api_version: str
    kind: str
    deprecated: str
    removed: str
    replacement: str
    """The apiVersion to move to; empty when the kind itself is gone."""

    def message(self, version: str) -> str:
        instead = (
            f"; use {self.replacement}"
            if self.replacement
            else "; the kind has no replacement in Kubernetes"
        )
        if _at_least(version, self.removed):
            return (
                f"{self.api_version} {self.kind} was removed in Kubernetes {self.removed} "
                f"(target {version}){instead}"
            )
        return (
            f"{self.api_version} {self.kind} is deprecated since Kubernetes {self.deprecated} "
            f"and removed in {self.removed}{instead}"
        )


# apiVersion | kinds | deprecated in | removed in | replacement ("-": none)
_TABLE = """
extensions/v1beta1 | Deployment DaemonSet ReplicaSet | 1.9 | 1.16 | apps/v1
apps/v1beta1 | Deployment StatefulSet | 1.9 | 1.16 | apps/v1
apps/v1beta2 | Deployment DaemonSet ReplicaSet StatefulSet | 1.9 | 1.16 | apps/v1
extensions/v1beta1 | NetworkPolicy | 1.9 | 1.16 | networking.k8s.io/v1
extensions/v1beta1 | PodSecurityPolicy | 1.10 | 1.16 | policy/v1beta1
extensions/v1beta1 | Ingress | 1.14 | 1.22 | networking.k8s.io/v1
networking.k8s.io/v1beta1 | Ingress IngressClass | 1.19 | 1.22 | networking.k8s.io/v1
rbac.authorization.k8s.io/v1alpha1 | ClusterRole ClusterRoleBinding Role RoleBinding | 1.17 | 1.22 | rbac.authorization.k8s.io/v1
rbac.authorization.k8s.io/v1beta1 | ClusterRole ClusterRoleBinding Role RoleBinding | 1.17 | 1.22 | rbac.authorization.k8s.io/v1
apiextensions.k8s.io/v1beta1 | CustomResourceDefinition | 1.16 | 1.22 | apiextensions.k8s.io/v1
admissionregistration.k8s.io/v1beta1 | MutatingWebhookConfiguration ValidatingWebhookConfiguration | 1.16 | 1.22 | admissionregistration.k8s.io/v1
apiregistration.k8s.io/v1beta1 | APIService | 1.19 | 1.22 | apiregistration.k8s.io/v1
authentication.k8s.io/v1beta1 | TokenReview | 1.19 | 1.22 | authentication.k8s.io/v1
authorization.k8s.io/v1beta1 | SubjectAccessReview LocalSubjectAccessReview SelfSubjectAccessReview | 1.19 | 1.22 | authorization.k8s.io/v1
certificates.k8s.io/v1beta1 | CertificateSigningRequest | 1.19 | 1.22 | certificates.k8s.io/v1
coordination.k8s.io/v1beta1 | Lease | 1.19 | 1.22 | coordination.k8s.io/v1
scheduling.k8s.io/v1beta1 | PriorityClass | 1.14 | 1.22 | scheduling.k8s.io/v1
storage.k8s.io/v1beta1 | CSIDriver CSINode StorageClass VolumeAttachment | 1.19 | 1.22 | storage.k8s.io/v1
batch/v1beta1 | CronJob | 1.21 | 1.25 | batch/v1
discovery.k8s.io/v1beta1 | EndpointSlice | 1.21 | 1.25 | discovery.k8s.io/v1
events.k8s.io/v1beta1 | Event | 1.19 | 1.25 | events.k8s.io/v1
autoscaling/v2beta1 | HorizontalPodAutoscaler | 1.22 | 1.25 | autoscaling/v2
policy/v1beta1 | PodDisruptionBudget | 1.21 | 1.25 | policy/v1
policy/v1beta1 | PodSecurityPolicy | 1.21 | 1.25 | -
node.k8s.io/v1beta1 | RuntimeClass | 1.20 | 1.25 | node.k8s.io/v1
autoscaling/v2beta2 | HorizontalPodAutoscaler | 1.23 | 1.26 | autoscaling/v2
flowcontrol.apiserver.k8s.io/v1beta1 | FlowSchema PriorityLevelConfiguration | 1.23 | 1.26 | flowcontrol.apiserver.k8s.io/v1
storage.k8s.io/v1beta1 | CSIStorageCapacity | 1.24 | 1.27 | storage.k8s.io/v1
flowcontrol.apiserver.k8s.io/v1beta2 | FlowSchema PriorityLevelConfiguration | 1.26 | 1.29 | flowcontrol.apiserver.k8s.io/v1
flowcontrol.apiserver.k8s.io/v1beta3 | FlowSchema PriorityLevelConfiguration | 1.29 | 1.32 | flowcontrol.apiserver.k8s.io/v1
"""  # noqa: E501


def _parse(table: str) -> tuple[Deprecation, ...]:
    rows = []
    for line in table.strip().splitlines():
        api, kinds, deprecated, removed, replacement = (part.strip() for part in line.split("|"))
        rows += [
            Deprecation(api, kind, deprecated, removed, "" if replacement == "-" else replacement)
            for kind in kinds.split()
        ]
    return tuple(rows)


DEPRECATIONS = _parse(_TABLE)

_INDEX = {(d.api_version, d.kind): d for d in DEPRECATIONS}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _at_least(version: str, other: str) -> bool:
    return _key(version) >= _key(other)


@dataclass(frozen=True, slots=True)
class Hit:
    """A deprecation that applies at the target version."""

    deprecation: Deprecation
    severity: str
    """``error`` when removed at the target version, else ``warning``."""
    message: str


def find(api_version: str, kind: str, version: str) -> Hit | Deprecation | None:
    """The deprecation of ``apiVersion`` ``kind`` at ``version``, if it is deprecated by then.

    Returns a ``Hit`` when it applies at ``version``, the ``Deprecation`` itself when it is
    known but not yet deprecated at ``version``, else None.
    """
    found = _INDEX.get((api_version, kind))
    if found is None:
        return None
    if _at_least(version, found.removed):
        return Hit(found, "error", found.message(version))
    if _at_least(version, found.deprecated):
        return Hit(found, "warning", found.message(version))
    return found
