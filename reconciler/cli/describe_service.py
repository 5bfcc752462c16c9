"""``describe service|configmap|secret``: kubectl's pages for a Service and the config objects.

A Service's ``Endpoints:`` are the Ready, non-terminating pods its selector matches, at their
host ports (the first three, then ``+ N more...``, as kubectl prints them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.cli.configviews import describe_configmap, describe_secret
from reconciler.cli.describe_text import (
    annotations_text,
    events_text,
    labels_text,
    render,
    selector_text,
)
from reconciler.cli.drift_view import describe_drift
from reconciler.cli.get import object_or_fail
from reconciler.cli.views import pods_of
from reconciler.folder.drift import store_drift
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import PodStatus
from reconciler.store import Store

__all__ = ["describe_config", "describe_service"]


def _endpoints(pods: Sequence[PodStatus], selector: Mapping[str, Any], target: Any) -> str:
    found = []
    for pod in pods:
        if not pod.ready or pod.terminating or not selector:
            continue
        if not all(pod.labels.get(k) == v for k, v in selector.items()):
            continue
        host_port = pod.ports.get(str(target))
        if host_port is not None:
            found.append(f"{pod.ip}:{host_port}")
    if not found:
        return "<none>"
    text = ",".join(found[:3])
    return text + (f" + {len(found) - 3} more..." if len(found) > 3 else "")


def describe_service(store: Store, ref: ObjectRef, *, now: float) -> str:
    obj = object_or_fail(store, ref)
    spec = obj.spec.get("spec", {})
    metadata = obj.spec.get("metadata", {})
    selector = spec.get("selector") or {}
    bind = store.get_meta("bind") or "127.0.0.1"
    pods = pods_of(store.list_pods(ref.namespace))
    out = f"Name:\t{ref.name}\n"
    out += f"Namespace:\t{ref.namespace}\n"
    out += labels_text("Labels", metadata.get("labels"))
    out += annotations_text(metadata.get("annotations"))
    out += f"Selector:\t{selector_text(selector)}\n"
    out += f"Type:\t{spec.get('type', 'ClusterIP')}\n"
    out += f"IP:\t{bind}\n"
    for port in spec.get("ports") or []:
        protocol = port.get("protocol", "TCP")
        target = port.get("targetPort", port.get("port"))
        out += f"Port:\t{port.get('name') or '<unset>'}\t{port.get('port')}/{protocol}\n"
        out += f"TargetPort:\t{target}/{protocol}\n"
        out += f"Endpoints:\t{_endpoints(pods, selector, target)}\n"
    out += f"Session Affinity:\t{spec.get('sessionAffinity', 'None')}\n"
    out += describe_drift(store_drift(store, obj))
    out += events_text(store.list_events(ref), now)
    return render(out)


def describe_config(store: Store, ref: ObjectRef, *, now: float) -> str:
    """ConfigMaps and Secrets (``reconciler.cli.configviews``: a Secret's sizes, never values)."""
    obj = object_or_fail(store, ref)
    events = render(events_text(store.list_events(ref), now))
    page = describe_configmap if ref.kind is Kind.CONFIGMAP else describe_secret
    return page(store, obj, events)
