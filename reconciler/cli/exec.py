"""``reconciler exec POD [-c C] [-it] -- CMD ...``: run a command in a pod's environment.

A pod here is a group of local processes, so "in the pod" means with the container's
environment, working directory and ports (``reconciler.runtime.exec``). The exit code is the
command's, as with ``kubectl exec`` (which also says ``command terminated with exit code N``
on stderr); a command that cannot be started is runc's ``OCI runtime exec failed: ...
executable file not found in $PATH`` with exit code 126. ``deployment/NAME`` picks a pod
like ``logs`` does; with several containers and no ``-c`` the first is used, as kubectl does
(``Defaulted container "a" out of: a, b``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reconciler.cli.common import common_options, open_store, state_dir
from reconciler.cli.describe import kubectl_not_found
from reconciler.cli.logs import pick_pod
from reconciler.errors import ReconcilerError, UsageError

__all__ = ["register"]


@kubectl_not_found
def _exec(args: argparse.Namespace) -> int:
    argv = list(args.command)
    if "--" in argv and argv[0].startswith("-"):
        # options after the pod name (``exec POD -it -c web -- CMD``) land in the remainder
        cut = argv.index("--")
        _options().parse_args(argv[:cut], namespace=args)
        argv = argv[cut + 1 :]
    if not argv:
        raise UsageError("error: you must specify at least one command for the container")
    try:
        from reconciler.runtime.exec import exec_in_pod
    except ImportError:  # pragma: no cover - the runtime's exec lands separately
        raise ReconcilerError("error: exec is not available in this build") from None
    with open_store(args) as store:
        pod = pick_pod(store, args.target, args.namespace)
    names = [c.name for c in pod.containers]
    container = args.container
    if container is None:
        if not names:
            raise ReconcilerError(f"error: pod {pod.name} has no containers")
        container = names[0]
        if len(names) > 1:
            print(f'Defaulted container "{container}" out of: {", ".join(names)}', file=sys.stderr)
    elif names and container not in names:
        raise ReconcilerError(f"error: container {container} is not valid for pod {pod.name}")
    from reconciler.runtime.podman.records import exec_args, podman_target, run_podman

    root = state_dir(args, create=False)
    target = podman_target(root, args.namespace, pod.name, container)
    if target is not None:  # a podman pod: run it inside the container
        return run_podman(target, "exec", *exec_args(target, argv, tty=args.tty, stdin=args.stdin))
    code: int = exec_in_pod(
        state_dir(args, create=False), args.namespace, pod.name, container, argv, tty=args.tty
    )
    if code != 0:
        # kubectl's words for a command that exited non-zero; its exit code is kubectl's too
        print(f"command terminated with exit code {code}", file=sys.stderr)
    return code


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--container", help="the container (default: the first)")
    parser.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the command")
    parser.add_argument("-t", "--tty", action="store_true", help="allocate a terminal")


def _options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reconciler exec", parents=[common_options()])
    _add_options(parser)
    return parser


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "exec", parents=[common_options()], help="run a command in a container of a pod"
    )
    parser.add_argument("target", metavar="POD | TYPE/NAME")
    _add_options(parser)
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    parser.set_defaults(func=_exec)
