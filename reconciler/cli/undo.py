"""``rollout undo``, ``rollout pause``, ``rollout resume``: the file side of a rollout.

The folder is the truth (DESIGN decision 1), so none of these talk to the daemon: ``undo``
writes the target ReplicaSet's pod template back into the manifest (kubectl's client-side
rollback, §2.5: default target is the second-highest revision), ``pause`` and ``resume`` edit
``spec.paused``. The daemon sees an ordinary file change; for an undo it then finds the old
template's ReplicaSet and reuses and bumps it (§1.6).

The store keeps templates *defaulted*; writing one back as it is would fill the user's file
with ``restartPolicy: Always`` and friends. Values the defaults would put back anyway are
left out unless the file already spelled them, so an undo changes only what really differs.
"""

from __future__ import annotations

import argparse
import copy
import sys
from typing import Any

import yaml as pyyaml
from ruamel.yaml.comments import CommentedMap

from reconciler.cli.common import common_options
from reconciler.defaults import default_pod_template
from reconciler.errors import ReconcilerError
from reconciler.folder.configsync import config_lookup, hash_key
from reconciler.folder.edit import document_text, dump_new, merge_into, update_object
from reconciler.folder.locate import (
    add_folder_option,
    command_line,
    document_check,
    kubectl_errors,
    locate,
    note_command,
    resolve_folder,
)
from reconciler.manifests.configdata import (
    config_hash_annotation,
    parse_annotation,
    template_annotation,
    without_config_hash,
)
from reconciler.objects import Kind, ObjectRef, parse_resource
from reconciler.paths import find_state_dir
from reconciler.revisions import HASH_LABEL, templates_equal
from reconciler.store import ReplicaSetRow, Store

PAUSED_ROLLBACK = (
    "error: you cannot rollback a paused deployment; resume it first with "
    "'reconciler rollout resume' and try again"
)

_Path = tuple[str | int, ...]


def _deployment(args: argparse.Namespace) -> ObjectRef:
    ref = parse_resource(args.resource, namespace=args.namespace)
    if ref.kind is not Kind.DEPLOYMENT:
        raise ReconcilerError(f"error: {ref.display}: only deployments support this operation")
    return ref


def _current(args: argparse.Namespace, ref: ObjectRef) -> tuple[Any, dict[str, Any]]:
    folder = resolve_folder(args)
    located = locate(folder, ref)
    doc = pyyaml.safe_load(document_text(located))
    return located, doc if isinstance(doc, dict) else {}


def _strip_hash(template: dict[str, Any]) -> dict[str, Any]:
    """The template as the folder wrote it: no pod-template-hash, no config hash."""
    out = copy.deepcopy(template)
    metadata = out.get("metadata") or {}
    labels = metadata.get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        out = without_config_hash(out)
        if not out["metadata"]:
            del out["metadata"]
    return out


def config_drift(store: Store, ref: ObjectRef, target: ReplicaSetRow) -> list[str]:
    """The ConfigMaps and Secrets whose values differ from those ``target``'s revision ran
    with (the folder holds only their current values): one sentence each, or none."""
    then = parse_annotation(template_annotation(target.template))
    if not then:
        return []
    objects = store.list_objects(namespace=ref.namespace)
    config_maps, secret_values = config_lookup(objects)
    now = parse_annotation(
        config_hash_annotation(
            target.template, config_maps=config_maps, secrets=secret_values, key=hash_key(store)
        )
    )
    sources = {f"{o.ref.kind.lower()}/{o.ref.name}": o.source for o in objects}
    out = []
    for name, digest in sorted(then.items()):
        if now.get(name) == digest:
            continue
        where = f" in {sources[name]}" if name in sources else ""
        out.append(
            f"warning: revision {target.revision} ran with {name} as it was then; its values "
            "are not in the folder any more, so the pods get its current values (restore the "
            f"old values{where} to bring them back)"
        )
    return out


def _get(node: Any, path: _Path) -> Any:
    for step in path:
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            node = node[step]
            continue
        if isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
            continue
        return _MISSING
    return node


_MISSING = object()


