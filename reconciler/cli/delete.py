"""``delete deployment|service NAME`` and ``delete -f FILE``: remove the object's document.

The folder is the truth, so deleting an object removes its document from the file that holds
it (the whole file when it was the only one); the daemon sees the change and prunes the object
and its pods. Explicit deletes are never held by the daemon's prune guard.

Pods are not in the folder: ``delete pod`` is an intent for the daemon. Its handler is plugged
in with ``register_deleter(Kind.POD, handler)``; until then it is refused with a clear error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.cli.common import common_options
from reconciler.errors import ReconcilerError, UsageError
from reconciler.folder.edit import find_object, iter_manifest_files, refs_in_file, remove_object
from reconciler.folder.locate import (
    add_folder_option,
    check_editable,
    not_found_message,
    resolve_folder,
)
from reconciler.objects import Kind, ObjectRef, parse_kind, parse_resource

Deleter = Callable[[argparse.Namespace, ObjectRef], int]
"""Deletes one object and prints kubectl's line; returns the exit code."""

_DELETERS: dict[Kind, Deleter] = {}


def register_deleter(kind: Kind, deleter: Deleter) -> None:
    """Plug in the delete of a kind that is not a manifest (``Kind.POD``: an intent)."""
    _DELETERS[kind] = deleter


def deleted_line(ref: ObjectRef) -> str:
    """kubectl's wording: ``deployment.apps "web" deleted``."""
    group, _, _ = ref.display.partition("/")
    return f'{group} "{ref.name}" deleted'


def delete_from_folder(args: argparse.Namespace, ref: ObjectRef) -> int:
    """Remove ``ref``'s document from the folder and print kubectl's line."""
    folder = resolve_folder(args)
    located = find_object(folder, ref) if folder.is_dir() else None
    if located is None:
        if args.ignore_not_found:
            return 0
        print(not_found_message(args, ref), file=sys.stderr)
        return 1
    check_editable(folder, located.path)
    remove_object(located)
    print(deleted_line(ref))
    return 0


def _delete_one(args: argparse.Namespace, ref: ObjectRef) -> int:
    deleter = _DELETERS.get(ref.kind)
    if deleter is not None:
        return deleter(args, ref)
    if ref.kind in (Kind.DEPLOYMENT, Kind.SERVICE, Kind.CONFIGMAP, Kind.SECRET):
        return delete_from_folder(args, ref)
    if ref.kind is Kind.POD:
        raise ReconcilerError("error: delete pod is not available yet")
    raise ReconcilerError(
        f"error: {ref.kind.value} objects are owned by their Deployment; delete the Deployment"
    )


def _refs_from_files(paths: list[str], namespace: str) -> list[ObjectRef]:
    refs: list[ObjectRef] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise ReconcilerError(f'error: the path "{given}" does not exist')
        files = list(iter_manifest_files(path)) if path.is_dir() else [path]
        for file in files:
            for _, ref in refs_in_file(file):
                if ref.namespace == "default" and namespace != "default":
                    ref = ObjectRef(ref.kind, namespace, ref.name)
                refs.append(ref)
    return refs


def _delete(args: argparse.Namespace) -> int:
    if args.filename:
        if args.words:
            raise UsageError(
                "error: there is no need to specify a resource type as a separate "
                "argument when passing arguments in resource/name form"
            )
        refs = _refs_from_files(args.filename, args.namespace)
        if not refs:
            raise ReconcilerError("error: no objects passed to delete")
        # every target is found before the first file changes: a file deleting itself
        # (delete -f manifests/web.yaml) must not hide the objects after its first one
        code = 0
        for ref in refs:
            code = max(code, _delete_one(args, ref))
        return code
    if not args.words:
        raise UsageError("error: You must provide one or more resources by argument or filename.")
    if "/" in args.words[0]:
        refs = [parse_resource([word], namespace=args.namespace) for word in args.words]
    else:
        kind = parse_kind(args.words[0])
        names = args.words[1:]
        if not names:
            raise UsageError("error: resource(s) were provided, but no name was specified")
        refs = [ObjectRef(kind, args.namespace, name) for name in names]
    code = 0
    for ref in refs:
        code = max(code, _delete_one(args, ref))
    return code


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "delete",
        parents=[common_options()],
        help="delete deployments or services (their documents in the folder)",
    )
    parser.add_argument("words", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    parser.add_argument(
        "-f", "--filename", action="append", metavar="FILE", help="delete the objects in FILE"
    )
    parser.add_argument(
        "--ignore-not-found", action="store_true", help="no error for objects that do not exist"
    )
    add_folder_option(parser)
    parser.set_defaults(func=_delete)
