"""Free host ports for pods: one per declared ``containerPort``.

The allocator binds a candidate port, closes the socket and hands the number to the pod, which
binds it a moment later. In that moment another socket could take the number. The classic
"bind port 0" finds a port in the kernel's *ephemeral* range, which is exactly where every
outgoing connection (the proxy's, the probes') also takes its local port, so under load a pod
could lose its port to the proxy itself and crash-loop. Pod ports therefore come from just below
the ephemeral range (``/proc/sys/net/ipv4/ip_local_port_range``, 32768–60999 by default →
pods get 20768–32767): only an explicit ``bind`` by another program can take them there.
The allocator remembers what it gave to live pods and skips those; a pod keeps its ports until
it is gone.

>>> pod_port_range((32768, 60999))
range(20768, 32768)
>>> pod_port_range((1024, 65535)) is None   # nothing below the ephemeral range to use
True
"""

from __future__ import annotations

import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
POD_PORTS = 12_000  # how many ports below the ephemeral range pods may use
LOWEST = 10_000  # never hand out ports below this (well-known and registered services)


def ephemeral_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int] | None:
    try:
        low, high = (int(v) for v in path.read_text().split())
    except (OSError, ValueError):
        return None
    return low, high


def pod_port_range(ephemeral: tuple[int, int] | None) -> range | None:
    """The ports just below the ephemeral range, or None when there are too few."""
    if ephemeral is None:
        return None
    low = ephemeral[0]
    start = max(LOWEST, low - POD_PORTS)
    return range(start, low) if low - start >= 1_000 else None


class PortAllocator:
    def __init__(self, bind_host: str = "127.0.0.1", *, ports: range | None = None) -> None:
        self._bind_host = bind_host
        self._family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
        self._held: set[int] = set()
        self._range = ports if ports is not None else pod_port_range(ephemeral_range())
        self._next = 0

    def _free(self, port: int) -> bool:
        with socket.socket(self._family, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((self._bind_host, port))
            except OSError:
                return False
        return True

    def allocate(self) -> int:
        if self._range is not None:
            # round-robin through the range, so a port freed a moment ago is reused last
            for _ in range(len(self._range)):
                port = self._range[self._next % len(self._range)]
                self._next += 1
                if port not in self._held and self._free(port):
                    self._held.add(port)
                    return port
        for _ in range(100):  # no usable range (or all taken): let the kernel choose
            with socket.socket(self._family, socket.SOCK_STREAM) as sock:
                sock.bind((self._bind_host, 0))
                port = int(sock.getsockname()[1])
            if port not in self._held:
                self._held.add(port)
                return port
        raise OSError("no free port found")  # pragma: no cover - needs an exhausted range

    def reserve(self, ports: set[int] | list[int]) -> None:
        """Hold ports a live pod already has (one adopted from a previous daemon)."""
        self._held.update(ports)

    def release(self, ports: set[int] | list[int]) -> None:
        for port in ports:
            self._held.discard(port)

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._held)
