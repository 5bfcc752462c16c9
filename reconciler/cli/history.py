"""``reconciler rollout history``: kubectl's history table and pod templates, from the store.

It reads ReplicaSets straight from the state database, so it works while the daemon is
stopped. The output is kubectl's, byte for byte (semantics §2.4)::

    deployment.apps/web                 <- note the trailing space
    REVISION  CHANGE-CAUSE
    2         3f1c2ab bump web to v2 (Ada)
    3         reconciler rollout undo deployment/web

``--revision N`` prints that revision's pod template the way kubectl's ``DescribePodTemplate``
does (raw tabs, no tabwriter, exactly as kubectl prints it), with secret-looking env values
redacted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from reconciler.cli.common import common_options, open_store
from reconciler.cli.volumes_view import volume_lines
from reconciler.errors import ReconcilerError
from reconciler.folder.changecause import CHANGE_CAUSE_ANNOTATION
from reconciler.folder.locate import ObjectNotFound, kubectl_errors
from reconciler.log import redact_env
from reconciler.objects import Kind, ObjectRef, parse_resource
from reconciler.store import ReplicaSetRow

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
_MAX_ANNOTATION_LEN = 140  # describe.go maxAnnotationLen
_SKIPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


def history_table(revisions: Sequence[tuple[int, str]]) -> str:
    """The REVISION / CHANGE-CAUSE table (tabwriter 0, 8, 2, ' ') of (revision, cause) pairs."""
    cells = [("REVISION", "CHANGE-CAUSE")] + [
        (str(revision), cause or "<none>") for revision, cause in sorted(revisions)
    ]
    width = max(len(first) for first, _ in cells) + 2
    return "".join(f"{first.ljust(width)}{cause}\n" for first, cause in cells)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _go_list(items: Sequence[Any]) -> str:
    return "[" + " ".join(str(i) for i in items) + "]"


def describe_probe(probe: Mapping[str, Any]) -> str:
    """kubectl's DescribeProbe: ``http-get http://:8080/healthz delay=0s timeout=1s ...``."""
    attrs = (
        f"delay={_number(probe.get('initialDelaySeconds', 0))}s "
        f"timeout={_number(probe.get('timeoutSeconds', 1))}s "
        f"period={_number(probe.get('periodSeconds', 10))}s "
        f"#success={probe.get('successThreshold', 1)} "
        f"#failure={probe.get('failureThreshold', 3)}"
    )
    if isinstance(probe.get("exec"), Mapping):
        return f"exec {_go_list(probe['exec'].get('command') or [])} {attrs}"
    if isinstance(probe.get("httpGet"), Mapping):
        http = probe["httpGet"]
        scheme = str(http.get("scheme", "HTTP")).lower()
        host, port = str(http.get("host", "")), str(http.get("port", ""))
        netloc = f"{host}:{port}" if port else host
        return f"http-get {scheme}://{netloc}{http.get('path', '')} {attrs}"
    if isinstance(probe.get("tcpSocket"), Mapping):
        tcp = probe["tcpSocket"]
        return f"tcp-socket {tcp.get('host', '')}:{tcp.get('port', '')} {attrs}"
    return f"unknown {attrs}"


def _labels(title: str, labels: Mapping[str, Any] | None) -> str:
    out = f"{title}:\t"
    if not labels:
        return out + "<none>\n"
    lines = [f"{key}={labels[key]}\n" for key in sorted(labels)]
    return out + "\t".join(lines)


