"""Taking over from a running data plane: its listening sockets, passed with SCM_RIGHTS.

This is how a data plane is upgraded without refusing a connection (HAProxy's seamless reload
and Envoy's hot restart do the same). The successor, started with ``--take-over``:

1. connects to the control socket and says ``hello`` then ``handover`` (both frozen at
   ``HANDOVER_PROTOCOL`` 1, so any later data plane can take over from this one);
2. receives one message: every listener's spec, backends and counters, and with it the file
   descriptors of the state directory's lock, of the control socket and of every listening
   socket. The kernel queue behind a listening socket is shared by every process holding it:
   a connection that arrives while the sockets change hands waits in it, it is not refused;
3. starts accepting on them, writes ``dataplane.json``, then says ``taken``. Only then does
   the predecessor stop accepting; it lets its open connections finish (within the drain bound
   the successor asked for) and exits. Until ``taken`` both accept, which is harmless: they
   forward with the same configuration.

If the successor dies before ``taken``, the predecessor notices the closed connection and
carries on as if nothing happened. The lock travels as a descriptor of the same open file, so
the ``flock`` is held throughout and no third data plane can start in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.proxy import BackendGroup, ListenerSpec, ListenerStats
from reconciler.proxy.balancer import Balancer
from reconciler.proxy.control import (
    HANDOVER_PROTOCOL,
    bindable,
    encode,
    groups_from_wire,
    recv_with_fds,
    socket_path,
    spec_from_wire,
    stats_from_wire,
)
from reconciler.proxy.ports import _Listener, _Port
from reconciler.proxy.server import TcpProxy

__all__ = ["HandoverProxy", "Predecessor", "Taken", "TakenPort", "take_sockets"]

DRAIN = 30.0  # seconds the predecessor gives its open connections after the hand-over


class HandoverError(ReconcilerError):
    """The running data plane did not hand its sockets over."""


class HandoverProxy(TcpProxy):
    """A ``TcpProxy`` whose listening sockets can be handed to, and taken from, another
    process: what the data plane runs."""

    async def adopt_listener(self, spec: ListenerSpec, sockets: list[socket.socket]) -> None:
        """Serve ``spec`` on sockets that are already bound and listening (handed over by a
        predecessor process with SCM_RIGHTS): nothing is re-bound, so nothing is refused."""
        key = (spec.service, spec.port_name)
        port = self._ports.get(key)
        if port is None:
            port = self._ports[key] = _Port(spec.service, spec.port_name, Balancer())
        if port.listener is not None:
            port.listener.close()
        loop = self._loop = asyncio.get_running_loop()
        for sock in sockets:
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), self._accept, port, sock)
        port.listener = _Listener(loop, sockets)
        port.balancer = Balancer(
            port.balancer.groups, affinity_timeout=spec.affinity_timeout, previous=port.balancer
        )
        port.spec = spec
        port.http = spec.protocol == "http"

    def listening_sockets(self, service: str, port_name: str) -> list[socket.socket]:
        """The bound sockets of one listener (to hand to a successor), else an empty list."""
        port = self._ports.get((service, port_name))
        return list(port.listener.sockets) if port is not None and port.listener else []

    def restore_counters(self, stats: ListenerStats) -> None:
        """Carry a predecessor's totals and failures over (its open connections stay its own),
        so ``connection_failures`` does not drop to zero when the data plane is replaced."""
        key = (stats.service, stats.port_name)
        port = self._ports.get(key)
        if port is None:
            port = self._ports[key] = _Port(stats.service, stats.port_name, Balancer())
        port.refused += stats.refused
        for group in stats.groups:
            port.counter(group.name).restore(group)


@dataclass(frozen=True, slots=True)
class TakenPort:
    spec: ListenerSpec
    groups: tuple[BackendGroup, ...]
    stats: ListenerStats
    sockets: list[socket.socket]


class Predecessor:
    """The connection to the data plane we took over from; ``confirm`` lets it go."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock = sock
        self.pid = pid

    def confirm(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(encode({"op": "taken"}))
        self.sock.close()


@dataclass(frozen=True, slots=True)
class Taken:
    lock_fd: int
    control: socket.socket
    ports: list[TakenPort]
    predecessor: Predecessor


def _read_line(sock: socket.socket) -> dict[str, object]:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)  # byte by byte: what follows this line carries descriptors
        if not chunk:
            raise HandoverError("the running data plane closed the connection")
        data += chunk
    answer = json.loads(data)
    if not isinstance(answer, dict):
        raise HandoverError("the running data plane sent no object")
    return answer


def _close_fds(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def take_sockets(state: Path, *, timeout: float = 10.0, drain: float = DRAIN) -> Taken:
    """Receive the sockets of the data plane serving ``state`` (blocking)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        with bindable(socket_path(state)) as address:
            sock.connect(address)
        sock.sendall(
            encode({"op": "hello", "id": 1, "protocol": HANDOVER_PROTOCOL, "role": "successor"})
        )
        hello = _read_line(sock)
        if int(str(hello.get("handover_protocol", 1))) != HANDOVER_PROTOCOL:
            raise HandoverError(
                f"the running data plane speaks hand-over protocol "
                f"{hello.get('handover_protocol')}, not {HANDOVER_PROTOCOL}"
            )
        sock.sendall(
            encode({"op": "handover", "id": 2, "protocol": HANDOVER_PROTOCOL, "drain": drain})
        )
        header, fds = recv_with_fds(sock, timeout=timeout)
    except (OSError, ValueError) as exc:
        sock.close()
        raise HandoverError(f"cannot take over from the running data plane: {exc}") from exc
    except HandoverError:
        sock.close()
        raise
    if not header.get("ok") or len(fds) < 2:
        _close_fds(fds)
        sock.close()
        raise HandoverError(f"the running data plane refused: {header.get('error')}")
    sockets = [socket.socket(fileno=fd) for fd in fds[1:]]  # they own their fds from here on
    try:
        ports = [
            TakenPort(
                spec=spec_from_wire(port["spec"]),
                groups=groups_from_wire(port["groups"]),
                stats=stats_from_wire(port["stats"]),
                sockets=[sockets[i - 1] for i in port["fds"]],
            )
            for port in header["ports"]
        ]
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        os.close(fds[0])
        for each in sockets:
            each.close()
        sock.close()
        raise HandoverError(f"bad hand-over from the running data plane: {exc!r}") from exc
    sock.settimeout(5.0)
    return Taken(
        lock_fd=fds[0],
        control=sockets[0],
        ports=ports,
        predecessor=Predecessor(sock, int(header.get("pid", 0))),
    )
