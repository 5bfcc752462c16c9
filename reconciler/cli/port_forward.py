"""``reconciler port-forward pod/NAME|deploy/NAME|svc/NAME [LOCAL:]REMOTE ...``: real sockets.

As kubectl does it: the target is resolved to one pod when the command starts (a Deployment's
pod as ``logs`` picks it; a Service's Ready pod matching its selector, with ``REMOTE`` the
Service port translated to its ``targetPort``), each ``LOCAL:REMOTE`` is a listener on
``--address`` (default ``localhost``: 127.0.0.1) that forwards every connection to the pod's
port, printing ``Forwarding from 127.0.0.1:8080 -> 80`` per listener and ``Handling connection
for 8080`` per connection. ``:REMOTE`` or ``0:REMOTE`` takes a free local port. A pod that stops
ends the command (``error: lost connection to pod``, exit 1); Ctrl-C ends it cleanly.

A pod's ``containerPort`` is reached at the host port the runtime gave it (``PORT``), so only
declared ports can be forwarded; another is refused with the ports the pod has.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.cli.common import common_options, open_store
from reconciler.cli.describe_text import kubectl_not_found
from reconciler.cli.logs import pick_pod
from reconciler.cli.views import pods_of
from reconciler.errors import NotFoundError, ReconcilerError, UsageError
from reconciler.objects import Kind, ObjectRef, parse_kind
from reconciler.runtime import PodStatus
from reconciler.store import Store

__all__ = ["Forward", "parse_ports", "register", "resolve"]

WATCH_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class Forward:
    local: int  # 0: a free port
    remote: str  # what was asked (a number or a port name), for the messages
    host: str  # where the pod's port is
    port: int  # the pod's host port


def parse_ports(specs: Sequence[str]) -> list[tuple[int, str]]:
    """``[LOCAL:]REMOTE`` pairs; LOCAL defaults to REMOTE when that is a number.

    >>> parse_ports(["8080:80", ":http", "9000"])
    [(8080, '80'), (0, 'http'), (9000, '9000')]
    """
    out: list[tuple[int, str]] = []
    for spec in specs:
        local, colon, remote = spec.rpartition(":")
        if not colon:
            local, remote = (remote if remote.isdigit() else "0"), remote
        if not remote or (local and not local.isdigit()):
            raise UsageError(f"error: invalid port format {spec!r}: use [LOCAL:]REMOTE")
        out.append((int(local or 0), remote))
    return out


def _service_pod(store: Store, ref: ObjectRef) -> tuple[PodStatus, Mapping[str, Any]]:
    obj = store.get_object(ref)
    if obj is None:
        raise NotFoundError(f'Error from server (NotFound): services "{ref.name}" not found')
    spec = obj.spec.get("spec") or {}
    selector = spec.get("selector") or {}
    if not selector:
        raise ReconcilerError(f"error: service {ref.name} has no selector: no pod to forward to")
    pods = [
        p
        for p in pods_of(store.list_pods(ref.namespace))
        if not p.terminating and all(p.labels.get(k) == v for k, v in selector.items())
    ]
    if not pods:
        raise ReconcilerError(f"error: no pods found for service/{ref.name}")
    pods.sort(key=lambda p: (not p.ready, p.created_at, p.name))  # a Ready pod first
    return pods[0], spec


def _target_port(service: Mapping[str, Any], remote: str, name: str) -> str:
    """A Service port (number or name) as the pod port it targets."""
    for port in service.get("ports") or []:
        if remote in (str(port.get("port")), str(port.get("name", ""))):
            return str(port.get("targetPort", port.get("port")))
    raise ReconcilerError(f"error: Service {name} does not have a service port {remote}")


def resolve(
    store: Store, target: str, namespace: str, ports: Sequence[tuple[int, str]]
) -> tuple[PodStatus, list[Forward]]:
    """The pod ``target`` names and where each asked port of it is."""
    kind_word, slash, name = target.partition("/")
    kind = parse_kind(kind_word) if slash else Kind.POD
    name = name if slash else target
    service: Mapping[str, Any] | None = None
    if kind is Kind.SERVICE:
        pod, service = _service_pod(store, ObjectRef(kind, namespace, name))
    else:
        pod = pick_pod(store, f"{kind_word}/{name}" if slash else name, namespace)
    if pod.terminating or str(pod.phase) != "Running":
        status = "Terminating" if pod.terminating else str(pod.phase)
        raise ReconcilerError(
            f"error: unable to forward port because pod is not running. Current status={status}"
        )
    forwards = []
    for local, remote in ports:
        pod_port = _target_port(service, remote, name) if service is not None else remote
        host_port = pod.ports.get(pod_port)
        if host_port is None:
            declared = sorted({k for k in pod.ports if k.isdigit()}) or ["none"]
            raise ReconcilerError(
                f"error: pod {pod.name} does not declare port {pod_port} (its containerPorts: "
                f"{', '.join(declared)}); only declared ports have a host port to forward to"
            )
        forwards.append(Forward(local, remote, pod.ip or "127.0.0.1", host_port))
    return pod, forwards


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()


async def _serve(forward: Forward, address: str) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local = writer.get_extra_info("sockname")[1]
        print(f"Handling connection for {local}", flush=True)
        try:
            up_reader, up_writer = await asyncio.open_connection(forward.host, forward.port)
        except OSError as exc:
            print(
                f"E an error occurred forwarding {local} -> {forward.remote}: {exc}",
                file=sys.stderr,
                flush=True,
            )
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        for w in (writer, up_writer):
            w.close()

    try:
        server = await asyncio.start_server(handle, address, forward.local)
    except OSError as exc:
        raise ReconcilerError(
            f"error: unable to listen on port {forward.local}: {exc.strerror or exc}"
        ) from None
    local = server.sockets[0].getsockname()[1]
    print(f"Forwarding from {address}:{local} -> {forward.remote}", flush=True)
    return server


async def _forward(args: argparse.Namespace, pod: PodStatus, forwards: list[Forward]) -> int:
    servers = []
    try:
        for address in args.address:
            for forward in forwards:
                servers.append(await _serve(forward, address))
        with open_store(args, reading=False) as store:
            while True:
                await asyncio.sleep(WATCH_INTERVAL)
                current = next(
                    (p for p in pods_of(store.list_pods(pod.namespace)) if p.name == pod.name),
                    None,
                )
                if current is None or current.terminating:
                    print("error: lost connection to pod", file=sys.stderr, flush=True)
                    return 1
    finally:
        for server in servers:
            server.close()


@kubectl_not_found
def port_forward(args: argparse.Namespace) -> int:
    ports = parse_ports(args.ports)
    if not ports:
        raise UsageError("error: at least 1 PORT is required for port-forward")
    given = args.address or ["localhost"]
    addresses = [a.strip() for a in ",".join(given).split(",") if a.strip()]
    args.address = ["127.0.0.1" if a == "localhost" else a for a in addresses]
    with open_store(args) as store:
        pod, forwards = resolve(store, args.target, args.namespace, ports)
    try:
        return asyncio.run(_forward(args, pod, forwards))
    except KeyboardInterrupt:
        return 0


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "port-forward",
        parents=[common_options()],
        help="forward local ports to a pod (of a deployment or a service)",
    )
    parser.add_argument("target", metavar="pod/NAME | deploy/NAME | svc/NAME")
    parser.add_argument("ports", nargs="*", metavar="[LOCAL:]REMOTE")
    parser.add_argument(
        "--address",
        action="append",
        default=None,
        help="addresses to listen on, comma-separated (default localhost)",
    )
    parser.set_defaults(func=port_forward)