def _annotations(title: str, annotations: Mapping[str, Any]) -> str:
    out = f"{title}:\t"
    keys = sorted(k for k in annotations if k not in _SKIPPED_ANNOTATIONS)
    if not keys:
        return out + "<none>\n"
    parts = []
    for key in keys:
        value = str(annotations[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > _MAX_ANNOTATION_LEN or "\n" in value:
            text = f"{key}:\n"
            for line in value.split("\n"):
                shown = line if len(line) <= _MAX_ANNOTATION_LEN - 2 else line[:135] + "..."
                text += f"\t  {shown}\n"
            parts.append(text)
        else:
            parts.append(f"{key}: {value}\n")
    return out + "\t".join(parts)


def _ports(ports: Sequence[Mapping[str, Any]], key: str) -> tuple[str, str]:
    text = ",".join(f"{p.get(key, 0)}/{p.get('protocol', 'TCP')}" for p in ports)
    plural = "," in text
    return text or "<none>", "s" if plural else ""


def _container(container: Mapping[str, Any]) -> str:
    out = f"   {container.get('name', '')}:\n"
    out += f"    Image:\t{container.get('image', '')}\n"
    ports = [p for p in container.get("ports") or [] if isinstance(p, Mapping)]
    text, plural = _ports(ports, "containerPort")
    out += f"    Port{plural}:\t{text}\n"
    text, plural = _ports(ports, "hostPort")
    out += f"    Host Port{plural}:\t{text}\n"
    for title, key in (("Command", "command"), ("Args", "args")):
        if container.get(key):
            out += f"    {title}:\n"
            for word in container[key]:
                out += "".join(f"      {line}\n" for line in str(word).split("\n"))
    resources = container.get("resources") or {}
    for title, key in (("Limits", "limits"), ("Requests", "requests")):
        if resources.get(key):
            out += f"    {title}:\n"
            out += "".join(f"      {n}:\t{v}\n" for n, v in sorted(resources[key].items()))
    for title, key in (
        ("Liveness", "livenessProbe"),
        ("Readiness", "readinessProbe"),
        ("Startup", "startupProbe"),
    ):
        if isinstance(container.get(key), Mapping):
            out += f"    {title}:\t{describe_probe(container[key])}\n"
    out += env_from_lines(container.get("envFrom") or [])
    env = redact_env(container.get("env")) or []
    out += "    Environment:" + ("\n" if env else "\t<none>\n")
    for item in env:
        if "valueFrom" in item:
            out += f"      {item.get('name')}:\t{value_from_text(item['valueFrom'], container)}\n"
            continue
        lines = str(item.get("value", "")).split("\n")
        out += f"      {item.get('name')}:\t{lines[0]}\n"
        out += "".join(f"      \t{line}\n" for line in lines[1:])
    mounts = container.get("volumeMounts") or []
    out += "    Mounts:" + ("\n" if mounts else "\t<none>\n")
    for mount in sorted(mounts, key=lambda m: str(m.get("mountPath", ""))):
        flags = ["ro" if mount.get("readOnly") else "rw"]
        if mount.get("subPath"):
            flags.append(f'path="{mount["subPath"]}"')
        out += f"      {mount.get('mountPath')} from {mount.get('name')} ({','.join(flags)})\n"
    return out


def env_from_lines(env_from: list[Any]) -> str:
    """kubectl's describeContainerEnvFrom (printed only when the container has envFrom)."""
    if not env_from:
        return ""
    out = "    Environment Variables from:\n"
    for item in env_from:
        kind = "ConfigMap" if "configMapRef" in item else "Secret"
        ref = item.get("configMapRef") or item.get("secretRef") or {}
        optional = "true" if ref.get("optional") else "false"
        prefix = f" with prefix '{item['prefix']}'" if item.get("prefix") else ""
        out += f"      {ref.get('name', '')}\t{kind}{prefix}\tOptional: {optional}\n"
    return out


def value_from_text(
    source: Mapping[str, Any],
    container: Mapping[str, Any],
    fields: Mapping[str, str] | None = None,
) -> str:
    """kubectl's describeContainerEnvVars for a ``valueFrom`` (never a Secret's value);
    ``fields`` resolves a pod's ``fieldRef`` paths, as kubectl does for a pod (not a template)."""
    if "secretKeyRef" in source or "configMapKeyRef" in source:
        secret = "secretKeyRef" in source
        ref = source["secretKeyRef" if secret else "configMapKeyRef"]
        where = (
            f"in secret '{ref.get('name', '')}'"
            if secret
            else (f"of config map '{ref.get('name', '')}'")
        )
        optional = "true" if ref.get("optional") else "false"
        return f"<set to the key '{ref.get('key', '')}' {where}>\tOptional: {optional}"
    if "fieldRef" in source:
        ref = source["fieldRef"]
        resolved = (fields or {}).get(str(ref.get("fieldPath", "")), "")
        return f"{resolved} ({ref.get('apiVersion', 'v1')}:{ref.get('fieldPath', '')})"
    if "resourceFieldRef" in source:
        resource = str(source["resourceFieldRef"].get("resource", ""))
        which, _, name = resource.partition(".")
        value = ((container.get("resources") or {}).get(which) or {}).get(name)
        shown = (
            str(value) if value is not None else ("node allocatable" if which == "limits" else "0")
        )
        return f"{shown} ({resource})"
    return f"<set from {sorted(source)[0]}>" if source else ""


def describe_pod_template(template: Mapping[str, Any]) -> str:
    """kubectl's DescribePodTemplate, with env values that look secret redacted."""
    metadata = template.get("metadata") or {}
    spec = template.get("spec") or {}
    out = "Pod Template:\n"
    out += _labels("  Labels", metadata.get("labels"))
    if metadata.get("annotations"):
        out += _annotations("  Annotations", metadata["annotations"])
    if spec.get("serviceAccountName"):
        out += f"  Service Account:\t{spec['serviceAccountName']}\n"
    init = [c for c in spec.get("initContainers") or [] if isinstance(c, Mapping)]
    if init:
        out += "  Init Containers:\n" + "".join(_container(c) for c in init)
    containers = [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]
    out += "  Containers:" + ("\n" if containers else " <none>\n")
    out += "".join(_container(c) for c in containers)
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, Mapping)]
    if not volumes:
        out += "  Volumes:\t<none>\n"
    else:
        out += "  Volumes:\n"
        for volume in volumes:
            out += f"   {volume.get('name')}:\n" + volume_lines(volume)
    if spec.get("priorityClassName"):
        out += f"  Priority Class Name:\t{spec['priorityClassName']}\n"
    out += _labels("  Node-Selectors", spec.get("nodeSelector"))
    tolerations = spec.get("tolerations") or []
    out += "  Tolerations:\t" + ("<none>\n" if not tolerations else "")
    for i, toleration in enumerate(tolerations):
        text = str(toleration.get("key", ""))
        if toleration.get("value"):
            text += f"={toleration['value']}"
        if toleration.get("effect"):
            text += f":{toleration['effect']}"
        out += ("\t" if i else "") + text + "\n"
    return out