def _paths(node: Any, prefix: _Path = ()) -> list[_Path]:
    """Every mapping key path under ``node``, deepest first."""
    out: list[_Path] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
            out.append((*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


def _drop(node: Any, path: _Path) -> None:
    parent = _get(node, path[:-1])
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def without_defaults(template: dict[str, Any], written: Any) -> dict[str, Any]:
    """``template`` minus the values the defaults would restore and ``written`` does not spell.

    >>> without_defaults({"spec": {"restartPolicy": "Always", "containers": []}}, {})
    {'spec': {'containers': []}}
    """
    out = copy.deepcopy(template)
    for path in _paths(template):
        if _get(written, path) is not _MISSING:
            continue
        value = _get(out, path)
        if value is _MISSING:
            continue
        probe = copy.deepcopy(out)
        _drop(probe, path)
        default_pod_template(probe)
        if _get(probe, path) == value:
            _drop(out, path)
    return out


def _target(rows: list[ReplicaSetRow], ref: ObjectRef, to_revision: int) -> ReplicaSetRow:
    if to_revision < 0:
        raise ReconcilerError(f"error: unable to find specified revision {to_revision} in history")
    by_revision = sorted(rows, key=lambda r: r.revision, reverse=True)
    if to_revision == 0:
        if len(by_revision) < 2:
            raise ReconcilerError(f'error: no rollout history found for deployment "{ref.name}"')
        return by_revision[1]
    for row in by_revision:
        if row.revision == to_revision:
            return row
    raise ReconcilerError(f"error: unable to find specified revision {to_revision} in history")


def _undo(args: argparse.Namespace) -> int:
    ref = _deployment(args)
    located, doc = _current(args, ref)
    spec = doc.get("spec") or {}
    if spec.get("paused") is True:
        raise ReconcilerError(PAUSED_ROLLBACK)
    state_dir = find_state_dir(args.state_dir)
    if not state_dir.is_dir():
        raise ReconcilerError(f'error: no rollout history found for deployment "{ref.name}"')
    with Store.open(state_dir) as store:
        rows = store.list_replicasets(ref)
        target = _target(rows, ref, args.to_revision)
        drift = config_drift(store, ref, target)
    written = spec.get("template") or {}
    current = default_pod_template(copy.deepcopy(written))
    template = without_defaults(_strip_hash(target.template), written)
    if args.dry_run not in (None, "none"):
        print(dump_new(template), end="")
        return 0
    if templates_equal(without_config_hash(target.template), current):
        print(
            f"{ref.display} skipped rollback "
            f"(current template already matches revision {target.revision})"
        )
        for line in drift:
            print(line, file=sys.stderr)
        return 0

    def mutate(document: CommentedMap) -> None:
        spec_node = document.setdefault("spec", CommentedMap())
        if isinstance(spec_node.get("template"), CommentedMap):
            merge_into(spec_node["template"], template)
        else:
            spec_node["template"] = template

    folder = resolve_folder(args)
    if update_object(located, mutate, check=document_check(located, folder=folder)):
        words = ["rollout", "undo", *args.resource]
        if args.to_revision:
            words.append(f"--to-revision={args.to_revision}")
        note_command(args, located.path, command_line(words))
    print(f"{ref.display} rolled back")
    for line in drift:
        print(line, file=sys.stderr)
    return 0


def _set_paused(args: argparse.Namespace, *, paused: bool) -> int:
    ref = _deployment(args)
    located, doc = _current(args, ref)
    verb = "paused" if paused else "resumed"
    if bool((doc.get("spec") or {}).get("paused")) is paused:
        print(f"{ref.display} already {verb}")
        return 0

    def mutate(document: CommentedMap) -> None:
        spec = document.setdefault("spec", CommentedMap())
        if paused:
            spec["paused"] = True
        else:
            spec.pop("paused", None)  # resumed is the default: keep the file minimal

    update_object(located, mutate)
    words = ["rollout", "pause" if paused else "resume", *args.resource]
    note_command(args, located.path, command_line(words))
    print(f"{ref.display} {verb}")
    return 0


def _pause(args: argparse.Namespace) -> int:
    return _set_paused(args, paused=True)


def _resume(args: argparse.Namespace) -> int:
    return _set_paused(args, paused=False)


def register(commands: Any, rollout: Any) -> None:
    parent = common_options()
    undo = rollout.add_parser(
        "undo",
        parents=[parent],
        help="write a previous revision's pod template back into the manifest",
    )
    undo.add_argument("resource", nargs="+", metavar="TYPE/NAME")
    undo.add_argument(
        "--to-revision",
        type=int,
        default=0,
        help="the revision to roll back to (default 0: the previous one)",
    )
    undo.add_argument(
        "--dry-run",
        nargs="?",
        const="client",
        choices=["none", "client", "server"],
        help="print the pod template instead of writing it",
    )
    add_folder_option(undo)
    undo.set_defaults(func=kubectl_errors(_undo))
    for word, handler, text in (
        ("pause", _pause, "pause a deployment (spec.paused: true in its manifest)"),
        ("resume", _resume, "resume a paused deployment (removes spec.paused)"),
    ):
        parser = rollout.add_parser(word, parents=[parent], help=text)
        parser.add_argument("resource", nargs="+", metavar="TYPE/NAME")
        add_folder_option(parser)
        parser.set_defaults(func=kubectl_errors(handler))
