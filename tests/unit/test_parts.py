"""The daemon's parts one at a time, on in-memory fakes: executor, Service router, canary
analysis and folder sync (a real folder and a real SQLite store, no process, no socket)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reconciler.clock import ManualClock
from reconciler.engine.executor import Executor
from reconciler.folder.sync import Change, FolderSync
from reconciler.objects import Kind
from reconciler.proxy import BackendGroup, Endpoint, ListenerSpec
from reconciler.proxy.fake import FakeProxy
from reconciler.runtime.fake import FakeRuntime
from reconciler.services.analysis import CanaryAnalysis
from reconciler.services.router import ServiceRouter
from reconciler.store import Store
from tests.unit.world import deployment, ref, service


def _folder(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Store, FolderSync]:
    folder = tmp_path / "manifests"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    store = Store.open(tmp_path / "state")
    return folder, store, FolderSync(store, folder)


def test_folder_sync_reports_created_configured_and_deleted(tmp_path: Path) -> None:
    """New file: created; edited: configured; unchanged: nothing; removed: deleted."""
    folder, store, sync = _folder(tmp_path, {"web.yaml": deployment("web")})
    assert sync.sync(now=1.0).changes == {ref("web"): Change.CREATED}
    assert sync.sync(now=2.0).changes == {}
    (folder / "web.yaml").write_text(deployment("web", replicas=3))
    assert sync.sync(now=3.0).changes == {ref("web"): Change.CONFIGURED}
    (folder / "web.yaml").unlink()
    assert sync.sync(now=4.0).changes == {ref("web"): Change.DELETED}
    store.close()


def test_folder_sync_holds_a_mass_deletion_until_confirmed(tmp_path: Path) -> None:
    """Two of three manifests gone at once: held (PruneHeld), deleted only with confirm_prune."""
    files = {f"{n}.yaml": deployment(n) for n in ("a", "b", "c")}
    folder, store, sync = _folder(tmp_path, files)
    sync.sync(now=1.0)
    (folder / "a.yaml").unlink()
    (folder / "b.yaml").unlink()
    held = sync.sync(now=2.0)
    assert held.changes == {} and held.held == (ref("a"), ref("b"))
    confirmed = sync.sync(now=3.0, confirm_prune=True)
    assert confirmed.changes == {ref("a"): Change.DELETED, ref("b"): Change.DELETED}
    store.close()


def test_executor_scales_down_taking_pods_out_of_traffic_before_stopping(tmp_path: Path) -> None:
    """replicas 3 -> 1: two pods leave the endpoints (on_pod_leaving) before they are signalled."""

    async def scenario() -> None:
        folder, store, sync = _folder(tmp_path, {"web.yaml": deployment("web", replicas=3)})
        clock = ManualClock()
        runtime = FakeRuntime(now=clock.now)
        leaving: list[tuple[str, bool]] = []  # (pod, already terminating when told)

        def on_leaving(name: str) -> None:
            pod = next(p for p in runtime.pods() if p.name == name)
            leaving.append((name, pod.terminating))

        executor = Executor(store=store, runtime=runtime, now=clock.now, on_pod_leaving=on_leaving)
        sync.sync(now=clock.now())
        result = await executor.reconcile(ref("web"))
        assert result.acted and len(runtime.pods()) == 3
        assert [rs.replicas for rs in store.list_replicasets(ref("web"))] == [3]
        for pod in runtime.pods():
            runtime.set_ready(pod.name)
        (folder / "web.yaml").write_text(deployment("web", replicas=1))
        sync.sync(now=clock.now())
        for _ in range(5):
            await executor.reconcile(ref("web"))
            await asyncio.sleep(0)
        assert len(leaving) == 2 and not any(terminating for _, terminating in leaving)
        assert sorted(runtime.stopped) == sorted(name for name, _ in leaving)
        assert len(runtime.pods()) == 1
        store.close()

    asyncio.run(scenario())


def test_router_serves_ready_matching_pods_and_drops_a_leaving_one_at_once(
    tmp_path: Path,
) -> None:
    """Endpoints = Ready pods the selector matches; ``leaving`` removes one before it stops."""

    async def scenario() -> None:
        files = {
            "web.yaml": deployment("web", replicas=2),
            "other.yaml": deployment("other", replicas=1),
            "svc.yaml": service("web", app="web", port=8200),
        }
        _, store, sync = _folder(tmp_path, files)
        sync.sync(now=1.0)
        runtime, proxy = FakeRuntime(), FakeProxy()
        executor = Executor(store=store, runtime=runtime, now=lambda: 1.0, on_pod_leaving=print)
        for name in ("web", "other"):
            await executor.reconcile(ref(name))
        for pod in runtime.pods():
            runtime.set_ready(pod.name)
        router = ServiceRouter(
            proxy=proxy, runtime=runtime, bind="127.0.0.1", on_listen_failed=print
        )
        await router.bind(ref("web", Kind.SERVICE), store.get_object(ref("web", Kind.SERVICE)))

        def served() -> list[str]:
            return sorted(e.pod for g in proxy.backends("default/web", "http") for e in g.endpoints)

        web_pods = sorted(p.name for p in runtime.pods() if p.labels["app"] == "web")
        assert served() == web_pods
        ports = {p.name: p.ports["http"] for p in runtime.pods()}
        endpoints = [e for g in proxy.backends("default/web", "http") for e in g.endpoints]
        assert all(e.port == ports[e.pod] for e in endpoints)  # targetPort by name
        router.leaving(web_pods[0])
        assert served() == web_pods[1:]
        await router.bind(ref("web", Kind.SERVICE), None)  # the Service is deleted
        assert proxy.listeners() == []
        store.close()

    asyncio.run(scenario())


def test_router_keeps_the_data_planes_split_until_the_first_pass(tmp_path: Path) -> None:
    """After a restart a Service keeps the backends it served (minus pods no longer Ready)
    until its Deployment's first pass says how traffic splits."""

    async def scenario() -> None:
        files = {
            "web.yaml": deployment("web", replicas=2),
            "svc.yaml": service("web", app="web", port=8201),
        }
        _, store, sync = _folder(tmp_path, files)
        sync.sync(now=1.0)
        runtime, proxy = FakeRuntime(), FakeProxy()
        executor = Executor(store=store, runtime=runtime, now=lambda: 1.0, on_pod_leaving=print)
        await executor.reconcile(ref("web"))
        first, second = sorted(p.name for p in runtime.pods())
        for name in (first, second):
            runtime.set_ready(name)
        ports = {p.name: next(iter(p.ports.values())) for p in runtime.pods()}
        kept = (BackendGroup("stable", 100, (Endpoint(first, "127.0.0.1", ports[first]),)),)
        proxy.set_backends("default/web", "http", kept)  # what the previous daemon left
        router = ServiceRouter(
            proxy=proxy, runtime=runtime, bind="127.0.0.1", on_listen_failed=print
        )
        router.await_routes([ref("web")])
        await router.bind(ref("web", Kind.SERVICE), store.get_object(ref("web", Kind.SERVICE)))
        assert proxy.backends("default/web", "http") == kept
        router.route(ref("web"), {})
        router.refresh()
        served = sorted(e.pod for g in proxy.backends("default/web", "http") for e in g.endpoints)
        assert served == [first, second]
        store.close()

    asyncio.run(scenario())


