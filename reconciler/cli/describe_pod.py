"""``describe pod``: kubectl's page for a pod, its containers, conditions and its own events.

The events are the Pod's (the kubelet's and the scheduler's, ``reconciler.events``), so a
crash-looping or ErrImagePull pod shows its back-offs here, as in Kubernetes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.cli.configviews import pod_field_values
from reconciler.cli.describe_text import events_text, labels_text, render, rfc1123z
from reconciler.cli.history import env_from_lines, value_from_text
from reconciler.cli.views import pods_of
from reconciler.cli.volumes_view import host_warnings, mount_lines, pod_volumes, resource_lines
from reconciler.errors import NotFoundError
from reconciler.log import redact_env
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import ContainerState, PodStatus
from reconciler.store import Store

__all__ = ["describe_pod"]


def _container_state(title: str, state: str, fields: Sequence[tuple[str, Any]]) -> str:
    out = f"    {title}:\t{state}\n"
    return out + "".join(f"      {k}:\t{v}\n" for k, v in fields if v not in (None, ""))


def _pod_container(spec: Mapping[str, Any], pod: PodStatus, index: int) -> str:
    status = next((c for c in pod.containers if c.name == spec.get("name")), None)
    if status is None and index < len(pod.containers):
        status = pod.containers[index]
    out = f"  {spec.get('name', status.name if status else '')}:\n"
    if status is not None and status.container_id:
        out += f"    Container ID:\t{status.container_id}\n"
    out += f"    Image:\t{spec.get('image', status.image if status else '')}\n"
    if status is not None and status.image_id:
        out += f"    Image ID:\t{status.image_id}\n"
    ports = [p for p in spec.get("ports") or [] if isinstance(p, Mapping)]
    ports_text = ",".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in ports)
    host_text = ",".join(
        f"{pod.ports.get(str(p.get('containerPort')), 0)}/{p.get('protocol', 'TCP')}" for p in ports
    )
    plural = "s" if len(ports) > 1 else ""
    out += f"    Port{plural}:\t{ports_text or '<none>'}\n"
    out += f"    Host Port{plural}:\t{host_text or '<none>'}\n"
    for title, key in (("Command", "command"), ("Args", "args")):
        if spec.get(key):
            out += f"    {title}:\n" + "".join(f"      {word}\n" for word in spec[key])
    if status is not None and not pod.unschedulable:
        if status.state == ContainerState.RUNNING:
            out += _container_state("State", "Running", [("Started", rfc1123z(status.started_at))])
        elif status.state == ContainerState.TERMINATED:
            out += _container_state(
                "State",
                "Terminated",
                [
                    ("Reason", status.reason),
                    ("Message", status.message),
                    ("Exit Code", status.exit_code if status.exit_code is not None else 0),
                    ("Signal", status.signal or None),
                ],
            )
        else:
            out += _container_state(
                "State", "Waiting", [("Reason", status.reason), ("Message", status.message)]
            )
        if status.last_exit_code is not None or status.last_reason:
            out += _container_state(
                "Last State",
                "Terminated",
                [
                    ("Reason", status.last_reason),
                    (
                        "Exit Code",
                        status.last_exit_code if status.last_exit_code is not None else 0,
                    ),
                ],
            )
        out += f"    Ready:\t{'True' if status.ready else 'False'}\n"
        out += f"    Restart Count:\t{status.restart_count}\n"
    out += resource_lines(spec)
    out += env_from_lines(spec.get("envFrom") or [])
    env = redact_env(spec.get("env")) or []
    out += "    Environment:" + ("\n" if env else "\t<none>\n")
    for item in env:
        if "valueFrom" in item:
            text = value_from_text(item["valueFrom"], spec, pod_field_values(pod))
            out += f"      {item.get('name')}:\t{text}\n"
        else:
            out += f"      {item.get('name')}:\t{item.get('value', '')}\n"
    out += mount_lines(spec)
    return out


def describe_pod(store: Store, ref: ObjectRef, *, now: float) -> str:
    record = next((p for p in store.list_pods(ref.namespace) if p.name == ref.name), None)
    if record is None:
        raise NotFoundError(f'Error from server (NotFound): pods "{ref.name}" not found')
    pod = pods_of([record])[0]
    rs = store.get_replicaset(ref.namespace, pod.owner) if pod.owner else None
    template = rs.template if rs is not None else {}
    specs = [c for c in (template.get("spec") or {}).get("containers") or [] if c]
    if not specs:
        specs = [{"name": c.name, "image": c.image} for c in pod.containers]
    status_line = "Terminating" if pod.terminating else str(pod.phase)
    out = f"Name:\t{pod.name}\n"
    out += f"Namespace:\t{pod.namespace}\n"
    # a pod the scheduler has not placed has no node, no IP and no container statuses yet
    placed = not pod.unschedulable
    out += f"Node:\t{f'localhost/{pod.ip}' if placed else '<none>'}\n"
    out += f"Start Time:\t{rfc1123z(pod.created_at)}\n"
    out += labels_text("Labels", pod.labels)
    out += "Annotations:\t<none>\n"
    out += f"Status:\t{status_line}\n"
    out += f"IP:\t{(pod.ip or '') if placed else ''}\n"
    if pod.owner:
        out += f"Controlled By:\tReplicaSet/{pod.owner}\n"
    out += "Containers:\n"
    out += "".join(_pod_container(spec, pod, i) for i, spec in enumerate(specs))
    containers_ready = bool(pod.containers) and all(c.ready for c in pod.containers)
    out += "Conditions:\n  Type\tStatus\n"
    conditions = (
        ("Initialized", True),
        ("Ready", pod.ready),
        ("ContainersReady", containers_ready),
        ("PodScheduled", True),
    )
    for kind, value in conditions if placed else (("PodScheduled", False),):
        out += f"  {kind} \t{'True' if value else 'False'} \n"
    out += pod_volumes(template.get("spec") or {})
    out += host_warnings(template, store.path.parent)
    out += events_text(store.list_events(ObjectRef(Kind.POD, ref.namespace, pod.name)), now)
    return render(out)
