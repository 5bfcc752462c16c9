"""``reconciler describe deployment|pod|service|replicaset NAME``: kubectl's describe pages.

Read from the store only, so they work while the daemon is stopped. The text is kubectl's: one
Go ``tabwriter`` pass (minwidth 0, padding 2) over tab-separated lines, where consecutive lines
that share a column are aligned together (``tabwrite``); kubectl's section order and words
(semantics §2.7). Additions a kubectl user would look for: a ``Manifest Errors:`` section
when the manifest currently fails validation (the last good spec keeps running), a ``Drift:``
section when what runs is not what the folder asks for (``reconciler.folder.drift``), and a
``Rollout:`` section for BlueGreen and Canary deployments (phase, step, weights).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler.cli import output
from reconciler.cli.analysis_view import describe_analysis
from reconciler.cli.common import common_options, open_store
from reconciler.cli.configviews import describe_configmap, describe_secret, pod_field_values
from reconciler.cli.drift_view import describe_drift, drifted_cells
from reconciler.cli.get import object_or_fail
from reconciler.cli.history import describe_pod_template, env_from_lines, value_from_text
from reconciler.cli.views import deployment_object, pods_of
from reconciler.cli.volumes_view import host_warnings, mount_lines, pod_volumes, resource_lines
from reconciler.errors import NotFoundError
from reconciler.folder.drift import store_drift
from reconciler.log import redact_env
from reconciler.objects import Kind, ObjectRef, parse_kind
from reconciler.runtime import ContainerState, PodStatus
from reconciler.store import EventRow, ReplicaSetRow, Store

__all__ = ["describe", "kubectl_not_found", "register", "rfc1123z", "tabwrite"]


def kubectl_not_found(handler: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Print ``Error from server (NotFound): ...`` verbatim (exit 1), as kubectl does.

    The dispatcher prefixes ``error: `` to messages that do not start with it; kubectl's
    NotFound line has no such prefix.
    """

    @functools.wraps(handler)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except NotFoundError as exc:
            message = str(exc)
            if not message.startswith("Error from server"):
                raise
            print(message, file=sys.stderr)
            return 1

    return wrapped


# -- Go's text/tabwriter -------------------------------------------------------------------


def tabwrite(text: str, *, padding: int = 2, minwidth: int = 0) -> str:
    """Align ``text`` the way Go's ``text/tabwriter`` does (left-aligned, space padding).

    A cell is text ended by a tab; a column block is a run of consecutive lines that all have
    a cell in that column, and each block gets its own width (widest cell + ``padding``). The
    last cell of a line is never padded.

    >>> text = "Name:\\tweb\\nReplicas:\\t3\\nPod Template:\\n  Labels:\\tapp=web\\n"
    >>> print(tabwrite(text), end="")
    Name:      web
    Replicas:  3
    Pod Template:
      Labels:  app=web
    """
    ends_with_newline = text.endswith("\n")
    lines = [line.split("\t") for line in text.split("\n")]
    if ends_with_newline:
        lines.pop()
    out: list[str] = []

    def write_lines(start: int, stop: int, widths: list[int]) -> None:
        for cells in lines[start:stop]:
            parts = []
            for j, cell in enumerate(cells):
                parts.append(cell.ljust(widths[j]) if j < len(widths) else cell)
            out.append("".join(parts))

    def format_block(start: int, stop: int, widths: list[int]) -> None:
        column = len(widths)
        line0 = start
        this = start
        while this < stop:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this, widths)
            line0 = this
            width = minwidth
            while this < stop and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            format_block(line0, this, [*widths, width])
            line0 = this
        write_lines(line0, stop, widths)

    format_block(0, len(lines), [])
    return "\n".join(out) + ("\n" if ends_with_newline else "")


def rfc1123z(ts: float | None) -> str:
    """Go's ``time.RFC1123Z`` in local time: ``Mon, 02 Jan 2006 15:04:05 -0700``."""
    if not ts:
        return "<unknown>"
    return datetime.fromtimestamp(ts).astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


# -- shared pieces ---------------------------------------------------------------------------


def _labels(title: str, labels: Mapping[str, Any] | None, *, indent: str = "") -> str:
    """kubectl's printLabelsMultiline: ``k=v`` sorted, one per line."""
    out = f"{indent}{title}:\t"
    if not labels:
        return out + "<none>\n"
    keys = sorted(labels)
    return out + "".join(
        (f"{indent}\t" if i else "") + f"{key}={labels[key]}\n" for i, key in enumerate(keys)
    )


