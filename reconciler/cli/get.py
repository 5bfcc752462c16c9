"""``reconciler get``: kubectl's tables, read from the store (works while the daemon is stopped).

``get deployments|replicasets|pods|services|events [NAME] [-o wide|json|yaml|name] [-w]``.
``get rollout NAME`` is in ``rollout_tree.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.cli import output
from reconciler.cli.common import common_options, open_store
from reconciler.cli.configviews import HEADERS as CONFIG_HEADERS
from reconciler.cli.configviews import NOT_FOUND as CONFIG_NOT_FOUND
from reconciler.cli.configviews import config_rows
from reconciler.cli.drift_view import drifted_cells, warn_drift
from reconciler.cli.events_for import add_for_option, events_for
from reconciler.cli.history import replicaset_object
from reconciler.cli.views import (
    deployment_object,
    pod_object,
    pod_ready,
    pod_status_word,
    pods_of,
)
from reconciler.errors import NotFoundError
from reconciler.folder.drift import drift_of, held_keys
from reconciler.objects import Kind, ObjectRef, parse_kind
from reconciler.store import Store

Row = list[str]


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "get", parents=[common_options()], help="display one or many resources"
    )
    parser.add_argument(
        "type",
        help="deployments, replicasets, pods, services, configmaps, secrets, events, rollout",
    )
    parser.add_argument("names", nargs="*", help="names (optional)")
    parser.add_argument("-o", "--output", choices=["wide", "json", "yaml", "name"])
    parser.add_argument("-w", "--watch", action="store_true", help="watch for changes")
    parser.add_argument("-l", "--selector", help="label selector k=v[,k=v]")
    parser.add_argument("--no-color", action="store_true", help="plain output (always plain)")
    add_for_option(parser)
    parser.set_defaults(func=get)


def _selector(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def _images(template: dict[str, Any]) -> tuple[str, str]:
    containers = template.get("spec", {}).get("containers", []) or []
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _sel_text(selector: dict[str, Any] | None) -> str:
    if not selector:
        return "<none>"
    labels = selector.get("matchLabels", selector)
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


class Listing:
    """The rows, names and objects of one kind, for one namespace and optional names."""

    def __init__(self, store: Store, kind: Kind, namespace: str, names: Sequence[str], now: float):
        self.store, self.kind, self.namespace, self.names, self.now = (
            store,
            kind,
            namespace,
            list(names),
            now,
        )

    def _want(self, name: str) -> bool:
        return not self.names or name in self.names

    def collect(self, selector: dict[str, str]) -> list[tuple[str, Row, Row, dict[str, Any]]]:
        """(display name, row, wide extra cells, object) per item."""
        out: list[tuple[str, Row, Row, dict[str, Any]]] = []
        store, now = self.store, self.now
        if self.kind is Kind.DEPLOYMENT:
            held = held_keys(store)
            for obj in store.list_objects(Kind.DEPLOYMENT, self.namespace):
                if not self._want(obj.ref.name) or not _labels_match(obj.spec, selector):
                    continue
                spec, status = obj.spec["spec"], obj.status
                names, images = _images(spec["template"])
                rows = store.list_replicasets(obj.ref)
                updated, images = drifted_cells(
                    drift_of(obj, rows, held=held), str(status.get("updatedReplicas", 0)), images
                )
                row = [
                    obj.ref.name,
                    f"{status.get('readyReplicas', 0)}/{spec['replicas']}",
                    updated,
                    str(status.get("availableReplicas", 0)),
                    output.age(obj.created_at, now),
                ]
                wide = [names, images, _sel_text(spec.get("selector"))]
                out.append((obj.ref.display, row, wide, deployment_object(obj, rows)))
        elif self.kind is Kind.REPLICASET:
            for dep in store.list_objects(Kind.DEPLOYMENT, self.namespace):
                for rs in store.list_replicasets(dep.ref):
                    if not self._want(rs.name):
                        continue
                    labels = rs.template.get("metadata", {}).get("labels", {})
                    if selector and not all(labels.get(k) == v for k, v in selector.items()):
                        continue
                    names, images = _images(rs.template)
                    row = [
                        rs.name,
                        str(rs.replicas),
                        str(rs.status.get("replicas", 0)),
                        str(rs.status.get("readyReplicas", 0)),
                        output.age(rs.created_at, now),
                    ]
                    wide = [names, images, _sel_text(labels)]
                    out.append((f"replicaset.apps/{rs.name}", row, wide, replicaset_object(rs)))
        elif self.kind is Kind.POD:
            for pod in pods_of(store.list_pods(self.namespace)):
                if not self._want(pod.name):
                    continue
                if selector and not all(pod.labels.get(k) == v for k, v in selector.items()):
                    continue
                restarts = str(pod.restarts)
                last = max((c.last_restart_at or 0 for c in pod.containers), default=0)
                if pod.restarts and last:
                    restarts += f" ({output.human_duration(now - last)} ago)"
                row = [
                    pod.name,
                    pod_ready(pod),
                    pod_status_word(pod),
                    restarts,
                    output.age(pod.created_at, now),
                ]
                wide = [pod.ip or "<none>", "localhost", "<none>", "<none>"]
                out.append((f"pod/{pod.name}", row, wide, pod_object(pod)))
        elif self.kind is Kind.SERVICE:
            bind = store.get_meta("bind") or "127.0.0.1"
            for obj in store.list_objects(Kind.SERVICE, self.namespace):
                if not self._want(obj.ref.name) or not _labels_match(obj.spec, selector):
                    continue
                spec = obj.spec["spec"]
                ports = ",".join(
                    f"{p['port']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", [])
                )
                row = [
                    obj.ref.name,
                    spec.get("type", "ClusterIP"),
                    bind,
                    "<none>",
                    ports or "<none>",
                    output.age(obj.created_at, now),
                ]
                wide = [_sel_text(spec.get("selector"))]
                out.append(
                    (f"service/{obj.ref.name}", row, wide, {**obj.spec, "status": obj.status})
                )
        elif self.kind in (Kind.CONFIGMAP, Kind.SECRET):
            out += config_rows(
                store, self.kind, self.namespace, names=self.names, selector=selector, now=now
            )
        return out


def _labels_match(obj: dict[str, Any], selector: dict[str, str]) -> bool:
    labels = obj.get("metadata", {}).get("labels", {}) or {}
    return all(labels.get(k) == v for k, v in selector.items())


HEADERS: dict[Kind, tuple[Row, Row]] = {
    Kind.DEPLOYMENT: (
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
    ),
    Kind.REPLICASET: (
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
    ),
    Kind.POD: (
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
    ),
    Kind.SERVICE: (
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        ["SELECTOR"],
    ),
    **CONFIG_HEADERS,
}

_NOT_FOUND = {
    Kind.DEPLOYMENT: "deployments.apps",
    Kind.REPLICASET: "replicasets.apps",
    Kind.POD: "pods",
    Kind.SERVICE: "services",
    **CONFIG_NOT_FOUND,
}


def get(args: argparse.Namespace) -> int:
    if args.type.lower() in ("rollout", "rollouts", "ro"):
        from reconciler.cli.rollout_tree import get_rollout

        code: int = get_rollout(args)
        return code
    if args.type.lower() in ("events", "event", "ev"):
        return _events(args)
    kind = parse_kind(args.type)
    with open_store(args) as store:
        return _print_kind(store, kind, args, lambda: time.time())


def _print_kind(
    store: Store, kind: Kind, args: argparse.Namespace, now: Callable[[], float]
) -> int:
    selector = _selector(args.selector)
    items = Listing(store, kind, args.namespace, args.names, now()).collect(selector)
    missing = [n for n in args.names if n not in {i[1][0] for i in items}]
    for name in missing:
        print(
            f'Error from server (NotFound): {_NOT_FOUND[kind]} "{name}" not found', file=sys.stderr
        )
    if not items and not args.names:
        print(f"No resources found in {args.namespace} namespace.", file=sys.stderr)
    if items and kind in (Kind.DEPLOYMENT, Kind.SERVICE):  # on stderr: any -o stays parseable
        warn_drift(store, kind, args.namespace, [i[1][0] for i in items])
    if args.output in ("json", "yaml"):
        if items:
            output.dump([i[3] for i in items], args.output)
    elif args.output == "name":
        for item in items:
            print(item[0])
    elif items:
        header, wide_header = HEADERS[kind]
        wide = args.output == "wide"
        rows = [header + (wide_header if wide else [])]
        rows += [row + (extra if wide else []) for _, row, extra, _ in items]
        sys.stdout.write(output.table(rows))
    if args.watch:
        return _watch(store, kind, args, now, items)
    return 1 if missing else 0


def _watch(
    store: Store,
    kind: Kind,
    args: argparse.Namespace,
    now: Callable[[], float],
    items: list[tuple[str, Row, Row, dict[str, Any]]],
) -> int:
    """Print a row again whenever it changes (kubectl get -w), until interrupted."""
    last = {i[0]: i[1][:-1] for i in items}  # compare without AGE
    try:
        while True:
            time.sleep(0.5)
            current = Listing(store, kind, args.namespace, args.names, now()).collect(
                _selector(args.selector)
            )
            for name, row, _, _ in current:
                if last.get(name) != row[:-1]:
                    last[name] = row[:-1]
                    sys.stdout.write(output.table([row]))
                    sys.stdout.flush()
    except KeyboardInterrupt:
        return 0


def _events(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        events = events_for(store.list_events(namespace=args.namespace), args)
        now = time.time()
        if args.names:
            events = [e for e in events if e.ref.name in args.names]
        if not events:
            print(f"No resources found in {args.namespace} namespace.", file=sys.stderr)
            return 0
        rows = [["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]]
        for event in sorted(events, key=lambda e: e.last_seen):
            rows.append(
                [
                    output.human_duration(now - event.last_seen),
                    event.type,
                    event.reason,
                    f"{event.ref.kind.lower()}/{event.ref.name}",
                    event.message,
                ]
            )
        sys.stdout.write(output.table(rows))
    return 0


def object_or_fail(store: Store, ref: ObjectRef) -> Any:
    obj = store.get_object(ref)
    if obj is None:
        raise NotFoundError(
            f'Error from server (NotFound): {_NOT_FOUND[ref.kind]} "{ref.name}" not found'
        )
    return obj
