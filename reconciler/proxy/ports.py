"""The state of one Service port in the proxy: its listening sockets, balancer and counters.

Shared by the TCP relay (``server.py``, ``splice.py``) and the HTTP path (``http.py``), and by
the data plane's hand-over (``handover.py``), which rebuilds ports from a predecessor's sockets.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

from reconciler.proxy import ListenerSpec
from reconciler.proxy.balancer import Balancer

__all__ = ["_Counters", "_Listener", "_Port"]


@dataclass(slots=True)
class _Counters:
    total: int = 0
    active: int = 0
    failed: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class _Listener:
    """The listening sockets of one Service port, each watched with ``loop.add_reader``."""

    __slots__ = ("loop", "sockets")

    def __init__(self, loop: asyncio.AbstractEventLoop, sockets: list[socket.socket]) -> None:
        self.loop = loop
        self.sockets = sockets

    @property
    def address(self) -> tuple[str, int]:
        host, number = self.sockets[0].getsockname()[:2]
        return str(host), int(number)

    def close(self) -> None:
        for sock in self.sockets:
            if sock.fileno() >= 0:
                self.loop.remove_reader(sock.fileno())
                sock.close()


@dataclass(slots=True)
class _Port:
    """Everything about one Service port: its listener (if any), backends and counters."""

    service: str
    port_name: str
    balancer: Balancer
    spec: ListenerSpec | None = None
    listener: _Listener | None = None
    counters: dict[str, _Counters] = field(default_factory=dict)
    refused: int = 0

    def counter(self, group: str) -> _Counters:
        counters = self.counters.get(group)
        if counters is None:
            counters = self.counters[group] = _Counters()
        return counters
