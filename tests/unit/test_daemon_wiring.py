"""The daemon's wiring on in-memory parts: folder to pods, pods to Services, intents, events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reconciler.objects import Kind, ObjectRef
from tests.unit.world import deployment, ref, service, until, world


def test_a_new_deployment_starts_its_pods_and_reports_them_available(tmp_path: Path) -> None:
    """Manifest in the folder -> a ReplicaSet, two pods started; Ready pods -> available 2."""

    async def scenario() -> None:
        async with world(tmp_path, {"web.yaml": deployment("web")}) as w:
            await until(lambda: len(w.pods("web")) == 2, what="two pods started")
            assert [rs.revision for rs in w.store.list_replicasets(ref("web"))] == [1]
            w.ready_all()
            await until(lambda: w.status("web").get("availableReplicas") == 2, what="available")
            await until(lambda: len(w.store.list_pods()) == 2, what="pods flushed to the store")

    asyncio.run(scenario())


def test_an_image_change_rolls_to_a_new_replicaset(tmp_path: Path) -> None:
    """A new image in the file -> revision 2, its pods Ready, the old ReplicaSet's pods gone."""

    async def scenario() -> None:
        async with world(tmp_path, {"web.yaml": deployment("web")}, ready_on_start=True) as w:
            await until(lambda: w.status("web").get("availableReplicas") == 2, what="v1 up")
            w.write("web.yaml", deployment("web", image="app:v2"))
            await until(
                lambda: (
                    {p.containers[0].image for p in w.pods("web")} == {"app:v2"}
                    and len(w.pods("web")) == 2
                ),
                what="only v2 pods left",
            )
            revisions = sorted(rs.revision for rs in w.store.list_replicasets(ref("web")))
            assert revisions == [1, 2]

    asyncio.run(scenario())


def test_a_service_listens_and_serves_only_ready_pods(tmp_path: Path) -> None:
    """A Service gets a listener; its endpoints are the Ready pods behind the selector."""

    async def scenario() -> None:
        files = {"web.yaml": deployment("web"), "svc.yaml": service("web", app="web", port=8100)}
        async with world(tmp_path, files) as w:
            assert [(s.service, s.port) for s in w.proxy.listeners()] == [("default/web", 8100)]
            await until(lambda: len(w.pods("web")) == 2, what="pods")
            assert not any(g.endpoints for g in w.proxy.backends("default/web", "http"))
            first = w.pods("web")[0]
            w.runtime.set_ready(first.name)
            await until(
                lambda: (
                    [e.pod for g in w.proxy.backends("default/web", "http") for e in g.endpoints]
                    == [first.name]
                ),
                what="the Ready pod behind the Service",
            )

    asyncio.run(scenario())


def test_a_taken_service_port_is_an_event_not_a_crash(tmp_path: Path) -> None:
    """A Service port another program holds: FailedToListen, the other Service and the
    Deployment carry on."""

    async def scenario() -> None:
        files = {
            "a.yaml": service("a", app="web", port=8101),
            "b.yaml": service("b", app="web", port=8102),
            "web.yaml": deployment("web", replicas=1),
        }
        async with world(tmp_path, files, occupied=(8102,)) as w:
            reasons = {
                name: [e.reason for e in w.store.list_events(ref(name, Kind.SERVICE))]
                for name in ("a", "b")
            }
            assert reasons == {"a": [], "b": ["FailedToListen"]}
            assert [s.service for s in w.proxy.listeners()] == ["default/a"]
            await until(lambda: len(w.pods("web")) == 1, what="the deployment still rolls")

    asyncio.run(scenario())


