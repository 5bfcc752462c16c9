"""``create deployment`` and ``create service``: a new manifest file, as kubectl would make it.

The object is written as ``<folder>/<name>.yaml`` (``<name>-<kind>.yaml`` when a file of that
name already holds something else), validated before it is written, and refused with kubectl's
``already exists`` error when any file of the folder holds it already. ``--dry-run -o yaml``
prints the manifest instead, so ``create ... --dry-run -o yaml > file`` works as in kubectl.

``create deployment`` without a command writes a valid manifest that the validator warns
about (nothing to run); ``-- python3 -m reconciler.demoapp`` gives a runnable pod.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from reconciler.cli.common import common_options
from reconciler.errors import ReconcilerError, UsageError
from reconciler.folder.edit import dump_new, find_object, write_new
from reconciler.folder.locate import (
    add_folder_option,
    check_editable,
    command_line,
    display_path,
    note_command,
    plural,
    refuse,
    resolve_folder,
    validate_in_folder,
)
from reconciler.objects import API_VERSIONS, DEFAULT_NAMESPACE, Kind, ObjectRef

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def container_name(image: str) -> str:
    """kubectl's container name for an image: ``registry/team/web:1.2`` -> ``web``."""
    base = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    name = re.sub(r"[^a-z0-9-]", "-", base.lower()).strip("-")
    return name or "app"


def deployment_manifest(
    name: str,
    *,
    image: str,
    replicas: int = 1,
    port: int | None = None,
    command: list[str] | None = None,
    namespace: str = DEFAULT_NAMESPACE,
) -> dict[str, Any]:
    """The Deployment ``kubectl create deployment`` makes (labels and selector ``app: NAME``)."""
    container: dict[str, Any] = {"name": container_name(image), "image": image}
    if command:
        container["command"] = list(command)
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    return {
        "apiVersion": API_VERSIONS[Kind.DEPLOYMENT],
        "kind": str(Kind.DEPLOYMENT),
        "metadata": _metadata(name, namespace),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


def service_manifest(
    name: str,
    *,
    ports: list[tuple[int, int | str]],
    selector: dict[str, str] | None = None,
    namespace: str = DEFAULT_NAMESPACE,
) -> dict[str, Any]:
    """The ClusterIP Service ``kubectl create service clusterip NAME --tcp=P:T`` makes."""
    return {
        "apiVersion": API_VERSIONS[Kind.SERVICE],
        "kind": str(Kind.SERVICE),
        "metadata": _metadata(name, namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": selector or {"app": name},
            "ports": [
                {"name": f"{port}-{target}", "port": port, "targetPort": target, "protocol": "TCP"}
                for port, target in ports
            ],
        },
    }


def _metadata(name: str, namespace: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace != DEFAULT_NAMESPACE:
        metadata["namespace"] = namespace
    metadata["labels"] = {"app": name}
    return metadata


def _parse_tcp(value: str) -> tuple[int, int | str]:
    port, _, target = value.partition(":")
    try:
        number = int(port)
        target_port: int | str = int(target) if target.isdigit() else (target or number)
    except ValueError:
        raise UsageError(f"error: invalid --tcp {value!r}: expected PORT[:TARGET]") from None
    return number, target_port


def _parse_selector(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    selector: dict[str, str] = {}
    for pair in value.split(","):
        key, sep, val = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"error: invalid --selector {value!r}: expected k=v[,k=v]")
        selector[key.strip()] = val.strip()
    return selector


def emit(
    args: argparse.Namespace,
    ref: ObjectRef,
    doc: dict[str, Any],
    words: list[str],
    *,
    verb: str = "created",
) -> int:
    if not _NAME.match(ref.name):
        raise UsageError(
            f'error: invalid name "{ref.name}": a lowercase RFC 1123 label must consist of lower '
            "case alphanumeric characters or '-', and must start and end with an alphanumeric "
            "character"
        )
    dry_run = args.dry_run not in (None, "none")
    folder = resolve_folder(args)
    if folder.is_dir() and find_object(folder, ref) is not None and not dry_run:
        raise ReconcilerError(
            f'error: failed to create {ref.kind.value.lower()}: {plural(ref)} "{ref.name}" '
            "already exists"
        )
    path = folder / f"{ref.name}.yaml"
    if path.exists():
        path = folder / f"{ref.name}-{ref.kind.value.lower()}.yaml"
    text = dump_new(doc)
    refuse(validate_in_folder(folder, [(display_path(path), text)]), what=ref.display)
    if not dry_run:
        folder.mkdir(parents=True, exist_ok=True)
        check_editable(folder, path)
        try:
            path = write_new(folder, path.name, text)
        except FileExistsError:
            raise ReconcilerError(
                f"error: {display_path(path)} already exists; not overwriting it"
            ) from None
        note_command(args, path, command_line(words))
    output = args.output
    if output == "yaml":
        print(dump_new(doc), end="")
    elif output == "json":
        print(json.dumps(doc, indent=4))
    elif output == "name":
        print(ref.display)
    else:
        print(f"{ref.display} {verb}{' (dry run)' if dry_run else ''}")
    return 0


def _split_rest(args: argparse.Namespace, options: argparse.ArgumentParser) -> list[str]:
    """Options after NAME, then ``-- COMMAND ARGS...`` (argparse cannot mix both itself)."""
    rest: list[str] = list(args.rest)
    command: list[str] = []
    if "--" in rest:
        at = rest.index("--")
        rest, command = rest[:at], rest[at + 1 :]
    options.parse_args(rest, namespace=args)
    return command


def _create_deployment(args: argparse.Namespace) -> int:
    command = _split_rest(args, _standalone(_deployment_options()))
    if not args.image:
        raise UsageError('error: required flag(s) "image" not set')
    if args.replicas < 0:
        raise UsageError("error: --replicas must be greater than or equal to 0")
    ref = ObjectRef(Kind.DEPLOYMENT, args.namespace, args.name)
    doc = deployment_manifest(
        args.name,
        image=args.image,
        replicas=args.replicas,
        port=args.port,
        command=command,
        namespace=args.namespace,
    )
    words = ["create", "deployment", args.name, f"--image={args.image}"]
    if args.replicas != 1:
        words.append(f"--replicas={args.replicas}")
    if args.port is not None:
        words.append(f"--port={args.port}")
    if command:
        words += ["--", *command]
    return emit(args, ref, doc, words)


def _create_service(args: argparse.Namespace) -> int:
    _split_rest(args, _standalone(_service_options()))
    names = [n for n in (args.type_or_name, args.name) if n]
    if len(names) == 2:
        if names[0] != "clusterip":
            raise UsageError(f'error: service type "{names[0]}" is not supported (clusterip only)')
        name = names[1]
    else:
        name = names[0]
    if not args.tcp:
        raise UsageError('error: required flag(s) "tcp" not set')
    ref = ObjectRef(Kind.SERVICE, args.namespace, name)
    ports = [_parse_tcp(value) for value in args.tcp]
    doc = service_manifest(
        name, ports=ports, selector=_parse_selector(args.selector), namespace=args.namespace
    )
    words = ["create", "service", name, *(f"--tcp={value}" for value in args.tcp)]
    if args.selector:
        words.append(f"--selector={args.selector}")
    return emit(args, ref, doc, words)


def output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run",
        nargs="?",
        const="client",
        choices=["none", "client", "server"],
        help="print the object instead of writing it",
    )
    parser.add_argument("-o", "--output", choices=["yaml", "json", "name"], help="output format")


def _deployment_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--image", help="the image (version label) to run")
    parser.add_argument("--replicas", type=int, default=1, help="replicas (default 1)")
    parser.add_argument("--port", type=int, help="the container port")
    output_options(parser)
    return parser


def _service_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--tcp", action="append", metavar="PORT:TARGET", help="a port and its target port"
    )
    parser.add_argument("--selector", metavar="k=v", help="the selector (default app=NAME)")
    output_options(parser)
    return parser


