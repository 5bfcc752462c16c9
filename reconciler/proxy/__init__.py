"""The Proxy seam: Services as TCP listeners in front of Ready pods.

The engine decides *which* endpoints a Service port has and with what weights (a canary's
stable and canary groups, a blue/green active or preview ReplicaSet, a canary's header route);
the proxy only forwards connections, or on a port with ``appProtocol: http`` requests one by
one, and counts what it forwarded. ``set_backends`` replaces a port's backends atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from reconciler.errors import ReconcilerError

__all__ = [
    "LATENCY_BOUNDS",
    "BackendGroup",
    "Endpoint",
    "GroupStats",
    "ListenerError",
    "ListenerSpec",
    "ListenerStats",
    "Proxy",
    "RequestMatch",
]


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    pod: str
    host: str
    port: int


# Upper bounds (seconds) of the request latency histogram: Prometheus' default buckets.
LATENCY_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class RequestMatch:
    """One Argo ``HeaderRoutingMatch`` entry; all of a group's entries must match a request."""

    header: str  # header name, case-insensitive ("Cookie" matches the raw Cookie header)
    value: str
    kind: str = "exact"  # "exact" | "prefix" | "regex" (regex: re.fullmatch, as Envoy/Istio)


@dataclass(frozen=True, slots=True)
class BackendGroup:
    """Endpoints that share one traffic weight (e.g. the canary ReplicaSet's pods)."""

    name: str
    weight: int  # relative; groups with weight 0 get no new connections
    endpoints: tuple[Endpoint, ...]
    version: str = ""  # the pod-template-hash the group serves ("" = mixed)
    # Non-empty: a header route; gets only (and all) matching requests, its weight is ignored.
    match: tuple[RequestMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    """One Service port: where to listen, and how to keep a client on one endpoint."""

    service: str  # "namespace/name"
    port_name: str  # the Service port's name, or its number as a string
    bind: str
    port: int
    affinity_timeout: float | None = None  # seconds for sessionAffinity: ClientIP, else None
    # "http" when the Service port has appProtocol: http: requests are routed one by one, and
    # affinity_timeout is then cookie stickiness per version (the cookie's Max-Age).
    protocol: str = "tcp"


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Connections (and, on http listeners, requests) one backend group received since its
    listener started. Cumulative: readers compute windows from the deltas of two samples."""

    name: str
    total: int = 0  # connections forwarded to one of the group's endpoints
    active: int = 0  # of those, still open
    failed: int = 0  # connect attempts to the group's endpoints that failed
    bytes_in: int = 0  # bytes received from clients (and relayed to the group's endpoints)
    bytes_out: int = 0  # bytes received from the group's endpoints (and relayed to clients)
    requests: int = 0  # http: requests routed to the group
    responses: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # http: 1xx..5xx sent
    latency_buckets: tuple[int, ...] = ()  # cumulative counts per LATENCY_BOUNDS, then +Inf
    latency_sum: float = 0.0  # seconds, over the requests counted in latency_buckets
    in_flight: int = 0  # requests sent to the group and not yet answered
    failed_requests: int = 0  # answered by the proxy itself (502/504); also in responses


@dataclass(frozen=True, slots=True)
class ListenerStats:
    """Counters of one Service port (``TcpProxy.stats``)."""

    service: str
    port_name: str
    groups: tuple[GroupStats, ...] = ()
    refused: int = 0  # connections closed at once because no endpoint could take them


class ListenerError(ReconcilerError):
    """A Service port cannot listen (address in use, bad bind address)."""


class Proxy(Protocol):
    async def ensure_listener(self, spec: ListenerSpec) -> None:
        """Create the listener, or update it in place (same service and port name)."""

    async def remove_listener(self, service: str, port_name: str) -> None:
        """Stop listening; open connections finish on their own."""

    def set_backends(self, service: str, port_name: str, groups: tuple[BackendGroup, ...]) -> None:
        """Replace the backends of one listener atomically."""

    def backends(self, service: str, port_name: str) -> tuple[BackendGroup, ...]:
        """What the port forwards to now; after a daemon restart, what the data plane kept
        serving from the previous daemon until this one sets its own."""

    def connection_failures(self, service: str, group: str) -> int:
        """Connections to ``group``'s endpoints that failed since the listener started."""

    def listeners(self) -> list[ListenerSpec]:
        """The specs of the ports that are listening (``/metrics``, the dashboard)."""

    def stats(self, service: str, port_name: str) -> ListenerStats:
        """One listening port's counters per backend group (``/metrics``, the dashboard)."""

    async def configured(self) -> None:
        """The daemon has sent its whole configuration: every Service it knows at start is
        ensured and has its backends. A data plane that outlived the previous daemon keeps that
        daemon's backends until this call, then switches to the new ones in one step and drops
        the listeners the new daemon did not ask for."""

    async def close(self) -> None:
        """The daemon is stopping. In process: stop listening and cut connections; a data-plane
        client only disconnects, and the data plane keeps serving."""