def test_delete_pod_intent_stops_the_pod_and_its_replicaset_replaces_it(tmp_path: Path) -> None:
    """``delete pod`` -> the pod stops, the intent says "deleted", a new pod takes its place."""

    async def scenario() -> None:
        async with world(tmp_path, {"web.yaml": deployment("web", replicas=1)}) as w:
            await until(lambda: len(w.pods("web")) == 1, what="one pod")
            victim = w.pods("web")[0].name
            intent = w.store.add_intent(
                ObjectRef(Kind.POD, "default", victim), "delete-pod", {}, now=w.clock.now()
            )
            await until(lambda: w.store.intent_result(intent) == "deleted", what="done")
            await until(
                lambda: [p.name for p in w.pods("web")] not in ([], [victim]), what="replaced"
            )
            assert victim in w.runtime.stopped
            missing = w.store.add_intent(
                ObjectRef(Kind.POD, "default", "nope"), "delete-pod", {}, now=w.clock.now()
            )
            await until(lambda: w.store.intent_result(missing) == "not found", what="not found")
            # finished intents are forgotten at the next poll: memory bounded by what is pending
            await until(lambda: w.daemon.intents.remembered == 0, what="intents forgotten")

    asyncio.run(scenario())


def test_an_invalid_manifest_is_one_event_and_a_status_mark_until_fixed(tmp_path: Path) -> None:
    """A broken edit: one InvalidManifest event (not one per resync), pods kept; fixed: unmarked."""

    async def scenario() -> None:
        async with world(tmp_path, {"web.yaml": deployment("web", replicas=1)}) as w:
            await until(lambda: len(w.pods("web")) == 1, what="one pod")
            pods = {p.name for p in w.pods("web")}
            w.write("web.yaml", deployment("web", replicas=1).replace("replicas: 1", "replicas: x"))
            await until(lambda: "invalid" in w.status("web"), what="marked invalid")
            await w.daemon._sync_folder()  # a resync of the same broken file
            events = [e.reason for e in w.store.list_events(ref("web"))]
            assert events.count("InvalidManifest") == 1
            assert {p.name for p in w.pods("web")} == pods
            w.write("web.yaml", deployment("web", replicas=1))
            await until(lambda: "invalid" not in w.status("web"), what="mark removed")

    asyncio.run(scenario())


def test_shutdown_leaves_the_pods_running_and_detaches(tmp_path: Path) -> None:
    """Stopping the daemon stops no pod: the runtime lets go of them for the next daemon."""

    async def scenario() -> None:
        async with world(tmp_path, {"web.yaml": deployment("web")}) as w:
            await until(lambda: len(w.pods("web")) == 2, what="pods")
            runtime = w.runtime
        assert runtime.detached and runtime.stopped == []
        assert len(runtime.pods()) == 2

    asyncio.run(scenario())


def test_a_deleted_manifest_winds_the_deployment_down(tmp_path: Path) -> None:
    """The file goes -> Deleted event, its pods stopped, its ReplicaSets forgotten."""

    async def scenario() -> None:
        files = {"web.yaml": deployment("web"), "other.yaml": deployment("other", replicas=1)}
        async with world(tmp_path, files) as w:
            await until(lambda: len(w.pods("web")) == 2, what="pods")
            (w.folder / "web.yaml").unlink()
            await until(lambda: not w.pods("web"), what="web's pods gone")
            await until(lambda: not w.store.list_replicasets(ref("web")), what="RSs forgotten")
            assert "Deleted" in [e.reason for e in w.store.list_events(ref("web"))]
            assert len(w.pods("other")) == 1

    asyncio.run(scenario())


def test_min_ready_seconds_pass_on_the_manual_clock(tmp_path: Path) -> None:
    """minReadySeconds 30: Ready pods count as available only once 30 s have passed on the
    daemon's clock, and the pass the plan asked for comes when they have (no real wait)."""
    manifest = deployment("web").replace(
        "  replicas: 2\n", "  replicas: 2\n  minReadySeconds: 30\n"
    )

    async def scenario() -> None:
        async with world(tmp_path, {"web.yaml": manifest}, ready_on_start=True) as w:
            await until(lambda: w.status("web").get("readyReplicas") == 2, what="Ready")
            assert w.status("web").get("availableReplicas", 0) == 0
            w.advance(29)
            await asyncio.sleep(0.05)
            assert w.status("web").get("availableReplicas", 0) == 0
            w.advance(1)
            await until(lambda: w.status("web").get("availableReplicas") == 2, what="available")

    asyncio.run(scenario())
