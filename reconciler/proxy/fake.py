"""An in-memory ``Proxy``: Service listeners as values, for unit tests of the daemon's wiring.

Nothing listens; what the fake keeps is what a test asks about: which ports "listen" (and on
what address), each port's backend groups, and connection counters a test sets
(``record_connections``, ``record_failures``) to drive canary analysis. It honours the
real proxy's rules: a port number another Service port (or another program: ``occupy``)
holds on the same address is refused with ``ListenerError``, the previous listener of that
Service port keeping its address; backends may be set before the listener exists; ``stats``
of a port that is not listening raises ``NotFoundError``; and ``configured()`` drops the
listeners not ensured since the fake was created, as a data plane that outlived a previous
daemon does.

The contract is checked by exercising this fake and ``TcpProxy`` with the same test
(``tests/unit/test_contracts.py``), not only by mypy.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from reconciler.errors import NotFoundError
from reconciler.proxy import (
    BackendGroup,
    GroupStats,
    ListenerError,
    ListenerSpec,
    ListenerStats,
)

_Key = tuple[str, str]


class FakeProxy:
    """``reconciler.proxy.Proxy`` in memory (see the module docstring)."""

    def __init__(self) -> None:
        self._specs: dict[_Key, ListenerSpec] = {}  # listening, as ensured
        self._numbers: dict[_Key, int] = {}  # the port number each holds (port 0: one picked)
        self._groups: dict[_Key, tuple[BackendGroup, ...]] = {}
        self._stats: dict[_Key, dict[str, GroupStats]] = {}
        self._ensured: set[_Key] = set()
        self._ephemeral = itertools.count(45000)
        self._occupied: set[tuple[str, int]] = set()  # held by some other program
        self.configured_calls = 0
        self.closed = False
        self.history: list[tuple[str, str, tuple[BackendGroup, ...]]] = []  # every set_backends

    def held_by(self, bind: str, port: int) -> _Key | None:
        """The Service port listening on ``bind:port``, if any."""
        for key, spec in self._specs.items():
            if (spec.bind, self._numbers[key]) == (bind, port):
                return key
        return None

    def address(self, service: str, port_name: str) -> tuple[str, int]:
        """Where the Service port listens (the number picked for port 0), as ``TcpProxy``'s."""
        key = (service, port_name)
        if key not in self._specs:
            raise NotFoundError(f"service {service} has no listener for port {port_name}")
        return self._specs[key].bind, self._numbers[key]

    async def ensure_listener(self, spec: ListenerSpec) -> None:
        key = (spec.service, spec.port_name)
        old = self._specs.get(key)
        number = spec.port
        if number == 0:  # the OS picks one; an update keeps the one it has
            same_bind = old is not None and old.bind == spec.bind
            number = self._numbers[key] if same_bind else 0
            number = number or next(self._ephemeral)
        holder = self.held_by(spec.bind, number)
        if (spec.bind, number) in self._occupied or (holder is not None and holder != key):
            raise ListenerError(
                f"service {spec.service} port {spec.port_name}: "
                f"cannot listen on {spec.bind}:{number}: Address already in use"
            )
        self._specs[key] = spec
        self._numbers[key] = number
        self._ensured.add(key)

    async def remove_listener(self, service: str, port_name: str) -> None:
        key = (service, port_name)
        self._specs.pop(key, None)
        self._numbers.pop(key, None)
        self._groups.pop(key, None)
        self._stats.pop(key, None)

    def set_backends(self, service: str, port_name: str, groups: tuple[BackendGroup, ...]) -> None:
        self._groups[(service, port_name)] = groups
        self.history.append((service, port_name, groups))

    def backends(self, service: str, port_name: str) -> tuple[BackendGroup, ...]:
        return self._groups.get((service, port_name), ())

    def connection_failures(self, service: str, group: str) -> int:
        return sum(
            counters[group].failed
            for (svc, _), counters in self._stats.items()
            if svc == service and group in counters
        )

    def listeners(self) -> list[ListenerSpec]:
        return sorted(self._specs.values(), key=lambda s: (s.service, s.port_name))

    def stats(self, service: str, port_name: str) -> ListenerStats:
        key = (service, port_name)
        if key not in self._specs:
            raise NotFoundError(f"service {service} has no listener for port {port_name}")
        counters = self._stats.get(key, {})
        names = [g.name for g in self._groups.get(key, ())]
        names += [n for n in counters if n not in names]
        return ListenerStats(
            service=service,
            port_name=port_name,
            groups=tuple(counters.get(n, GroupStats(n)) for n in names),
        )

    async def configured(self) -> None:
        self.configured_calls += 1
        for key in [k for k in self._specs if k not in self._ensured]:
            await self.remove_listener(*key)

    async def close(self) -> None:
        self.closed = True
        self._specs.clear()
        self._numbers.clear()

    # -- what a test does to the traffic -------------------------------------------------------

    def record_connections(self, service: str, port_name: str, *, group: str, count: int) -> None:
        """``count`` connections reached ``group`` through the port."""
        stats = self._counters(service, port_name, group)
        self._stats[(service, port_name)][group] = replace(stats, total=stats.total + count)

    def record_failures(self, service: str, port_name: str, *, group: str, count: int) -> None:
        """``count`` connects to ``group``'s endpoints through the port failed."""
        stats = self._counters(service, port_name, group)
        self._stats[(service, port_name)][group] = replace(stats, failed=stats.failed + count)

    def occupy(self, bind: str, port: int) -> None:
        """Another program listens on ``bind:port``: ensuring a listener there fails."""
        self._occupied.add((bind, port))

    def adopt(self, spec: ListenerSpec, groups: tuple[BackendGroup, ...]) -> None:
        """A listener a previous daemon left serving (the data plane outlived it)."""
        key = (spec.service, spec.port_name)
        self._specs[key] = spec
        self._numbers[key] = spec.port
        self._groups[key] = groups

    def _counters(self, service: str, port_name: str, group: str) -> GroupStats:
        return self._stats.setdefault((service, port_name), {}).get(group, GroupStats(group))


__all__ = ["FakeProxy"]