def revision_template(rs: ReplicaSetRow) -> dict[str, Any]:
    """The pod template kubectl shows for a revision: the change cause joins its annotations."""
    template = json.loads(json.dumps(rs.template))
    if rs.change_cause:
        metadata = template.setdefault("metadata", {})
        metadata.setdefault("annotations", {})[CHANGE_CAUSE_ANNOTATION] = rs.change_cause
    return dict(template)


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def replicaset_object(rs: ReplicaSetRow) -> dict[str, Any]:
    """A ReplicaSet as ``rollout history -o yaml|json`` prints it."""
    annotations = {**rs.annotations, REVISION_ANNOTATION: str(rs.revision)}
    if rs.revision_history:
        annotations[REVISION_HISTORY_ANNOTATION] = ",".join(map(str, rs.revision_history))
    if rs.change_cause:
        annotations[CHANGE_CAUSE_ANNOTATION] = rs.change_cause
    labels = dict((rs.template.get("metadata") or {}).get("labels") or {})
    template = json.loads(json.dumps(rs.template))
    for container in (template.get("spec") or {}).get("containers") or []:
        if isinstance(container, dict) and container.get("env"):
            container["env"] = redact_env(container["env"])
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "annotations": annotations,
            "creationTimestamp": _rfc3339(rs.created_at),
            "labels": labels,
            "name": rs.name,
            "namespace": rs.namespace,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "blockOwnerDeletion": True,
                    "controller": True,
                    "kind": "Deployment",
                    "name": rs.deployment,
                }
            ],
        },
        "spec": {
            "replicas": rs.replicas,
            "selector": {"matchLabels": labels},
            "template": template,
        },
        "status": dict(rs.status) or {"replicas": 0},
    }


def _print_objects(rows: Sequence[ReplicaSetRow], fmt: str) -> None:
    for i, rs in enumerate(rows):
        if fmt == "name":
            print(f"replicaset.apps/{rs.name}")
        elif fmt == "json":
            print(json.dumps(replicaset_object(rs), indent=4))
        else:
            if i:
                print("---")
            sys.stdout.write(yaml.safe_dump(replicaset_object(rs), sort_keys=True))


def render_history(
    ref: ObjectRef, revisions: Sequence[tuple[int, str]], *, chosen: ReplicaSetRow | None = None
) -> str:
    """The whole output of ``rollout history``: the table, or ``chosen``'s pod template."""
    if chosen is not None:
        header = f"{ref.display} with revision #{chosen.revision}"
        body = describe_pod_template(revision_template(chosen))
    else:
        header = f"{ref.display} "  # kubectl's trailing space: the operation is empty
        body = history_table(revisions) if revisions else "No rollout history found."
    return f"{header}\n{body}\n"


@kubectl_errors
def run_history(args: argparse.Namespace) -> int:
    ref = parse_resource(args.resource, namespace=args.namespace)
    if ref.kind is not Kind.DEPLOYMENT:
        raise ReconcilerError(f'error: no history viewer has been implemented for "{ref.kind}"')
    if args.revision < 0:
        raise ReconcilerError("error: revision must be a positive integer")
    with open_store(args) as store:
        known = store.get_object(ref) is not None
        if args.revision or args.output:
            rows = store.list_replicasets(ref)
            revisions = [(rs.revision, rs.change_cause) for rs in rows]
        else:
            rows, revisions = [], store.list_revisions(ref)  # two columns: fast for long histories
    if not known and not revisions:
        raise ObjectNotFound(ref)
    if args.revision:
        rows = [rs for rs in rows if rs.revision == args.revision]
        if not rows:
            raise ReconcilerError("error: unable to find the specified revision")
    if args.output:
        _print_objects(rows, args.output)
        return 0
    sys.stdout.write(render_history(ref, revisions, chosen=rows[0] if rows else None))
    return 0


def register(commands: Any, rollout: Any) -> None:
    parser = rollout.add_parser(
        "history",
        parents=[common_options()],
        help="view rollout history (revisions and their change causes)",
        description="View previous rollout revisions and configurations.",
    )
    parser.add_argument("resource", nargs="+", metavar="deployment/NAME")
    parser.add_argument(
        "--revision",
        type=int,
        default=0,
        help="see the details, including the pod template, of the revision specified",
    )
    parser.add_argument("-o", "--output", choices=("yaml", "json", "name"))
    parser.set_defaults(func=run_history)


__all__ = [
    "describe_pod_template",
    "describe_probe",
    "history_table",
    "register",
    "render_history",
    "replicaset_object",
    "revision_template",
    "run_history",
]
