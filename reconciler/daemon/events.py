"""What the daemon says in events: the words, in one place, apart from the loop.

The loop decides *when* something is worth an event; this module decides what it says, in
Kubernetes' shape (a type, a CamelCase reason, a message a person can act on, a source). Every
event the daemon itself records goes through ``DaemonEvents``, so the wording can be read, and
changed, without reading the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

from reconciler.events import controller_of
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store


class Reason(StrEnum):
    """The reasons of the events the daemon records."""

    DELETED = "Deleted"
    FAILED_SCHEDULING = "FailedScheduling"
    FAILED_TO_LISTEN = "FailedToListen"
    INVALID_MANIFEST = "InvalidManifest"
    PRUNE_HELD = "PruneHeld"
    STORE_UNWRITABLE = "StateStoreUnwritable"


def invalid_manifest_message(rendered: Sequence[str]) -> str:
    """The first three problems, and a mark when there are more.

    >>> invalid_manifest_message(["a", "b", "c", "d"])
    'a; b; c ...'
    """
    return "; ".join(rendered[:3]) + (" ..." if len(rendered) > 3 else "")


def prune_held_message(held: Sequence[ObjectRef]) -> str:
    """Why the objects whose files are gone were kept, and the two ways on."""
    names = ", ".join(r.display for r in held[:5]) + (", ..." if len(held) > 5 else "")
    return (
        f"Not deleting {len(held)} objects whose manifests are gone ({names}): more than half "
        "of all objects at once. Restore the files, or run 'reconciler prune' to confirm."
    )


def store_writable_again_message(error: str, seconds: float) -> str:
    """How long the state database could not be written, and that nothing was lost.

    >>> store_writable_again_message("disk I/O error", 12.4).split(";")[0]
    'the state database could not be written for 12s (disk I/O error)'
    """
    return (
        f"the state database could not be written for {seconds:.0f}s ({error}); "
        "the folder was synced once it could be"
    )


class DaemonEvents:
    """Records the daemon's events in the store, stamped with the daemon's clock."""

    def __init__(self, store: Store, now: Callable[[], float]) -> None:
        self.store = store
        self.now = now

    def deleted(self, ref: ObjectRef) -> None:
        self.store.add_event(
            ref,
            type="Normal",
            reason=Reason.DELETED,
            message="manifest removed",
            now=self.now(),
            source=controller_of(ref.kind),
        )

    def invalid_manifest(self, ref: ObjectRef, rendered: Sequence[str]) -> None:
        self.store.add_event(
            ref,
            type="Warning",
            reason=Reason.INVALID_MANIFEST,
            message=invalid_manifest_message(rendered),
            now=self.now(),
            source=controller_of(ref.kind),
        )

    def prune_held(self, held: Sequence[ObjectRef]) -> None:
        message = prune_held_message(held)
        for ref in held:
            self.store.add_event(
                ref,
                type="Warning",
                reason=Reason.PRUNE_HELD,
                message=message,
                now=self.now(),
                source=controller_of(ref.kind),
            )

    def failed_to_listen(self, ref: ObjectRef, message: str) -> None:
        self.store.add_event(
            ref,
            type="Warning",
            reason=Reason.FAILED_TO_LISTEN,
            message=message,
            now=self.now(),
            source=controller_of(ref.kind),
        )

    def failed_scheduling(self, namespace: str, pod: str, message: str) -> None:
        self.store.add_event(
            ObjectRef(Kind.POD, namespace, pod),
            type="Warning",
            reason=Reason.FAILED_SCHEDULING,
            message=message,
            now=self.now(),
            source="default-scheduler",
        )

    def store_writable_again(self, refs: Sequence[ObjectRef], *, error: str, since: float) -> None:
        message = store_writable_again_message(error, self.now() - since)
        for ref in refs:
            self.store.add_event(
                ref, type="Warning", reason=Reason.STORE_UNWRITABLE, message=message, now=self.now()
            )


__all__ = [
    "DaemonEvents",
    "Reason",
    "invalid_manifest_message",
    "prune_held_message",
    "store_writable_again_message",
]