def test_canary_analysis_counts_failed_checks_and_proxied_failures(tmp_path: Path) -> None:
    """A running canary with analysis: a pod that does not answer is a failure (on_failure is
    called), and failed connects through the canary Service count too; once the rollout is not
    a canary any more, it is no longer checked."""

    async def scenario() -> None:
        files = {"web.yaml": deployment("web", replicas=1)}
        _, store, sync = _folder(tmp_path, files)
        sync.sync(now=1.0)
        runtime, proxy = FakeRuntime(), FakeProxy()
        executor = Executor(store=store, runtime=runtime, now=lambda: 1.0, on_pod_leaving=print)
        await executor.reconcile(ref("web"))
        pod = runtime.pods()[0]
        runtime.set_ready(pod.name)
        rs_hash = pod.labels["pod-template-hash"]
        failed: list[object] = []
        analysis = CanaryAnalysis(runtime=runtime, proxy=proxy, on_failure=failed.append)
        spec = {
            "strategy": {
                "type": "Canary",
                "canary": {
                    "canaryService": "web-canary",
                    "analysis": {"httpGet": {"path": "/", "port": "http"}, "interval": "1h"},
                },
            }
        }
        status = {"rollout": {"currentPodHash": rs_hash, "stableRS": "older"}}
        analysis.track(ref("web"), spec, status)
        await analysis.check_due()  # nothing listens on the fake pod's port: the check fails
        assert failed == [ref("web")]
        assert analysis.failures(ref("web"), rs_hash) == 1
        await analysis.check_due()  # interval 1h: not checked again yet
        assert analysis.failures(ref("web"), rs_hash) == 1
        await proxy.ensure_listener(_spec("default/web-canary", 8202))
        proxy.record_failures("default/web-canary", "http", group="canary", count=3)
        assert analysis.failures(ref("web"), rs_hash) == 4
        analysis.track(
            ref("web"), spec, {"rollout": {"currentPodHash": rs_hash, "stableRS": rs_hash}}
        )
        assert analysis.failures(ref("web"), rs_hash) == 1  # proxied failures only while running
        store.close()

    asyncio.run(scenario())


def _spec(service: str, port: int) -> ListenerSpec:
    return ListenerSpec(service=service, port_name="http", bind="127.0.0.1", port=port)
