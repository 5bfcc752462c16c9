"""A daemon on in-memory parts: a real folder and a real SQLite store, a fake runtime and proxy,
a manual clock. What the unit tests of the daemon's wiring drive (no process, no socket)."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from reconciler.clock import ManualClock
from reconciler.daemon.compose import assemble
from reconciler.daemon.loop import Daemon
from reconciler.daemon.options import DaemonOptions
from reconciler.objects import Kind, ObjectRef
from reconciler.proxy.fake import FakeProxy
from reconciler.runtime import PodStatus
from reconciler.runtime.fake import FakeRuntime
from reconciler.store import Store


def deployment(name: str, *, image: str = "app:v1", replicas: int = 2, strategy: str = "") -> str:
    """A Deployment manifest with one container listening on ``http`` (8080)."""
    text = f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          replicas: {replicas}
          selector:
            matchLabels:
              app: {name}
          template:
            metadata:
              labels:
                app: {name}
            spec:
              containers:
                - name: app
                  image: {image}
                  command: ["python3", "-m", "http.server"]
                  ports:
                    - name: http
                      containerPort: 8080
        """
    text = textwrap.dedent(text)
    if strategy:
        text = text.replace("  template:\n", textwrap.indent(strategy, "  ") + "  template:\n")
    return text


def service(name: str, *, app: str, port: int) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
        spec:
          selector:
            app: {app}
          ports:
            - name: http
              port: {port}
              targetPort: http
        """
    )


def ref(name: str, kind: Kind = Kind.DEPLOYMENT) -> ObjectRef:
    return ObjectRef(kind, "default", name)


async def until(condition: Callable[[], object], *, what: str, timeout: float = 5.0) -> None:
    """Wait for ``condition`` (checked every loop turn or 5 ms), or fail naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@dataclass
class World:
    folder: Path
    store: Store
    runtime: FakeRuntime
    proxy: FakeProxy
    clock: ManualClock
    daemon: Daemon

    def write(self, name: str, text: str) -> None:
        (self.folder / name).write_text(text)

    def pods(self, app: str) -> list[PodStatus]:
        return [p for p in self.runtime.pods() if p.labels.get("app") == app]

    def ready_all(self) -> None:
        """Every pod that is not stopping passes its readiness probe."""
        for pod in self.runtime.pods():
            if not pod.terminating and not pod.ready:
                self.runtime.set_ready(pod.name)

    def advance(self, seconds: float) -> None:
        """Move the manual clock; the work queue looks at what came due."""
        self.clock.advance(seconds)
        self.daemon.queue.wake()

    def status(self, name: str) -> dict[str, object]:
        obj = self.store.get_object(ref(name))
        assert obj is not None
        return dict(obj.status)


@contextlib.asynccontextmanager
async def world(
    tmp_path: Path,
    files: dict[str, str],
    *,
    ready_on_start: bool = False,
    occupied: tuple[int, ...] = (),
) -> AsyncIterator[World]:
    """A started daemon over ``files``; shut down (pods left running) on the way out."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    store = Store.open(tmp_path / "state")
    clock = ManualClock()
    runtime = FakeRuntime(now=clock.now, ready_on_start=ready_on_start)
    proxy = FakeProxy()
    for port in occupied:
        proxy.occupy("127.0.0.1", port)
    options = DaemonOptions(manifests=folder, debounce=0.01, intent_poll=0.01, pods_flush=0.01)
    daemon = assemble(
        options, store=store, runtime=runtime, proxy=proxy, clock=clock, queue_clock=clock.now
    )
    try:
        await daemon.start()
        yield World(folder, store, runtime, proxy, clock, daemon)
    finally:
        await daemon.shutdown()
        store.close()
