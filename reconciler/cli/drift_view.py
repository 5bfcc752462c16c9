"""How the read commands show drift (``reconciler.folder.drift``): a mark in ``get``, a section in
``describe``, lines in ``rollout status``.

``get`` keeps kubectl's columns but never lets them claim what is not true: after a rollback or
an abort, UP-TO-DATE counts the pods of the revision the folder asks for (0 once rolled back,
not the pods of the revision that took over), ``-o wide`` notes the image that really runs
(``demo:2 (running demo:1)``), and a warning line on stderr says what runs, why, and the
command that resolves it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from reconciler.folder.drift import Drift, DriftReason, store_drift
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store

__all__ = ["describe_drift", "drifted_cells", "warn_drift"]

_REVISIONS = (DriftReason.ROLLED_BACK, DriftReason.ABORTED)


def drifted_cells(drift: Drift | None, updated: str, images: str) -> tuple[str, str]:
    """The UP-TO-DATE and IMAGES cells of ``get deployments`` for a drifted deployment."""
    if drift is None or drift.reason not in _REVISIONS:
        return updated, images
    if drift.wanted is not None:
        updated = str(drift.wanted.pods)
    if drift.running is not None and drift.running.images != images:
        images = f"{images} (running {drift.running.images})"
    return updated, images


def warning_line(drift: Drift, errors: Sequence[str] = ()) -> str:
    if drift.reason is DriftReason.INVALID_MANIFEST and errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return (
            f"Warning: {drift.display}: its manifest is invalid, the last good revision keeps "
            f"running: {errors[0]}{more}; to resolve: {drift.resolve[0]}"
        )
    return f"Warning: {drift.summary()}"


def warn_drift(store: Store, kind: Kind, namespace: str, names: Sequence[str]) -> None:
    """One warning line on stderr per listed object whose running state is not the folder's."""
    for name in names:
        obj = store.get_object(ObjectRef(kind, namespace, name))
        drift = store_drift(store, obj) if obj is not None else None
        if obj is not None and drift is not None:
            print(warning_line(drift, obj.status.get("invalid") or []), file=sys.stderr)


def describe_drift(drift: Drift | None) -> str:
    """``describe``'s ``Drift:`` section (tab-separated, for the describe tabwriter)."""
    if drift is None:
        return ""
    out = "Drift:\n"
    out += f"  Reason:\t{drift.reason}\n"
    if drift.running is not None:
        out += f"  Running:\t{drift.running.label}, ReplicaSet {drift.running.replica_set}\n"
    if drift.reason is DriftReason.PRUNE_HELD:
        out += "  Folder Asks:\tnothing (the manifest is gone)\n"
    elif drift.reason is DriftReason.INVALID_MANIFEST:
        out += "  Folder Asks:\ta manifest that cannot be applied\n"
    elif drift.wanted is not None:
        out += f"  Folder Asks:\t{drift.wanted.label}, ReplicaSet {drift.wanted.replica_set}\n"
    out += f"  Why:\t{drift.why}\n"
    out += "  Resolve:\t" + "\n\t".join(drift.resolve) + "\n"
    return out