def _standalone(options: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A parser for the options given after NAME; it leaves what was parsed before alone."""
    parser = argparse.ArgumentParser(
        prog="reconciler create", add_help=False, parents=[common_options(), options]
    )
    add_folder_option(parser)
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return parser


def register(commands: Any, rollout: Any) -> None:
    create = commands.add_parser("create", help="create a new manifest in the folder")
    kinds = create.add_subparsers(dest="create_kind", metavar="KIND")
    kinds.required = True
    parent = common_options()
    for word in ("deployment", "deploy"):
        deployment = kinds.add_parser(
            word,
            parents=[parent, _deployment_options()],
            help="a Deployment: create deployment NAME --image IMAGE [-- COMMAND ARGS...]",
        )
        deployment.add_argument("name", metavar="NAME")
        deployment.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        add_folder_option(deployment)
        deployment.set_defaults(func=_create_deployment)
    for word in ("service", "svc"):
        service = kinds.add_parser(
            word,
            parents=[parent, _service_options()],
            help="a ClusterIP Service: create service [clusterip] NAME --tcp PORT:TARGET",
        )
        service.add_argument("type_or_name", metavar="NAME")
        service.add_argument("name", nargs="?", help=argparse.SUPPRESS)
        service.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        add_folder_option(service)
        service.set_defaults(func=_create_service)
    from reconciler.cli.create_secret import register_secret

    register_secret(kinds, parent, emit=emit)
