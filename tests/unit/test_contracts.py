"""The Runtime and Proxy protocols as behaviour: the same checks run on the in-memory fakes the
unit tests use and on the real implementations (processes, sockets), so a fake that drifts
from the real thing fails here, not silently in the tests built on it."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from reconciler.defaults import default_pod_template
from reconciler.errors import NotFoundError
from reconciler.proxy import BackendGroup, Endpoint, ListenerError, ListenerSpec
from reconciler.proxy.fake import FakeProxy
from reconciler.proxy.server import TcpProxy
from reconciler.runtime import PodSpec, PodStatus, Runtime
from reconciler.runtime.fake import FakeRuntime
from reconciler.runtime.process import ProcessRuntime
from reconciler.runtime.waiting import wait_gone
from tests.unit.world import until


@asynccontextmanager
async def _runtime(kind: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    if kind == "fake":
        yield FakeRuntime(ready_on_start=True)
        return
    runtime = ProcessRuntime(tmp_path / "state", backoff_initial=0.2, backoff_max=0.8)
    await runtime.start()
    try:
        yield runtime
    finally:
        await asyncio.wait_for(runtime.close(), 15)


def _pod(name: str, base_dir: Path) -> PodSpec:
    container = {
        "name": "app",
        "image": "app:1.0",
        "command": [sys.executable, "-c", "import time; time.sleep(60)"],
        "ports": [{"name": "http", "containerPort": 8080}],
    }
    template = default_pod_template(
        {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 2},
        }
    )
    return PodSpec(
        name=name,
        namespace="default",
        owner="web-abc",
        labels={"app": "web"},
        template=template,
        base_dir=base_dir,
    )


@pytest.mark.parametrize("kind", ["fake", "process"])
def test_runtime_contract_start_ready_stop_gone(kind: str, tmp_path: Path) -> None:
    """A started pod is listed with its spec's identity and ports and becomes Ready; a stop is
    announced (terminating) before the last notification (gone), after which it is unlisted;
    unsubscribed callbacks hear nothing; stopping an unknown pod is not an error."""

    async def scenario() -> None:
        async with _runtime(kind, tmp_path) as runtime:
            heard: list[PodStatus] = []
            unsubscribe = runtime.subscribe(heard.append)
            await runtime.start_pod(_pod("web-abc-1", tmp_path))
            (pod,) = runtime.pods()
            assert (pod.name, pod.namespace, pod.owner) == ("web-abc-1", "default", "web-abc")
            assert pod.labels["app"] == "web" and not pod.gone
            assert pod.ports["8080"] == pod.ports["http"] > 0
            await until(lambda: runtime.pods()[0].ready, what="Ready", timeout=10)
            assert any(h.name == "web-abc-1" for h in heard)
            await runtime.stop_pod("web-abc-1")
            await runtime.stop_pod("no-such-pod")
            await asyncio.wait_for(wait_gone(runtime, "web-abc-1"), 10)
            assert runtime.pods() == []
            await until(lambda: heard and heard[-1].gone, what="the last notification")
            mine = [h for h in heard if h.name == "web-abc-1"]
            first_terminating = next(i for i, h in enumerate(mine) if h.terminating)
            assert not any(h.gone for h in mine[:first_terminating])
            assert [h.gone for h in mine].count(True) == 1 and mine[-1].gone
            unsubscribe()
            count = len(heard)
            await runtime.start_pod(_pod("web-abc-2", tmp_path))
            await asyncio.sleep(0.05)
            assert len(heard) == count

    asyncio.run(scenario())


def _held_port() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


ProxyFactory = Callable[[], FakeProxy | TcpProxy]


@pytest.mark.parametrize("kind", ["fake", "tcp"])
def test_proxy_contract_listeners_backends_and_stats(kind: str) -> None:
    """Backends may come before the listener; a listener on port 0 gets a real number; a taken
    port is a ListenerError and nothing is listed for it; stats follow the backends' groups and
    an unknown port's stats are NotFoundError; a removed listener is unlisted."""

    async def scenario() -> None:
        proxy: FakeProxy | TcpProxy = FakeProxy() if kind == "fake" else TcpProxy()
        groups = (
            BackendGroup("stable", 90, (Endpoint("web-1", "127.0.0.1", 1),)),
            BackendGroup("canary", 10, ()),
        )
        proxy.set_backends("default/web", "http", groups)
        assert proxy.backends("default/web", "http") == groups
        web = ListenerSpec("default/web", "http", "127.0.0.1", 0)
        await proxy.ensure_listener(web)
        await proxy.ensure_listener(web)  # idempotent
        assert proxy.listeners() == [web]
        host, number = proxy.address("default/web", "http")
        assert host == "127.0.0.1" and number > 0
        holder, taken = _held_port()
        try:
            if isinstance(proxy, FakeProxy):
                proxy.occupy("127.0.0.1", taken)
            with pytest.raises(ListenerError, match=f"cannot listen on 127.0.0.1:{taken}"):
                await proxy.ensure_listener(ListenerSpec("default/api", "http", "127.0.0.1", taken))
        finally:
            holder.close()
        assert [s.service for s in proxy.listeners()] == ["default/web"]
        stats = proxy.stats("default/web", "http")
        assert [g.name for g in stats.groups] == ["stable", "canary"]
        assert all(g.total == 0 and g.failed == 0 for g in stats.groups)
        assert proxy.connection_failures("default/web", "canary") == 0
        with pytest.raises(NotFoundError):
            proxy.stats("default/never-bound", "http")
        await proxy.remove_listener("default/web", "http")
        assert proxy.listeners() == []
        await proxy.close()

    asyncio.run(scenario())
