"""Intent routing: each intent routed once, to the daemon or the engine; memory bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reconciler.daemon.intents import IntentRouter
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store

WEB = ObjectRef(Kind.DEPLOYMENT, "default", "web")


def test_engine_intents_wait_for_their_pass_and_finished_ones_are_forgotten(
    tmp_path: Path,
) -> None:
    """promote goes to the engine once per id; consumed, it is not offered again; finished in
    the store, its id is forgotten (memory bounded by what is pending)."""

    async def scenario() -> None:
        store = Store.open(tmp_path)
        queued: list[ObjectRef] = []
        router = IntentRouter(
            store,
            now=lambda: 1.0,
            pod_names=list,
            stop_pod=_never_stop,
            sync_folder=_never_sync,
            to_engine=queued.append,
        )
        promote = store.add_intent(WEB, "promote", {}, now=1.0)
        await router.poll()
        await router.poll()  # seen: not routed twice
        assert queued == [WEB]
        assert [i.id for i in router.for_engine(WEB)] == [promote]
        router.consumed([promote])
        assert router.for_engine(WEB) == []
        store.finish_intent(promote, result="promoted", now=2.0)
        await router.poll()
        assert router.remembered == 0
        store.close()

    asyncio.run(scenario())


def test_an_engine_intent_finished_elsewhere_is_dropped(tmp_path: Path) -> None:
    """An intent the store no longer lists as pending is not handed to the next pass."""

    async def scenario() -> None:
        store = Store.open(tmp_path)
        router = IntentRouter(
            store,
            now=lambda: 1.0,
            pod_names=list,
            stop_pod=_never_stop,
            sync_folder=_never_sync,
            to_engine=lambda ref: None,
        )
        abort = store.add_intent(WEB, "abort", {}, now=1.0)
        await router.poll()
        store.finish_intent(abort, result="deployment deleted", now=2.0)
        await router.poll()
        assert router.for_engine(WEB) == []
        store.close()

    asyncio.run(scenario())


def test_prune_and_resync_run_a_folder_sync_and_finish(tmp_path: Path) -> None:
    """prune syncs with confirmation, resync without; both intents are finished with a result."""

    async def scenario() -> None:
        store = Store.open(tmp_path)
        syncs: list[bool] = []

        async def sync(confirm: bool) -> None:
            syncs.append(confirm)

        router = IntentRouter(
            store,
            now=lambda: 1.0,
            pod_names=list,
            stop_pod=_never_stop,
            sync_folder=sync,
            to_engine=lambda ref: None,
        )
        prune = store.add_intent(WEB, "prune", {}, now=1.0)
        resync = store.add_intent(WEB, "resync", {}, now=1.0)
        await router.poll()
        assert syncs == [True, False]
        assert (store.intent_result(prune), store.intent_result(resync)) == ("pruned", "synced")
        store.close()

    asyncio.run(scenario())


async def _never_stop(name: str) -> None:
    raise AssertionError(f"no pod should be stopped ({name})")


async def _never_sync(confirm: bool) -> None:
    raise AssertionError("no sync expected")
