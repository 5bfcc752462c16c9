"""``reconciler expose deployment NAME --port P [--target-port T] [--name N] [--type T]``.

kubectl's ``expose`` made GitOps: the Service is written as a new manifest in the folder (as
``create`` writes one, through ``folder.edit``/``folder.locate``: validated first, never over
another file), and the daemon then serves it like any other. As kubectl builds it: the selector
is the Deployment's ``spec.selector.matchLabels`` (one with ``matchExpressions`` cannot be
exposed), the labels are the Deployment's, the name is the Deployment's unless ``--name``;
without ``--port`` the ports are the pod template's container ports (``port-1``, ``port-2``...
when several), ``--target-port`` defaults to the port. It prints ``service/NAME exposed``;
``--dry-run -o yaml`` prints the manifest instead. The Deployment is read from the folder,
which is the truth.
"""

from __future__ import annotations

import argparse
from typing import Any

from ruamel.yaml import YAML

from reconciler.cli.common import common_options
from reconciler.cli.create import emit, output_options
from reconciler.errors import NotFoundError, ReconcilerError, UsageError
from reconciler.folder.edit import document_text, find_object
from reconciler.folder.locate import add_folder_option, resolve_folder
from reconciler.objects import API_VERSIONS, DEFAULT_NAMESPACE, Kind, ObjectRef, parse_kind

__all__ = ["register", "service_for"]


def _port_value(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def service_for(
    deployment: dict[str, Any],
    *,
    name: str,
    port: int | None,
    target_port: str | None,
    protocol: str = "TCP",
    service_type: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
) -> dict[str, Any]:
    """The Service ``kubectl expose deployment`` makes for ``deployment`` (a manifest)."""
    spec = deployment.get("spec") or {}
    selector = spec.get("selector") or {}
    if selector.get("matchExpressions"):
        raise ReconcilerError(
            "error: couldn't retrieve selectors via --selector flag or introspection: the "
            "deployment's selector has matchExpressions, which a Service selector cannot hold"
        )
    labels = dict(selector.get("matchLabels") or {})
    if not labels:
        raise ReconcilerError("error: the deployment has no matchLabels to select its pods by")
    if port is not None:
        target = _port_value(target_port) if target_port else port
        ports = [{"port": port, "protocol": protocol, "targetPort": target}]
    else:
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        found = [
            int(p["containerPort"])
            for c in containers
            for p in c.get("ports") or []
            if isinstance(p, dict) and "containerPort" in p
        ]
        if not found:
            raise UsageError(
                "error: couldn't find port via --port flag or introspection\n"
                "See 'reconciler expose -h' for help and examples"
            )
        ports = [
            {
                **({"name": f"port-{i + 1}"} if len(found) > 1 else {}),
                "port": number,
                "protocol": protocol,
                "targetPort": _port_value(target_port) if target_port else number,
            }
            for i, number in enumerate(found)
        ]
    metadata: dict[str, Any] = {"name": name}
    if namespace != DEFAULT_NAMESPACE:
        metadata["namespace"] = namespace
    own_labels = (deployment.get("metadata") or {}).get("labels")
    if own_labels:
        metadata["labels"] = dict(own_labels)
    service_spec: dict[str, Any] = {"ports": ports, "selector": labels}
    if service_type:
        service_spec["type"] = service_type
    return {
        "apiVersion": API_VERSIONS[Kind.SERVICE],
        "kind": str(Kind.SERVICE),
        "metadata": metadata,
        "spec": service_spec,
    }


def expose(args: argparse.Namespace) -> int:
    words: list[str] = list(args.words)
    if len(words) == 1 and "/" in words[0]:
        kind_word, _, target = words[0].partition("/")
    elif len(words) == 2:
        kind_word, target = words
    else:
        raise UsageError("error: expose takes deployment NAME (or deployment/NAME)")
    kind = parse_kind(kind_word)
    if kind is not Kind.DEPLOYMENT:
        raise UsageError(f"error: cannot expose a {kind}: only deployments can be exposed here")
    ref = ObjectRef(Kind.DEPLOYMENT, args.namespace, target)
    folder = resolve_folder(args)
    located = find_object(folder, ref) if folder.is_dir() else None
    if located is None:
        raise NotFoundError(f'Error from server (NotFound): deployments.apps "{target}" not found')
    deployment = YAML(typ="safe").load(document_text(located)) or {}
    name = args.service_name or target
    doc = service_for(
        deployment,
        name=name,
        port=args.port,
        target_port=args.target_port,
        protocol=args.protocol,
        service_type=args.type,
        namespace=args.namespace,
    )
    command = ["expose", "deployment", target]
    for flag, value in (
        ("--port", args.port),
        ("--target-port", args.target_port),
        ("--name", args.service_name),
        ("--type", args.type),
    ):
        if value is not None:
            command.append(f"{flag}={value}")
    return emit(args, ObjectRef(Kind.SERVICE, args.namespace, name), doc, command, verb="exposed")


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "expose",
        parents=[common_options()],
        help="write a Service manifest for a deployment (kubectl expose)",
    )
    parser.add_argument("words", nargs="+", metavar="deployment NAME | deployment/NAME")
    parser.add_argument("--port", type=int, help="the port the Service serves on")
    parser.add_argument("--target-port", help="the pod port (number or name; default --port)")
    parser.add_argument("--name", dest="service_name", help="the Service's name")
    parser.add_argument(
        "--type", choices=["ClusterIP", "NodePort", "LoadBalancer"], help="the Service type"
    )
    parser.add_argument("--protocol", default="TCP", choices=["TCP"], help="the protocol")
    output_options(parser)
    add_folder_option(parser)
    parser.set_defaults(func=expose)
