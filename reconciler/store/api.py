"""What the engine uses of the store, as a protocol: the seam between deciding and recording.

The executor and the pod-config resolver read applied objects and ReplicaSets, record revisions,
statuses and events, and finish the intents a plan consumed; nothing else. Typing them against
``EngineStore`` instead of ``Store`` keeps the engine off the store's other tables and lets a
test hand it any store that behaves so. ``Store`` satisfies it (checked by mypy where the daemon
passes its store to the executor, and by the unit tests that run the executor on a real one).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from reconciler.objects import Kind, ObjectRef
from reconciler.store.records import AppliedObject, ReplicaSetRow, RevisionResult


class EngineStore(Protocol):
    """The store as the engine sees it."""

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes into one atomic unit (nested: a savepoint)."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def get_object(self, ref: ObjectRef) -> AppliedObject | None: ...

    def list_objects(
        self, kind: Kind | None = None, namespace: str | None = None
    ) -> list[AppliedObject]: ...

    def set_status(self, ref: ObjectRef, status: dict[str, Any]) -> None: ...

    def record_revision(
        self, deployment: ObjectRef, template: dict[str, Any], *, change_cause: str, now: float
    ) -> RevisionResult: ...

    def list_replicasets(self, deployment: ObjectRef) -> list[ReplicaSetRow]: ...

    def get_replicaset(self, namespace: str, name: str) -> ReplicaSetRow | None: ...

    def set_replicaset(
        self,
        namespace: str,
        name: str,
        *,
        replicas: int | None = None,
        annotations: dict[str, str] | None = None,
        status: dict[str, Any] | None = None,
    ) -> None: ...

    def delete_replicaset(self, namespace: str, name: str) -> None: ...

    def add_event(
        self,
        ref: ObjectRef,
        *,
        type: str,
        reason: str,
        message: str,
        now: float,
        source: str = "deployment-controller",
    ) -> None: ...

    def finish_intent(self, intent_id: int, *, result: str, now: float) -> None: ...

    def command_for(self, *, source: str, file_sha256: str) -> str | None:
        """The CLI command that wrote ``source`` with this content, if one was noted."""
        ...


__all__ = ["EngineStore"]