def _annotations(annotations: Mapping[str, Any] | None) -> str:
    """kubectl's printAnnotationsMultiline: ``key: value`` sorted, one per line."""
    out = "Annotations:\t"
    if not annotations:
        return out + "<none>\n"
    keys = sorted(annotations)
    return out + "".join(
        ("\t" if i else "") + f"{key}: {annotations[key]}\n" for i, key in enumerate(keys)
    )


def _selector_text(selector: Mapping[str, Any] | None) -> str:
    labels = (selector or {}).get("matchLabels", selector) or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def _events(events: Sequence[EventRow], now: float) -> str:
    """kubectl's DescribeEvents; repeated events show ``<last> (xN over <first>)``."""
    if not events:
        return "Events:\t<none>\n"
    out = "\x00"  # marks a flush: the events table is aligned on its own
    out += "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n"
    for event in sorted(events, key=lambda e: (e.first_seen, e.last_seen)):
        first = output.human_duration(now - event.first_seen)
        if event.count > 1:
            last = output.human_duration(now - event.last_seen)
            age = f"{last} (x{event.count} over {first})"
        else:
            age = first
        out += f"  {event.type}\t{event.reason}\t{age}\t{event.source}\t{event.message.strip()}\n"
    return out


def _render(text: str) -> str:
    """Tab-align each flushed part separately (kubectl flushes before an Events table)."""
    return "".join(tabwrite(part) for part in text.split("\x00"))


# -- deployment ------------------------------------------------------------------------------


def _rs_list(rows: Sequence[ReplicaSetRow]) -> str:
    if not rows:
        return "<none>"
    return ", ".join(
        f"{rs.name} ({int(rs.status.get('replicas', 0))}/{rs.replicas} replicas created)"
        for rs in rows
    )


def _rollout_section(spec: Mapping[str, Any], rollout: Mapping[str, Any]) -> str:
    strategy = spec.get("strategy", {}).get("type", "")
    if strategy not in ("BlueGreen", "Canary") or not rollout:
        return ""
    out = "Rollout:\n"
    out += f"  Phase:\t{rollout.get('phase') or 'Progressing'}\n"
    if rollout.get("message"):
        out += f"  Message:\t{rollout['message']}\n"
    if strategy == "Canary":
        steps = spec["strategy"].get("canary", {}).get("steps") or []
        if steps:
            out += f"  Step:\t{rollout.get('currentStepIndex', 0)}/{len(steps)}\n"
        out += f"  SetWeight:\t{rollout.get('setWeight', 0)}\n"
        out += f"  ActualWeight:\t{rollout.get('actualWeight', 0)}\n"
    else:
        out += f"  Active Selector:\t{rollout.get('activeSelector') or '<none>'}\n"
        out += f"  Preview Selector:\t{rollout.get('previewSelector') or '<none>'}\n"
    reasons = [str(p.get("reason", "")) for p in rollout.get("pauseConditions") or []]
    if reasons:
        out += f"  Paused:\t{', '.join(reasons)}\n"
    if rollout.get("abort"):
        out += "  Aborted:\ttrue\n"
    return out


def describe_deployment(store: Store, ref: ObjectRef, *, now: float) -> str:
    obj = object_or_fail(store, ref)
    rows = store.list_replicasets(ref)
    shown = deployment_object(obj, rows)
    metadata, spec, status = shown["metadata"], obj.spec["spec"], obj.status
    strategy = spec.get("strategy", {})
    out = f"Name:\t{ref.name}\n"
    out += f"Namespace:\t{ref.namespace}\n"
    out += f"CreationTimestamp:\t{rfc1123z(obj.created_at)}\n"
    out += _labels("Labels", metadata.get("labels"))
    out += _annotations(metadata.get("annotations"))
    out += f"Selector:\t{_selector_text(spec.get('selector'))}\n"
    drift = store_drift(store, obj)
    updated, _ = drifted_cells(drift, str(status.get("updatedReplicas", 0)), "")
    out += (
        f"Replicas:\t{spec.get('replicas', 1)} desired | {updated} "
        f"updated | {status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} "
        f"available | {status.get('unavailableReplicas', 0)} unavailable\n"
    )
    out += f"StrategyType:\t{strategy.get('type', 'RollingUpdate')}\n"
    out += f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n"
    rolling = strategy.get("rollingUpdate")
    if rolling:
        out += (
            f"RollingUpdateStrategy:\t{rolling.get('maxUnavailable')} max unavailable, "
            f"{rolling.get('maxSurge')} max surge\n"
        )
    out += describe_pod_template(spec.get("template", {}))
    conditions = status.get("conditions") or []
    if conditions:
        out += "Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n"
        for c in conditions:
            out += f"  {c.get('type')} \t{c.get('status')}\t{c.get('reason')}\n"
    invalid = status.get("invalid") or []
    if invalid:
        out += "Manifest Errors:\n" + "".join(f"  {line}\n" for line in invalid)
    out += describe_drift(drift)
    out += _rollout_section(spec, status.get("rollout") or {})
    out += describe_analysis(store, obj, now=now)
    current = (status.get("rollout") or {}).get("currentPodHash")
    new = [rs for rs in rows if current and rs.hash == current]
    old = [rs for rs in rows if rs not in new and rs.replicas != 0]
    out += f"OldReplicaSets:\t{_rs_list(old)}\n"
    out += f"NewReplicaSet:\t{_rs_list(new)}\n"
    out += _events(store.list_events(ref), now)
    return _render(out)


