"""Intent routing: what the CLI asked for (rows in the store) goes to whoever carries it out.

``delete pod``, ``prune`` and ``resync`` (``create secret`` / ``delete secret``) are carried out
here, through the callbacks the daemon passes in; everything else (promote, abort, retry,
restart, ...) is the engine's, handed to the next pass of the intent's Deployment and kept until
a plan says it consumed it.

Memory is bounded by the intents still pending in the store: each poll forgets the ids the store
no longer lists (finished, or trimmed), so a daemon that runs for months does not remember every
intent it ever saw.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from reconciler.engine.model import IntentAction
from reconciler.log import get_logger
from reconciler.objects import ObjectRef
from reconciler.store import IntentRow, Store

log = get_logger(component="daemon")

# CLI intents the daemon carries out itself; the rest go to the engine.
DELETE_POD = IntentAction.DELETE_POD
PRUNE = IntentAction.PRUNE
RESYNC = IntentAction.RESYNC


class IntentRouter:
    """Polls the store for new intents and routes each once."""

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], float],
        pod_names: Callable[[], Iterable[str]],
        stop_pod: Callable[[str], Awaitable[None]],
        sync_folder: Callable[[bool], Awaitable[object]],
        to_engine: Callable[[ObjectRef], None],
    ) -> None:
        self.store = store
        self.now = now
        self.pod_names = pod_names
        self.stop_pod = stop_pod
        self.sync_folder = sync_folder  # (confirm_prune) -> the sync's result
        self.to_engine = to_engine  # the intent's Deployment needs a pass
        self._seen: set[int] = set()
        self._for_engine: list[IntentRow] = []

    @property
    def remembered(self) -> int:
        """How many intent ids are remembered (bounded by those pending in the store)."""
        return len(self._seen)

    def for_engine(self, ref: ObjectRef) -> list[IntentRow]:
        """The engine's intents for ``ref`` not yet consumed, oldest first."""
        return [i for i in self._for_engine if i.ref == ref]

    def consumed(self, ids: Iterable[int]) -> None:
        """A plan consumed these intents: the next pass does not see them again."""
        done = set(ids)
        if done:
            self._for_engine = [i for i in self._for_engine if i.id not in done]

    async def poll(self) -> None:
        pending = self.store.pending_intents()
        ids = {i.id for i in pending}
        self._seen &= ids  # finished intents are forgotten: bounded by what is pending
        self._for_engine = [i for i in self._for_engine if i.id in ids]
        for intent in pending:
            if intent.id in self._seen:
                continue
            await self.take(intent)
            self._seen.add(intent.id)

    async def take(self, intent: IntentRow) -> None:
        log.info("intent_received", action=intent.action, object=intent.ref.key, id=intent.id)
        if intent.action == DELETE_POD:
            if intent.ref.name in set(self.pod_names()):
                await self.stop_pod(intent.ref.name)
                self.store.finish_intent(intent.id, result="deleted", now=self.now())
            else:
                self.store.finish_intent(intent.id, result="not found", now=self.now())
        elif intent.action == PRUNE:
            await self.sync_folder(True)
            self.store.finish_intent(intent.id, result="pruned", now=self.now())
        elif intent.action == RESYNC:  # reconciler create secret / delete secret
            await self.sync_folder(False)
            self.store.finish_intent(intent.id, result="synced", now=self.now())
        else:
            self._for_engine.append(intent)
            self.to_engine(intent.ref)


__all__ = ["DELETE_POD", "PRUNE", "RESYNC", "IntentRouter"]
