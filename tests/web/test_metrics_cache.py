"""/metrics' cache never serves a figure older than the store held when the scrape began."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from reconciler.folder.sync import FolderSync
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import ContainerState, ContainerStatus, PodPhase, PodStatus
from reconciler.store import PodRecord, Store, pod_to_dict
from reconciler.web.api import ApiContext, build_app
from reconciler.web.events import Hub
from reconciler.web.metrics import Live, Metrics
from reconciler.web.observer import Observer
from tests.e2e.harness import deployment_yaml

WEB = ObjectRef(Kind.DEPLOYMENT, "default", "web")


def values(body: bytes, metric: str) -> dict[frozenset[tuple[str, str]], float]:
    return {
        frozenset(s.labels.items()): s.value
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples
        if s.name == metric
    }


def available(body: bytes) -> float:
    return values(body, "kube_deployment_status_replicas_available")[
        frozenset({("namespace", "default"), ("deployment", "web")})
    ]


def pod(name: str, owner: str, *, ready: bool, restarts: int = 0) -> PodRecord:
    now = time.time()
    container = ContainerStatus(
        "app", "demo:1", ContainerState.RUNNING, ready=ready, restart_count=restarts
    )
    status = PodStatus(
        name=name,
        namespace="default",
        owner=owner,
        labels={"app": "web"},
        phase=PodPhase.RUNNING,
        created_at=now,
        containers=(container,),
        ready=ready,
    )
    return PodRecord(name, "default", owner, "web", pod_to_dict(status), now, now)


def daemon_store(tmp_path: Path) -> tuple[Store, str]:
    """A store with Deployment web (2 available), its ReplicaSet and its pods, as a daemon
    writes them (its own connection, no web hook anywhere)."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "web.yaml").write_text(deployment_yaml("web"))
    store = Store.open(tmp_path / "state")
    now = time.time()
    FolderSync(store, folder).sync(now=now)
    obj = store.get_object(WEB)
    assert obj is not None
    rs = store.record_revision(WEB, obj.spec["spec"]["template"], change_cause="", now=now)
    name = rs.replicaset.name
    store.set_replicaset("default", name, replicas=2, status={"replicas": 2, "readyReplicas": 2})
    store.set_status(WEB, {"replicas": 2, "availableReplicas": 2, "updatedReplicas": 2})
    store.replace_pods([pod(f"{name}-a", name, ready=True), pod(f"{name}-b", name, ready=True)])
    return store, name


def test_writes_outside_any_pass_are_in_the_next_scrape(tmp_path: Path) -> None:
    """A status, a ReplicaSet's counts and a pod flush, written with no hook, show at once."""
    daemon, rs = daemon_store(tmp_path)
    reader = Store.open(tmp_path / "state")  # the web server's own connection
    metrics = Metrics(Live())
    first = metrics.render(reader, stats={})
    assert available(first) == 2
    assert (
        metrics.render(reader, stats={}).split(b"# HELP process_")[0]
        == first.split(b"# HELP process_")[0]
    )

    daemon.set_status(WEB, {"replicas": 2, "availableReplicas": 1, "updatedReplicas": 2})
    assert available(metrics.render(reader, stats={})) == 1

    daemon.set_replicaset("default", rs, status={"replicas": 2, "readyReplicas": 1})
    ready = values(metrics.render(reader, stats={}), "kube_replicaset_status_ready_replicas")
    assert list(ready.values()) == [1.0]

    daemon.replace_pods([pod(f"{rs}-a", rs, ready=True, restarts=3)])
    body = metrics.render(reader, stats={})
    restarts = values(body, "kube_pod_container_status_restarts_total")
    assert sorted((dict(k)["pod"], v) for k, v in restarts.items()) == [(f"{rs}-a", 3.0)]

    daemon.delete_object(WEB)
    assert values(metrics.render(reader, stats={}), "kube_deployment_spec_replicas") == {}
    reader.close()
    daemon.close()


def test_writes_on_the_reading_connection_are_seen_too(tmp_path: Path) -> None:
    """A store written through the connection that renders (one process, one Store) is
    re-read: SQLite's data_version only counts other connections' commits."""
    store, _ = daemon_store(tmp_path)
    metrics = Metrics(Live())
    assert available(metrics.render(store, stats={})) == 2
    store.set_status(WEB, {"replicas": 2, "availableReplicas": 0, "updatedReplicas": 2})
    assert available(metrics.render(store, stats={})) == 0
    store.close()


def test_a_scrape_counts_events_the_poll_has_not_seen(tmp_path: Path) -> None:
    """An event in the store when the scrape begins is in its rollout_events_total."""
    daemon, _ = daemon_store(tmp_path)
    state = tmp_path / "state"

    async def main() -> dict[frozenset[tuple[str, str]], float]:
        live = Live()
        # a poll that never comes: only the scrape itself can have counted the event
        observer = Observer(
            state_dir=state,
            daemon_store=daemon,
            hub=Hub(),
            notifier=None,
            live=live,
            poll_interval=3600,
        )
        await observer.start()
        ctx = ApiContext(
            token="t" * 32,
            loopback=True,
            state_dir=state,
            manifests=tmp_path,
            observer=observer,
            hub=observer.hub,
            live=live,
            metrics=Metrics(live),
            proxy_stats=dict,
            analysis_failures=lambda ref, h: 0,
            ready=lambda: True,
        )
        daemon.add_event(WEB, type="Normal", reason="RolloutPaused", message="x", now=time.time())
        async with TestClient(TestServer(build_app(ctx), host="127.0.0.1")) as client:
            response = await client.get("/metrics")
            body: Any = await response.read()
        await observer.close()
        return values(body, "rollout_events_total")

    counted = asyncio.run(main())
    daemon.close()
    key = frozenset(
        {("namespace", "default"), ("name", "web"), ("type", "Normal"), ("reason", "RolloutPaused")}
    )
    assert counted.get(key) == 1.0
