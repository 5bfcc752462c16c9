"""The state of one Service port in the proxy: its listening sockets, balancer and counters.

Shared by the TCP relay (``server.py``, ``splice.py``) and the HTTP path (``http.py``), and by
the data plane's hand-over (``handover.py``), which rebuilds ports from a predecessor's sockets.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any

from reconciler.proxy import LATENCY_BOUNDS, Endpoint, GroupStats, ListenerSpec
from reconciler.proxy.balancer import Balancer
from reconciler.proxy.httpwire import Route

__all__ = ["_Counters", "_Listener", "_Port"]


@dataclass(slots=True)
class _Counters:
    """One group's counters; on http listeners ``total``/``active`` count upstream
    connections, and the request fields count requests (mutable: bumped per request)."""

    total: int = 0
    active: int = 0
    failed: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    requests: int = 0
    responses: list[int] = field(default_factory=lambda: [0] * 5)  # 1xx..5xx
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS) + 1))
    latency_sum: float = 0.0
    in_flight: int = 0
    failed_requests: int = 0

    def stats(self, name: str) -> GroupStats:
        cumulative, running = [], 0
        for count in self.latency:
            running += count
            cumulative.append(running)
        r = self.responses
        return GroupStats(
            name,
            total=self.total,
            active=self.active,
            failed=self.failed,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            requests=self.requests,
            responses=(r[0], r[1], r[2], r[3], r[4]),
            latency_buckets=tuple(cumulative) if running else (),
            latency_sum=self.latency_sum,
            in_flight=self.in_flight,
            failed_requests=self.failed_requests,
        )

    def restore(self, stats: GroupStats) -> None:
        """Add a predecessor's cumulative counters (not its open connections or requests)."""
        self.total += stats.total
        self.failed += stats.failed
        self.bytes_in += stats.bytes_in
        self.bytes_out += stats.bytes_out
        self.requests += stats.requests
        for index, count in enumerate(stats.responses):
            self.responses[index] += count
        previous = 0
        for index, cumulative in enumerate(stats.latency_buckets[: len(self.latency)]):
            self.latency[index] += cumulative - previous
            previous = cumulative
        self.latency_sum += stats.latency_sum
        self.failed_requests += stats.failed_requests


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
    refused: int = 0  # connections (tcp) or requests (http: our 503s) no endpoint could take
    http: bool = False  # the spec's protocol is "http": connections are ``HttpConnection``s
    routes: tuple[Route, ...] = ()  # the header routes of the balancer's groups
    pool: dict[Endpoint, list[Any]] = field(default_factory=dict)  # idle upstreams (http)

    def counter(self, group: str) -> _Counters:
        counters = self.counters.get(group)
        if counters is None:
            counters = self.counters[group] = _Counters()
        return counters