# -- replicaset ------------------------------------------------------------------------------


def describe_replicaset(store: Store, ref: ObjectRef, *, now: float) -> str:
    rs = store.get_replicaset(ref.namespace, ref.name)
    if rs is None:
        raise NotFoundError(
            f'Error from server (NotFound): replicasets.apps "{ref.name}" not found'
        )
    labels = (rs.template.get("metadata") or {}).get("labels") or {}
    pods = pods_of(store.list_pods(ref.namespace, owner=rs.name))
    running = sum(1 for p in pods if str(p.phase) == "Running")
    waiting = sum(1 for p in pods if str(p.phase) == "Pending")
    succeeded = sum(1 for p in pods if str(p.phase) == "Succeeded")
    failed = sum(1 for p in pods if str(p.phase) == "Failed")
    annotations = {**rs.annotations, "deployment.kubernetes.io/revision": str(rs.revision)}
    if rs.change_cause:
        annotations["kubernetes.io/change-cause"] = rs.change_cause
    out = f"Name:\t{rs.name}\n"
    out += f"Namespace:\t{rs.namespace}\n"
    out += f"Selector:\t{_selector_text(labels)}\n"
    out += _labels("Labels", labels)
    out += _annotations(annotations)
    out += f"Controlled By:\tDeployment/{rs.deployment}\n"
    out += f"Replicas:\t{int(rs.status.get('replicas', 0))} current / {rs.replicas} desired\n"
    out += (
        f"Pods Status:\t{running} Running / {waiting} Waiting / {succeeded} Succeeded / "
        f"{failed} Failed\n"
    )
    out += describe_pod_template(rs.template)
    out += _events(store.list_events(ObjectRef(Kind.REPLICASET, ref.namespace, rs.name)), now)
    return _render(out)


# -- pod -------------------------------------------------------------------------------------


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
    out += _labels("Labels", pod.labels)
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
    out += _events(store.list_events(ObjectRef(Kind.POD, ref.namespace, pod.name)), now)
    return _render(out)


# -- service ---------------------------------------------------------------------------------


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
    out += _labels("Labels", metadata.get("labels"))
    out += _annotations(metadata.get("annotations"))
    out += f"Selector:\t{_selector_text(selector)}\n"
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
    out += _events(store.list_events(ref), now)
    return _render(out)


def describe_config(store: Store, ref: ObjectRef, *, now: float) -> str:
    """ConfigMaps and Secrets (``reconciler.cli.configviews``: a Secret's sizes, never values)."""
    obj = object_or_fail(store, ref)
    events = _render(_events(store.list_events(ref), now))
    page = describe_configmap if ref.kind is Kind.CONFIGMAP else describe_secret
    return page(store, obj, events)


# -- command ---------------------------------------------------------------------------------

_DESCRIBERS = {
    Kind.DEPLOYMENT: describe_deployment,
    Kind.REPLICASET: describe_replicaset,
    Kind.POD: describe_pod,
    Kind.SERVICE: describe_service,
    Kind.CONFIGMAP: describe_config,
    Kind.SECRET: describe_config,
}


@kubectl_not_found
def describe(args: argparse.Namespace) -> int:
    import time

    words: list[str] = list(args.words)
    if len(words) == 1 and "/" in words[0]:
        kind_word, _, name = words[0].partition("/")
        targets = [(parse_kind(kind_word), name)]
    elif len(words) >= 2:
        kind = parse_kind(words[0])
        targets = [(kind, name) for name in words[1:]]
    else:
        from reconciler.errors import UsageError

        raise UsageError("error: you must specify the type of resource and a name to describe")
    pages = []
    with open_store(args) as store:
        now = time.time()
        for kind, name in targets:
            pages.append(_DESCRIBERS[kind](store, ObjectRef(kind, args.namespace, name), now=now))
    sys.stdout.write("\n\n".join(page.rstrip("\n") + "\n" for page in pages))
    return 0


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "describe",
        parents=[common_options()],
        help="show details of a deployment, replicaset, pod, service, configmap or secret",
    )
    parser.add_argument("words", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    parser.set_defaults(func=describe)
