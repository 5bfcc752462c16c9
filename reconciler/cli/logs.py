"""``reconciler logs POD|TYPE/NAME|-l SELECTOR [-c C|--all-containers] [-f] [--tail N] [-p]
[--prefix]``: containers' output.

The runtime writes each container's output to files in the state directory
(``reconciler.runtime.logs``), so logs are readable while the daemon is stopped, and a
stopped pod's log stays readable until its files are cleaned. ``deployment/NAME`` picks one
pod the way kubectl does: of the newest ReplicaSet that has pods, a Ready one first, then the
oldest (``Found 3 pods, using pod/...`` on stderr). A pod with several containers needs ``-c``
(or ``--all-containers``). Several pods (``-l``), several containers or ``--prefix``:
``reconciler.cli.logs_many``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reconciler.cli.common import common_options, open_store, state_dir
from reconciler.cli.describe import kubectl_not_found
from reconciler.cli.views import pods_of
from reconciler.errors import NotFoundError, ReconcilerError, UsageError
from reconciler.objects import Kind, ObjectRef, parse_kind
from reconciler.runtime import PodStatus
from reconciler.store import Store

__all__ = ["container_of", "pick_pod", "register"]


def pick_pod(store: Store, target: str, namespace: str) -> PodStatus:
    """The pod ``target`` names: ``POD``, ``pod/POD`` or ``deployment/NAME``."""
    kind, name = Kind.POD, target
    if "/" in target:
        kind_word, _, name = target.partition("/")
        kind = parse_kind(kind_word)
    pods = pods_of(store.list_pods(namespace))
    if kind is Kind.POD:
        for pod in pods:
            if pod.name == name:
                return pod
        raise NotFoundError(f'Error from server (NotFound): pods "{name}" not found')
    if kind is Kind.DEPLOYMENT:
        if store.get_object(ObjectRef(Kind.DEPLOYMENT, namespace, name)) is None:
            raise NotFoundError(
                f'Error from server (NotFound): deployments.apps "{name}" not found'
            )
        owners = [rs.name for rs in store.list_replicasets(ObjectRef(kind, namespace, name))]
    elif kind is Kind.REPLICASET:
        owners = [name]
    else:
        raise UsageError(f"error: cannot attach to {kind_word}: not a pod or a pod owner")
    for owner in reversed(owners):  # newest revision first
        candidates = [p for p in pods if p.owner == owner and not p.terminating]
        if candidates:
            candidates.sort(key=lambda p: (not p.ready, p.created_at, p.name))
            if len(candidates) > 1:
                print(
                    f"Found {len(candidates)} pods, using pod/{candidates[0].name}",
                    file=sys.stderr,
                )
            return candidates[0]
    raise ReconcilerError(f"error: no pods found for {target}")


def container_of(pod: PodStatus, container: str | None) -> str:
    """The container to use: ``-c`` (checked), or the only one."""
    names = [c.name for c in pod.containers]
    if container is not None:
        if names and container not in names:
            raise ReconcilerError(f"error: container {container} is not valid for pod {pod.name}")
        return container
    if len(names) > 1:
        raise ReconcilerError(
            f"error: a container name must be specified for pod {pod.name}, "
            f"choose one of: [{' '.join(names)}]"
        )
    if not names:
        raise ReconcilerError(f"error: pod {pod.name} has no containers")
    return names[0]


@kubectl_not_found
def _logs(args: argparse.Namespace) -> int:
    from reconciler.runtime.logs import follow_log, read_log

    if (args.target is None) == (args.selector is None):
        raise UsageError(
            "error: expected POD, TYPE/NAME or -l SELECTOR (one of them)\n"
            "See 'reconciler logs -h' for help and examples"
        )
    with open_store(args) as store:
        if args.selector is not None:
            from reconciler.cli.selectors import matcher

            match = matcher(args.selector)
            found = [p for p in pods_of(store.list_pods(args.namespace)) if match(p.labels)]
            pods = sorted(found, key=lambda p: p.name)
        else:
            pods = [pick_pod(store, args.target, args.namespace)]
    root = state_dir(args, create=False)
    if args.selector is not None or args.prefix or args.all_containers:
        from reconciler.cli.logs_many import print_streams, streams_of

        if not pods:
            print(f"No resources found in {args.namespace} namespace.", file=sys.stderr)
            return 0
        streams = streams_of(pods, container=args.container, all_containers=args.all_containers)
        return print_streams(root, streams, args)
    pod = pods[0]
    container = container_of(pod, args.container)
    tail = args.tail if args.tail is not None and args.tail >= 0 else None
    from reconciler.runtime.podman.records import logs_args, podman_target, run_podman

    target = podman_target(
        root, args.namespace, pod.name, container, previous=args.previous, logs=True
    )
    if target is not None:  # a podman pod: podman keeps its containers' output
        follow = args.follow and not args.previous
        return run_podman(target, "logs", *logs_args(target, follow=follow, tail=tail))
    if args.follow and not args.previous:
        for line in follow_log(root, args.namespace, pod.name, container, tail=tail):
            sys.stdout.write(line)
            sys.stdout.flush()
        return 0
    sys.stdout.write(
        read_log(root, args.namespace, pod.name, container, tail=tail, previous=args.previous)
    )
    return 0


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "logs", parents=[common_options()], help="print the logs of a container in a pod"
    )
    parser.add_argument("target", nargs="?", metavar="POD | TYPE/NAME")
    parser.add_argument("-l", "--selector", help="the pods whose labels match (e.g. app=web)")
    parser.add_argument(
        "--all-containers", action="store_true", help="every container of the pod(s)"
    )
    parser.add_argument(
        "--prefix", action="store_true", help="prefix each line with [pod/NAME/CONTAINER]"
    )
    parser.add_argument(
        "--max-log-requests",
        type=int,
        default=5,
        help="most streams followed at once with -l and -f (default 5)",
    )
    parser.add_argument("-c", "--container", help="the container (needed when several)")
    parser.add_argument("-f", "--follow", action="store_true", help="stream the log")
    parser.add_argument(
        "--tail",
        type=int,
        default=-1,
        help="lines of recent log (-1: all; 10 per pod with -l)",
    )
    parser.add_argument("-p", "--previous", action="store_true", help="the previous instance's log")
    parser.set_defaults(func=_logs)
