"""The web side of ``reconciler run``: the HTTP server and the webhooks, on the daemon's loop.

Why aiohttp and not a small server on asyncio streams: the server may listen beyond loopback
(``--http 0.0.0.0:18070``), and parsing HTTP from the network is where small servers go wrong
(request smuggling, header floods, slow clients, half-closed connections); aiohttp's parser and
its streaming responses (the event stream) are made for exactly this, run on the daemon's own
loop, and its client delivers the webhooks. Nothing it does blocks the loop: every store read
runs on a reader thread (``observer.py``), an action runs the CLI in a child process.

Order at start (``cli/run.py``): ``Web.open`` binds the port right after the daemon lock, so a
taken port is a one-line error before any pod starts; ``attach`` hooks into the daemon and
starts serving; the address actually bound (``--http 127.0.0.1:0`` picks a free port) is
logged (``http_listening``) and written to ``<state dir>/http-address``, which tests and
scripts read. ``--http off`` with no ``--webhook`` leaves the daemon as if this package did
not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from reconciler.errors import ReconcilerError
from reconciler.log import get_logger
from reconciler.objects import ObjectRef
from reconciler.proxy import ListenerStats, Proxy
from reconciler.web.api import ApiContext, build_app
from reconciler.web.auth import ADDRESS_FILE, HttpAddress, load_or_create_token, parse_http
from reconciler.web.events import Hub
from reconciler.web.metrics import Live, Metrics
from reconciler.web.observer import Observer
from reconciler.web.views import deployment_documents, traffic_by_deployment
from reconciler.web.webhooks import Notifier

__all__ = ["Web", "proxy_stats"]

log = get_logger(component="web")


def proxy_stats(proxy: Proxy) -> dict[str, list[ListenerStats]]:
    """Every listener's counters, by ``namespace/service`` (taken on the loop, in one go)."""
    out: dict[str, list[ListenerStats]] = {}
    for spec in proxy.listeners():
        try:
            out.setdefault(spec.service, []).append(proxy.stats(spec.service, spec.port_name))
        except Exception:  # a listener removed meanwhile
            continue
    return out


def _bind(address: HttpAddress) -> socket.socket:
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    try:
        infos = socket.getaddrinfo(address.host, address.port, family=0, type=socket.SOCK_STREAM)
        family = infos[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise ReconcilerError(
            f"error: --http {address.host}:{address.port}: {exc.strerror or exc}"
        ) from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(infos[0][4])
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        hint = " (another daemon's dashboard?)" if exc.errno == 98 else ""
        raise ReconcilerError(
            f"error: --http {address.host}:{address.port}: cannot listen: "
            f"{exc.strerror or exc}{hint}; choose another with --http ADDR:PORT, or --http off"
        ) from exc
    return sock


class Web:
    """The HTTP server (if ``--http`` is not off) and the webhooks (if any are configured)."""

    def __init__(
        self, *, http: str, webhooks: Sequence[str], state_dir: Path, manifests: Path
    ) -> None:
        self.address = parse_http(http)
        self.state_dir = state_dir
        self.manifests = manifests
        self.live = Live()
        self.metrics = Metrics(self.live)
        self.hub = Hub()
        self.notifier = Notifier(webhooks, self.live) if webhooks else None
        self.token = load_or_create_token(state_dir) if self.address else ""
        self._socket: socket.socket | None = None
        self._runner: web.AppRunner | None = None
        self._observer: Observer | None = None
        self._proxy: Proxy | None = None
        self._tasks: set[Any] = set()
        self._last_traffic: Any = None
        self.url = ""

    @property
    def enabled(self) -> bool:
        """Whether the daemon needs this at all (an address, or a webhook to tell)."""
        return self.address is not None or self.notifier is not None

    def open(self) -> None:
        """Bind the port now (before the daemon starts anything), or fail with why."""
        if self.address is not None:
            self._socket = _bind(self.address)

    async def attach(self, daemon: Any) -> None:
        """Hook into ``daemon`` (a ``reconciler.daemon.loop.Daemon``) and start serving."""
        if not self.enabled:
            return
        self._proxy = daemon.proxy
        observer = self._observer = Observer(
            state_dir=self.state_dir,
            daemon_store=daemon.store,
            hub=self.hub,
            notifier=self.notifier,
            live=self.live,
        )
        observer.on_changed = self._push_changed
        await observer.start()
        daemon.pass_observers.append(observer.on_pass)
        if self._socket is None or self.address is None:
            return
        ctx = ApiContext(
            token=self.token,
            loopback=self.address.loopback,
            state_dir=self.state_dir,
            manifests=self.manifests,
            observer=observer,
            hub=self.hub,
            live=self.live,
            metrics=self.metrics,
            proxy_stats=lambda: proxy_stats(daemon.proxy),
            analysis_failures=daemon.analysis.failures,
            traffic=daemon.analysis.traffic.totals,
            ready=daemon.synced.is_set,
        )
        self._runner = web.AppRunner(
            build_app(ctx), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.SockSite(self._runner, self._socket)
        await site.start()
        port = self._socket.getsockname()[1]
        self.url = self.address.url(int(port))
        path = self.state_dir / ADDRESS_FILE
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(self.url + "\n")
        log.info(
            "http_listening",
            url=self.url,
            dashboard=self.url + "/",
            auth_file=os.fspath(self.state_dir / "http-token"),
        )
        self._tasks.add(asyncio.create_task(self._traffic_every_second(), name="web traffic"))

    # -- live pages ----------------------------------------------------------------------

    def _push_changed(self, refs: set[ObjectRef]) -> None:
        if not self.hub.listening or self._observer is None or self._proxy is None:
            return
        stats = proxy_stats(self._proxy)
        observer = self._observer

        async def push() -> None:
            docs = await observer.read(
                lambda s: deployment_documents(s, only=set(refs), stats=stats)
            )
            if docs:
                self.hub.broadcast("deployment", docs)
            found = {(d["namespace"], d["name"]) for d in docs}
            gone = [
                {"namespace": r.namespace, "name": r.name}
                for r in refs
                if (r.namespace, r.name) not in found
            ]
            if gone:
                self.hub.broadcast("deleted", gone)

        task = asyncio.get_running_loop().create_task(push())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _traffic_every_second(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if not self.hub.listening or self._observer is None or self._proxy is None:
                continue
            stats = proxy_stats(self._proxy)
            fingerprint = {
                k: [(s.port_name, s.refused, s.groups) for s in v] for k, v in stats.items()
            }
            if fingerprint == self._last_traffic:
                continue
            self._last_traffic = fingerprint
            try:
                traffic = await self._observer.read(partial(traffic_by_deployment, stats=stats))
            except Exception:
                log.exception("web_traffic_failed")
                continue
            self.hub.broadcast("traffic", traffic)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            with contextlib.suppress(OSError):
                (self.state_dir / ADDRESS_FILE).unlink()
        elif self._socket is not None:
            self._socket.close()
        if self.notifier is not None:
            await self.notifier.close()
        if self._observer is not None:
            await self._observer.close()
