"""Free host ports for pods: one per declared ``containerPort``.

A port is found by binding port 0 and closing the socket. The kernel may hand the same number
out again right after, so the allocator remembers what it gave to live pods and asks again on a
clash; a pod keeps its ports until it is gone.
"""

from __future__ import annotations

import socket


class PortAllocator:
    def __init__(self, bind_host: str = "127.0.0.1") -> None:
        self._bind_host = bind_host
        self._held: set[int] = set()

    def allocate(self) -> int:
        family = socket.AF_INET6 if ":" in self._bind_host else socket.AF_INET
        for _ in range(100):
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.bind((self._bind_host, 0))
                port = int(sock.getsockname()[1])
            if port not in self._held:
                self._held.add(port)
                return port
        raise OSError("no free port found")  # pragma: no cover - needs an exhausted range

    def release(self, ports: set[int] | list[int]) -> None:
        for port in ports:
            self._held.discard(port)

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._held)
