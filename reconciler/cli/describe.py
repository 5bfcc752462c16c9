"""``reconciler describe TYPE [NAME ...] | TYPE/NAME | TYPE -l SELECTOR``: kubectl's describe pages.

Read from the store only, so they work while the daemon is stopped. One page per object, pages
separated by a blank line as kubectl separates them; ``describe TYPE`` with no name describes
every object of the kind in the namespace, ``-l`` those whose labels match (for pods, the pod's
labels; for Deployments and Services, the object's ``metadata.labels``). The pages themselves:
``describe_workloads`` (deployment, replicaset), ``describe_pod``, ``describe_service`` (service,
configmap, secret); their text pieces: ``describe_text``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.cli.common import common_options, open_store
from reconciler.cli.describe_pod import describe_pod
from reconciler.cli.describe_service import describe_config, describe_service
from reconciler.cli.describe_text import kubectl_not_found, rfc1123z, tabwrite
from reconciler.cli.describe_workloads import describe_deployment, describe_replicaset
from reconciler.cli.selectors import matcher
from reconciler.errors import UsageError
from reconciler.objects import Kind, ObjectRef, parse_kind
from reconciler.store import Store

__all__ = ["describe", "kubectl_not_found", "names_of", "register", "rfc1123z", "tabwrite"]

_DESCRIBERS: dict[Kind, Callable[..., str]] = {
    Kind.DEPLOYMENT: describe_deployment,
    Kind.REPLICASET: describe_replicaset,
    Kind.POD: describe_pod,
    Kind.SERVICE: describe_service,
    Kind.CONFIGMAP: describe_config,
    Kind.SECRET: describe_config,
}

_PLURAL = {
    Kind.DEPLOYMENT: "deployments.apps",
    Kind.REPLICASET: "replicasets.apps",
    Kind.POD: "pods",
    Kind.SERVICE: "services",
    Kind.CONFIGMAP: "configmaps",
    Kind.SECRET: "secrets",
}


def names_of(store: Store, kind: Kind, namespace: str, *, selector: str = "") -> list[str]:
    """The names of every object of ``kind`` in ``namespace`` whose labels match ``selector``,
    sorted (kubectl lists them by name)."""
    match = matcher(selector)
    labelled: list[tuple[str, Mapping[str, Any]]]
    if kind is Kind.POD:
        labelled = [(p.name, (p.status.get("labels") or {})) for p in store.list_pods(namespace)]
    elif kind is Kind.REPLICASET:
        labelled = [
            (rs.name, ((rs.template.get("metadata") or {}).get("labels") or {}))
            for rs in store.list_all_replicasets()
            if rs.namespace == namespace
        ]
    else:
        labelled = [
            (obj.ref.name, ((obj.spec.get("metadata") or {}).get("labels") or {}))
            for obj in store.list_objects(kind, namespace)
        ]
    return sorted(
        name for name, labels in labelled if match({str(k): str(v) for k, v in labels.items()})
    )


def _targets(args: argparse.Namespace, store: Store) -> list[tuple[Kind, str]]:
    words: list[str] = list(args.words)
    selector: str | None = args.selector
    if len(words) == 1 and "/" in words[0]:
        if selector is not None:
            raise UsageError("error: name cannot be provided when a selector is specified")
        kind_word, _, name = words[0].partition("/")
        return [(parse_kind(kind_word), name)]
    kind = parse_kind(words[0])
    if len(words) > 1:
        if selector is not None:
            raise UsageError("error: name cannot be provided when a selector is specified")
        return [(kind, name) for name in words[1:]]
    names = names_of(store, kind, args.namespace, selector=selector or "")
    if not names:
        print(f"No resources found in {args.namespace} namespace.", file=sys.stderr)
    return [(kind, name) for name in names]


@kubectl_not_found
def describe(args: argparse.Namespace) -> int:
    pages = []
    with open_store(args) as store:
        now = time.time()
        for kind, name in _targets(args, store):
            page = _DESCRIBERS[kind](store, ObjectRef(kind, args.namespace, name), now=now)
            pages.append(page)
    sys.stdout.write("\n\n".join(page.rstrip("\n") + "\n" for page in pages))
    return 0


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "describe",
        parents=[common_options()],
        help="show details of deployments, replicasets, pods, services, configmaps or secrets",
    )
    parser.add_argument("words", nargs="+", metavar="TYPE [NAME ...] | TYPE/NAME")
    parser.add_argument(
        "-l", "--selector", help="describe the objects whose labels match (e.g. app=web)"
    )
    parser.set_defaults(func=describe)
