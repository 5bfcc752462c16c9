"""The data plane on demand: started when the first Service is bound, not with every daemon.

A folder with no Service needs no listener, so no data plane process. ``OnDemandDataPlane`` is
the daemon's ``Proxy``: at start it connects at once to a data plane that outlived the previous
daemon (it is serving, and must keep serving until ``configured``), and otherwise starts one only
when a listener is first asked for. A data plane this daemon started fresh is stopped again if the
daemon fails before it is up (``abandon``): a failed start leaves nothing running that was not
running before it. One the daemon found running is left alone (it serves the previous daemon's
Services, as after any stop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from reconciler.errors import NotFoundError
from reconciler.log import get_logger
from reconciler.proxy import BackendGroup, ListenerSpec, ListenerStats
from reconciler.proxy.client import DataPlaneClient
from reconciler.proxy.dataplane import is_running, stop_dataplane

log = get_logger(component="daemon")

_Key = tuple[str, str]


class OnDemandDataPlane:
    """``reconciler.proxy.Proxy`` over a ``DataPlaneClient`` made when first needed."""

    def __init__(
        self,
        state: Path,
        *,
        client: Callable[[Path], DataPlaneClient] = DataPlaneClient,
        running: Callable[[Path], bool] = is_running,
    ) -> None:
        self.state = state
        self._make_client = client
        self._running = running
        self._client: DataPlaneClient | None = None
        self._starting: asyncio.Lock | None = None
        self._fresh = False  # this daemon started the data plane (none was running)
        self._configured = False
        self._groups: dict[_Key, tuple[BackendGroup, ...]] = {}  # set before it started

    @property
    def started(self) -> bool:
        """Whether a data plane is connected (found running, or started for a Service)."""
        return self._client is not None

    async def prepare(self) -> None:
        """At daemon start: a data plane that outlived the previous daemon is connected to now
        (it keeps serving what it served until ``configured``); none is started."""
        if self._running(self.state):
            await self._connect(fresh=False)

    async def _connect(self, *, fresh: bool) -> DataPlaneClient:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._client is not None:
                return self._client
            client = self._make_client(self.state)
            await client.start()
            self._client, self._fresh = client, fresh
            if fresh:
                log.info("dataplane_started_for_services", state=str(self.state))
            for (service, port_name), groups in self._groups.items():
                client.set_backends(service, port_name, groups)
            self._groups.clear()
            if self._configured:  # nothing to keep from a previous daemon: end the sync now
                await client.configured()
            return client

    async def abandon(self) -> None:
        """The daemon failed to start: stop the data plane if this daemon started it."""
        client, fresh = self._client, self._fresh
        if client is None:
            return
        await client.close()
        self._client = None
        if fresh:
            log.warning("dataplane_stopped_after_failed_start", state=str(self.state))
            await asyncio.to_thread(stop_dataplane, self.state, drain=0.0)

    # -- the Proxy protocol -----------------------------------------------------------------

    async def ensure_listener(self, spec: ListenerSpec) -> None:
        client = self._client or await self._connect(fresh=True)
        await client.ensure_listener(spec)

    async def remove_listener(self, service: str, port_name: str) -> None:
        self._groups.pop((service, port_name), None)
        if self._client is not None:
            await self._client.remove_listener(service, port_name)

    def set_backends(self, service: str, port_name: str, groups: tuple[BackendGroup, ...]) -> None:
        if self._client is None:
            self._groups[(service, port_name)] = groups
        else:
            self._client.set_backends(service, port_name, groups)

    def backends(self, service: str, port_name: str) -> tuple[BackendGroup, ...]:
        if self._client is None:
            return self._groups.get((service, port_name), ())
        return self._client.backends(service, port_name)

    def connection_failures(self, service: str, group: str) -> int:
        return 0 if self._client is None else self._client.connection_failures(service, group)

    def listeners(self) -> list[ListenerSpec]:
        return [] if self._client is None else self._client.listeners()

    def stats(self, service: str, port_name: str) -> ListenerStats:
        if self._client is None:
            raise NotFoundError(f"service {service} has no listener for port {port_name}")
        return self._client.stats(service, port_name)

    def address(self, service: str, port_name: str) -> tuple[str, int]:
        if self._client is None:
            raise NotFoundError(f"service {service} has no listener for port {port_name}")
        return self._client.address(service, port_name)

    async def configured(self) -> None:
        self._configured = True
        if self._client is not None:
            await self._client.configured()

    async def close(self) -> None:
        """Disconnect; a data plane keeps serving (``reconciler down`` stops it)."""
        if self._client is not None:
            await self._client.close()


__all__ = ["OnDemandDataPlane"]
