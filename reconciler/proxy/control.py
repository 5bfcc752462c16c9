"""The data plane's control protocol: files in the state directory, and messages on its socket.

The daemon configures the data-plane process (``dataplane.py``) over a Unix stream socket in
``<state>/dataplane/``. Messages are JSON objects, one per line. A request may carry an ``id``;
the data plane answers every request that has one, in order, with ``{"id": n, "ok": true, ...}``
or ``{"id": n, "ok": false, "error": "..."}``. Requests without an ``id`` (``backends``, sent
on every endpoint change) get no answer: the socket keeps them in order, so the caller never
waits. Unsolicited messages carry ``event`` instead of ``id`` (``stats``: the counters).

Requests (``op``)::

    hello      {protocol, role, pid} -> {protocol, build, pid, start_time, ports: [...]}
    sync       {phase: begin|end}    a configuration from scratch (see DataPlane.sync)
    ensure     {spec}                -> {address: [host, port]} or an error (bind failed)
    remove     {service, port_name}
    backends   {service, port_name, groups}
    stats                            -> {ports: [...]} (also pushed as events)
    stop       {drain}               stop accepting, drain within ``drain`` s, exit
    handover   {protocol}            -> the listening sockets (SCM_RIGHTS), then ``taken``

``hello`` and ``handover`` are frozen at ``HANDOVER_PROTOCOL`` 1: a data plane of any later
version must still be able to take the sockets of this one, which is what makes an upgrade of
the data plane refuse no connection. ``PROTOCOL`` versions everything else; a daemon that finds
a data plane of another protocol or another build replaces it through the hand-over.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import reconciler
from reconciler.proxy import (
    BackendGroup,
    Endpoint,
    GroupStats,
    ListenerSpec,
    ListenerStats,
    RequestMatch,
)
from reconciler.runtime.records import boot_id, process_alive, process_start_time

PROTOCOL = 2  # the configuration messages (2: http listeners, header routes, request counters)
HANDOVER_PROTOCOL = 1  # hello + handover: frozen, every later data plane speaks it
MAX_FDS = 250  # listening sockets per SCM_RIGHTS message (the kernel allows 253)
_SHORT_PATH = 100  # sun_path holds 108 bytes; longer paths go through /proc/self/fd


def dataplane_dir(state: Path) -> Path:
    return state / "dataplane"


def socket_path(state: Path) -> Path:
    return dataplane_dir(state) / "control.sock"


def status_path(state: Path) -> Path:
    return dataplane_dir(state) / "dataplane.json"


def lock_path(state: Path) -> Path:
    return dataplane_dir(state) / "lock"


def log_path(state: Path) -> Path:
    return dataplane_dir(state) / "dataplane.log"


def build_id() -> str:
    """The package version and a digest of the proxy's code: two data planes with the same
    build forward identically, so a daemon keeps one of its own build and replaces any other."""
    digest = hashlib.sha256(reconciler.__version__.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"{reconciler.__version__}+{digest.hexdigest()[:12]}"


@contextlib.contextmanager
def bindable(path: Path) -> Iterator[str]:
    """An address for ``bind``/``connect`` of ``path``, even when it is longer than
    ``sun_path`` allows: then through ``/proc/self/fd/N/`` of its directory."""
    if len(os.fsencode(path)) < _SHORT_PATH:
        yield os.fspath(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


# -- the status file --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    """``dataplane.json``: which process serves the socket, so a daemon can verify it."""

    pid: int
    start_time: int
    boot_id: str
    protocol: int
    build: str

    def alive(self) -> bool:
        """The recorded process still runs (same pid, start time and boot): not a reused pid."""
        return self.boot_id == boot_id() and process_alive(self.pid, self.start_time)

    @classmethod
    def mine(cls) -> Status:
        pid = os.getpid()
        return cls(pid, process_start_time(pid) or 0, boot_id(), PROTOCOL, build_id())

    def save(self, state: Path) -> None:
        path = status_path(state)
        tmp = path.with_suffix(".tmp")
        data = {
            "pid": self.pid,
            "start_time": self.start_time,
            "boot_id": self.boot_id,
            "protocol": self.protocol,
            "build": self.build,
        }
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(tmp, path)

    @classmethod
    def load(cls, state: Path) -> Status | None:
        try:
            data = json.loads(status_path(state).read_text())
            return cls(
                int(data["pid"]),
                int(data["start_time"]),
                str(data["boot_id"]),
                int(data["protocol"]),
                str(data["build"]),
            )
        except (OSError, ValueError, TypeError, KeyError):
            return None


# -- values on the wire -----------------------------------------------------------------


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def spec_to_wire(spec: ListenerSpec) -> dict[str, Any]:
    return {
        "service": spec.service,
        "port_name": spec.port_name,
        "bind": spec.bind,
        "port": spec.port,
        "affinity_timeout": spec.affinity_timeout,
        "protocol": spec.protocol,
    }


def spec_from_wire(data: dict[str, Any]) -> ListenerSpec:
    timeout = data.get("affinity_timeout")
    return ListenerSpec(
        service=str(data["service"]),
        port_name=str(data["port_name"]),
        bind=str(data["bind"]),
        port=int(data["port"]),
        affinity_timeout=None if timeout is None else float(timeout),
        protocol=str(data.get("protocol", "tcp")),  # a data plane of protocol 1: all tcp
    )


def groups_to_wire(groups: tuple[BackendGroup, ...]) -> list[Any]:
    return [
        [
            g.name,
            g.weight,
            [[e.pod, e.host, e.port] for e in g.endpoints],
            g.version,
            [[m.header, m.value, m.kind] for m in g.match],
        ]
        for g in groups
    ]


def groups_from_wire(data: list[Any]) -> tuple[BackendGroup, ...]:
    """``[name, weight, endpoints, version, match]``; protocol 1 sent the first three."""
    groups = []
    for name, weight, endpoints, *rest in data:
        version = str(rest[0]) if rest else ""
        match = rest[1] if len(rest) > 1 else []
        groups.append(
            BackendGroup(
                str(name),
                int(weight),
                tuple(Endpoint(str(pod), str(host), int(port)) for pod, host, port in endpoints),
                version=version,
                match=tuple(RequestMatch(str(h), str(v), str(k)) for h, v, k in match),
            )
        )
    return tuple(groups)


def stats_to_wire(stats: ListenerStats) -> dict[str, Any]:
    return {
        "service": stats.service,
        "port_name": stats.port_name,
        "refused": stats.refused,
        "groups": [
            [
                g.name,
                g.total,
                g.active,
                g.failed,
                g.bytes_in,
                g.bytes_out,
                g.requests,
                list(g.responses),
                list(g.latency_buckets),
                g.latency_sum,
                g.in_flight,
                g.failed_requests,
            ]
            for g in stats.groups
        ],
    }


def stats_from_wire(data: dict[str, Any]) -> ListenerStats:
    return ListenerStats(
        service=str(data["service"]),
        port_name=str(data["port_name"]),
        refused=int(data["refused"]),
        groups=tuple(_group_from_wire(g) for g in data["groups"]),
    )


def _group_from_wire(fields: list[Any]) -> GroupStats:
    """``[name, total, active, failed, bytes_in, bytes_out, requests, responses,
    latency_buckets, latency_sum, in_flight, failed_requests]``; older data planes send a
    prefix (the first protocol had no byte counters, the second no request counters)."""
    name, total, active, failed, *rest = fields
    bytes_in, bytes_out = (int(rest[0]), int(rest[1])) if len(rest) >= 2 else (0, 0)
    if len(rest) < 8:
        return GroupStats(
            str(name),
            total=int(total),
            active=int(active),
            failed=int(failed),
            bytes_in=bytes_in,
            bytes_out=bytes_out,
        )
    requests, responses, buckets, latency_sum, in_flight, failed_requests = rest[2:8]
    r = [int(x) for x in responses][:5] + [0] * (5 - len(responses))
    return GroupStats(
        str(name),
        total=int(total),
        active=int(active),
        failed=int(failed),
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        requests=int(requests),
        responses=(r[0], r[1], r[2], r[3], r[4]),
        latency_buckets=tuple(int(x) for x in buckets),
        latency_sum=float(latency_sum),
        in_flight=int(in_flight),
        failed_requests=int(failed_requests),
    )


class LineReader:
    """Splits what a stream socket delivers into messages (one JSON object per line)."""

    def __init__(self, limit: int = 64 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._limit = limit

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buffer += data
        if len(self._buffer) > self._limit:
            raise ValueError("control message too long")
        *lines, rest = self._buffer.split(b"\n")
        self._buffer = bytearray(rest)
        out = []
        for line in lines:
            if line.strip():
                message = json.loads(line)
                if not isinstance(message, dict):
                    raise ValueError("control message is not an object")
                out.append(message)
        return out


def send_with_fds(sock: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
    """One message and its file descriptors (the fds ride on the message's first chunk)."""
    data = encode(message)
    first = socket.send_fds(sock, [data], fds) if fds else sock.send(data)
    if first < len(data):
        sock.sendall(data[first:])


def recv_with_fds(sock: socket.socket, *, timeout: float) -> tuple[dict[str, Any], list[int]]:
    """One message and the fds that came with it (blocking, within ``timeout``)."""
    sock.settimeout(timeout)
    reader = LineReader()
    fds: list[int] = []
    while True:
        data, received, _, _ = socket.recv_fds(sock, 1 << 20, MAX_FDS)
        fds.extend(received)
        if not data:
            for fd in fds:
                os.close(fd)
            raise ConnectionError("the data plane closed the connection")
        messages = reader.feed(data)
        if messages:
            return messages[0], fds
