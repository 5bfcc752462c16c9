"""What the kubelet reads when it creates a pod: the ConfigMaps and Secrets its template uses
(as they are now) and the Kubernetes service variables of its namespace, read from the store
into a ``PodConfig`` the runtime resolves env and configMap/secret volumes from.

Also the one case where that changes a running pod: a pod waiting in
``CreateContainerConfigError`` for a ConfigMap, Secret or key that exists now is replaced (the
runtime resolved its env when it was created), which is how it "starts once the object
appears" even for a Deployment that opted out of rolling on config changes. Only the newest
revision's pods are replaced so: when the object's arrival changed the config hash, the new
revision's pods take over from the waiting ones, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.manifests.configdata import config_values, template_references
from reconciler.manifests.podenv import ConfigError, PodFacts, container_env, service_variables
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import PodConfig, PodStatus
from reconciler.store import EngineStore, ReplicaSetRow

__all__ = ["config_now_resolves", "pod_config"]


def pod_config(store: EngineStore, namespace: str, template: Mapping[str, Any]) -> PodConfig:
    """The ConfigMaps and Secrets ``template`` uses, as they are now, and the namespace's
    service variables (what the kubelet reads when it creates a pod)."""
    wanted = template_references(template)
    config_maps: dict[str, Mapping[str, bytes]] = {}
    secret_values: dict[str, Mapping[str, bytes]] = {}
    for word, name in wanted:  # only what the template uses: one indexed read each
        kind = Kind.CONFIGMAP if word == "configmap" else Kind.SECRET
        obj = store.get_object(ObjectRef(kind, namespace, name))
        if obj is not None:
            target = config_maps if kind is Kind.CONFIGMAP else secret_values
            target[name] = config_values(str(kind), obj.spec)
    bind = store.get_meta("bind") or "127.0.0.1"
    host = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
    services = [
        (
            s.ref.name,
            host,
            [
                (str(p.get("name") or ""), int(p["port"]), str(p.get("protocol") or "TCP"))
                for p in s.spec.get("spec", {}).get("ports") or []
                if isinstance(p, Mapping) and "port" in p
            ],
        )
        for s in store.list_objects(Kind.SERVICE, namespace)
    ]
    return PodConfig(
        config_maps=config_maps, secrets=secret_values, services=service_variables(services)
    )


def config_now_resolves(
    store: EngineStore, namespace: str, row: ReplicaSetRow, pods: Sequence[PodStatus]
) -> list[str]:
    """Pods waiting in CreateContainerConfigError for a ConfigMap, Secret or key that
    exists now. The runtime resolved their env when they were created, so they are
    replaced (Kubernetes retries in place; the effect is the same: the pod starts)."""
    waiting = [
        p
        for p in pods
        if not p.terminating
        and any(
            c.reason == "CreateContainerConfigError"
            and c.message.startswith(('configmap "', 'secret "', "couldn't find key"))
            for c in p.containers
        )
    ]
    if not waiting:
        return []
    config = pod_config(store, namespace, row.template)
    containers = row.template.get("spec", {}).get("containers") or []
    facts = PodFacts(name=waiting[0].name, namespace=namespace, containers=containers)
    try:
        for container in containers:
            container_env(container, pod=facts, config=config, variables={})
    except ConfigError:
        return []
    return [p.name for p in waiting]
