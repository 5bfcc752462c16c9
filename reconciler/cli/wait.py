"""``reconciler wait (TYPE NAME... | TYPE/NAME | TYPE -l SEL | TYPE --all) --for=... --timeout``.

kubectl's ``wait``: each object in turn, all within one ``--timeout`` (default 30s; 0 checks
once; a negative one waits a week). Each object met prints ``deployment.apps/web condition
met``; the first that is not met in time ends the wait with ``error: timed out waiting for the
condition on deployments/web`` (exit 1). A named object that does not exist is kubectl's
NotFound error, except for ``--for=delete``, which it satisfies; a selector or ``--all`` that
matches nothing is ``error: no matching resources found``. The store is read every 0.1 s, so
what the daemon records is seen as it records it; the conditions: ``reconciler.cli.wait_for``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from reconciler.cli.common import common_options, open_store
from reconciler.cli.describe import names_of
from reconciler.cli.describe_text import kubectl_not_found
from reconciler.cli.wait_for import Condition, current_object, met, parse_for
from reconciler.errors import NotFoundError, ReconcilerError, UsageError
from reconciler.objects import Kind, ObjectRef, parse_kind
from reconciler.store import Store
from reconciler.units import parse_duration

__all__ = ["register", "wait"]

POLL = 0.1
WEEK = 7 * 24 * 3600.0

_RESOURCE = {
    Kind.DEPLOYMENT: "deployments",
    Kind.REPLICASET: "replicasets",
    Kind.POD: "pods",
    Kind.SERVICE: "services",
    Kind.CONFIGMAP: "configmaps",
    Kind.SECRET: "secrets",
}
_NOT_FOUND = {**_RESOURCE, Kind.DEPLOYMENT: "deployments.apps", Kind.REPLICASET: "replicasets.apps"}


def _timeout(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise UsageError(f"error: invalid --timeout {text!r}: use e.g. 30s, 5m, 1h") from None
    return WEEK if seconds < 0 else seconds


def _refs(args: argparse.Namespace, store: Store) -> tuple[list[ObjectRef], bool]:
    """The objects to wait for, and whether they were named (not found = NotFound)."""
    words: list[str] = list(args.words)
    if len(words) == 1 and "/" in words[0]:
        kind_word, _, name = words[0].partition("/")
        named = [(parse_kind(kind_word), name)]
    elif len(words) > 1:
        kind = parse_kind(words[0])
        named = [(kind, name) for name in words[1:]]
    else:
        kind = parse_kind(words[0])
        if args.selector is None and not args.all:
            raise UsageError(
                "error: resource(s) were provided, but no name was specified "
                "(name them, or use -l SELECTOR or --all)"
            )
        names = names_of(store, kind, args.namespace, selector=args.selector or "")
        return [ObjectRef(kind, args.namespace, n) for n in names], False
    if args.selector is not None or args.all:
        raise UsageError("error: name cannot be provided when a selector is specified")
    return [ObjectRef(kind, args.namespace, name) for kind, name in named], True


def _wait_one(store: Store, ref: ObjectRef, condition: Condition, deadline: float) -> bool:
    while True:
        if met(condition, current_object(store, ref)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))


@kubectl_not_found
def wait(args: argparse.Namespace) -> int:
    if args.condition is None:
        raise UsageError(
            "error: --for must be specified (condition=NAME, delete, create, jsonpath)"
        )
    condition = parse_for(args.condition)
    deadline = time.monotonic() + _timeout(args.timeout)
    with open_store(args) as store:
        refs, named = _refs(args, store)
        if not refs:
            if condition.kind == "delete":
                return 0
            raise ReconcilerError("error: no matching resources found")
        for ref in refs:
            exists = current_object(store, ref) is not None
            if named and not exists and condition.kind not in ("delete", "create"):
                raise NotFoundError(
                    f'Error from server (NotFound): {_NOT_FOUND[ref.kind]} "{ref.name}" not found'
                )
            if not _wait_one(store, ref, condition, deadline):
                on = f"{_RESOURCE[ref.kind]}/{ref.name}"
                raise ReconcilerError(f"error: timed out waiting for the condition on {on}")
            if exists or condition.kind != "delete":
                print(f"{ref.display} condition met")
                sys.stdout.flush()
    return 0


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "wait",
        parents=[common_options()],
        help="wait for a condition on one or many objects (kubectl wait)",
    )
    parser.add_argument("words", nargs="+", metavar="TYPE [NAME ...] | TYPE/NAME")
    parser.add_argument(
        "--for",
        dest="condition",
        metavar="CONDITION",
        help="condition=NAME[=value], delete, create or jsonpath='{.path}'=value",
    )
    parser.add_argument(
        "--timeout", default="30s", help="how long to wait (default 30s; 0: check once)"
    )
    parser.add_argument("-l", "--selector", help="the objects whose labels match")
    parser.add_argument("--all", action="store_true", help="every object of the type")
    parser.set_defaults(func=wait)
