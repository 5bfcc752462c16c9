"""Object identity and kubectl's ways of naming objects.

An ``ObjectRef`` is (kind, namespace, name). kubectl users name objects as
``deployment/web``, ``deploy/web``, ``deployment.apps/web``, ``deployment.v1.apps/web`` or
``deployment web``; ``parse_resource`` accepts all of them and ``ObjectRef.display`` gives the
name printer's spelling (``deployment.apps/web``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from reconciler.errors import UsageError

DEFAULT_NAMESPACE = "default"


class Kind(enum.StrEnum):
    DEPLOYMENT = "Deployment"
    SERVICE = "Service"
    REPLICASET = "ReplicaSet"
    POD = "Pod"
    CONFIGMAP = "ConfigMap"
    SECRET = "Secret"


# kubectl's resource spellings -> kind. Qualified forms (deployment.apps, deployment.v1.apps) are
# resolved by stripping the group first.
_ALIASES: dict[str, Kind] = {
    "deployment": Kind.DEPLOYMENT,
    "deployments": Kind.DEPLOYMENT,
    "deploy": Kind.DEPLOYMENT,
    "service": Kind.SERVICE,
    "services": Kind.SERVICE,
    "svc": Kind.SERVICE,
    "replicaset": Kind.REPLICASET,
    "replicasets": Kind.REPLICASET,
    "rs": Kind.REPLICASET,
    "pod": Kind.POD,
    "pods": Kind.POD,
    "po": Kind.POD,
    "configmap": Kind.CONFIGMAP,
    "configmaps": Kind.CONFIGMAP,
    "cm": Kind.CONFIGMAP,
    "secret": Kind.SECRET,
    "secrets": Kind.SECRET,
}

_GROUPS: dict[Kind, str] = {
    Kind.DEPLOYMENT: "deployment.apps",
    Kind.REPLICASET: "replicaset.apps",
    Kind.SERVICE: "service",
    Kind.POD: "pod",
    Kind.CONFIGMAP: "configmap",
    Kind.SECRET: "secret",
}

API_VERSIONS: dict[Kind, str] = {
    Kind.DEPLOYMENT: "apps/v1",
    Kind.SERVICE: "v1",
    Kind.REPLICASET: "apps/v1",
    Kind.POD: "v1",
    Kind.CONFIGMAP: "v1",
    Kind.SECRET: "v1",
}


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    kind: Kind
    namespace: str
    name: str

    @property
    def display(self) -> str:
        """The name printer's form: ``deployment.apps/web``."""
        return f"{_GROUPS[self.kind]}/{self.name}"

    @property
    def key(self) -> str:
        """A stable key for maps and the store: ``Deployment/default/web``."""
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def namespaced(self) -> str:
        """``default/web``: the object's ``namespace/name`` (see ``namespaced_name``)."""
        return namespaced_name(self.namespace, self.name)

    def __str__(self) -> str:
        return self.display


def namespaced_name(namespace: str, name: str) -> str:
    """``namespace/name``, as Kubernetes writes a namespaced name (``types.NamespacedName``).

    The key of a Service's proxy listeners and of the per-object views; built here only, so
    that every reader and writer of such a key agrees.

    >>> namespaced_name("shop", "cart"), ObjectRef(Kind.SERVICE, "default", "web").namespaced
    ('shop/cart', 'default/web')
    """
    return f"{namespace}/{name}"


def parse_kind(word: str) -> Kind:
    """``deployment.v1.apps`` -> Kind.DEPLOYMENT; raises UsageError for unknown types."""
    base = word.lower().split(".", 1)[0]
    try:
        return _ALIASES[base]
    except KeyError:
        raise UsageError(f'error: the server doesn\'t have a resource type "{word}"') from None


def parse_resource(
    args: list[str], *, namespace: str = DEFAULT_NAMESPACE, default_kind: Kind | None = None
) -> ObjectRef:
    """Parse ``["deployment/web"]``, ``["deploy", "web"]`` or (with a default kind) ``["web"]``."""
    if len(args) == 1 and "/" in args[0]:
        kind_word, _, name = args[0].partition("/")
        kind = parse_kind(kind_word)
    elif len(args) == 2:
        kind, name = parse_kind(args[0]), args[1]
    elif len(args) == 1 and default_kind is not None:
        kind, name = default_kind, args[0]
    else:
        raise UsageError("error: you must specify a resource as TYPE/NAME or TYPE NAME")
    if not name:
        raise UsageError("error: resource name may not be empty")
    return ObjectRef(kind, namespace, name)
