"""Drift: when what runs is not what the folder asks for, and what resolves it.

The folder is the truth (DESIGN decision 1), but four things can leave other revisions running:

=================  ==================================================  =======================
reason             what runs / what the folder asks for                resolved by
=================  ==================================================  =======================
RolledBack         ``autoRollback`` went back to the last complete     ``rollout undo`` (write
                   revision; the file still asks for the failed one    it back), ``rollout
                                                                       retry``, or a new edit
Aborted            ``rollout abort`` (or failed canary analysis)       ``rollout retry``,
                   keeps the stable revision                           ``rollout undo``
PruneHeld          the file is gone, the prune guard holds the         ``reconciler prune``,
                   deletion: the object runs, the folder has none      or restore the file
InvalidManifest    the file cannot be applied: the last good           fix the file at
                   revision runs                                       file:line:col
=================  ==================================================  =======================

``get`` marks such objects, ``describe`` and ``rollout status`` say which revision runs, which
one the folder asks for, why, and the command; ``diff`` compares the folder with what runs.
This module only reads values (an applied object, its ReplicaSets, the held keys).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.engine.serialize import rollout_of
from reconciler.engine.state import RolloutState
from reconciler.objects import Kind
from reconciler.revisions import strip_hash
from reconciler.store import AppliedObject, ReplicaSetRow, Store

__all__ = [
    "Drift",
    "DriftReason",
    "Revision",
    "drift_of",
    "held_deletions",
    "held_keys",
    "running_spec",
    "store_drift",
]


class DriftReason(enum.StrEnum):
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    PRUNE_HELD = "PruneHeld"
    INVALID_MANIFEST = "InvalidManifest"


@dataclass(frozen=True, slots=True)
class Revision:
    number: int
    replica_set: str
    images: str  # comma-separated, as `get -o wide` shows them
    template: Mapping[str, Any]
    pods: int  # the ReplicaSet's observed replicas

    @property
    def label(self) -> str:
        return f"revision {self.number} ({self.images})"


@dataclass(frozen=True, slots=True)
class Drift:
    reason: DriftReason
    display: str  # deployment.apps/web
    running: Revision | None
    wanted: Revision | None  # None: the folder asks for nothing it can apply
    why: str
    resolve: tuple[str, ...]  # commands or actions, each complete

    def summary(self) -> str:
        """One line: what runs, what the folder asks for, why, and what resolves it."""
        if self.reason is DriftReason.PRUNE_HELD:
            what = f"{self.display} runs but its manifest is gone from the folder"
        elif self.reason is DriftReason.INVALID_MANIFEST:
            runs = self.running.label if self.running else "the last good revision"
            what = f"{self.display} runs {runs}: its manifest cannot be applied"
        else:
            runs = self.running.label if self.running else "an older revision"
            wants = self.wanted.label if self.wanted else "another revision"
            what = f"{self.display} runs {runs}, not {wants} that the folder asks for"
        return f"{what} ({self.why}); {self.hint()}"

    def hint(self) -> str:
        return "to resolve: " + ", or ".join(self.resolve)


def _images(template: Mapping[str, Any]) -> str:
    containers = (template.get("spec") or {}).get("containers") or []
    return ",".join(str(c.get("image", "")) for c in containers if isinstance(c, Mapping))


def _revision(rows: Sequence[ReplicaSetRow], pod_hash: str | None) -> Revision | None:
    row = next((r for r in rows if pod_hash and r.hash == pod_hash), None)
    if row is None:
        return None
    pods = int(row.status.get("replicas", 0) or 0)
    return Revision(row.revision, row.name, _images(row.template), row.template, pods)


def _running(rows: Sequence[ReplicaSetRow], rollout: RolloutState) -> Revision | None:
    """The revision that serves: the stable one, else the one with the most replicas."""
    stable = _revision(rows, rollout.stable_rs)
    if stable is not None:
        return stable
    best = max(rows, key=lambda r: (r.replicas, r.revision), default=None)
    return _revision(rows, best.hash) if best is not None else None


def _where(problem: str) -> str:
    """``path:line:col`` of a rendered problem (``path:line:col: error: ...``)."""
    head, _, _ = problem.partition(": error: ")
    return head or problem


def drift_of(
    obj: AppliedObject, rows: Sequence[ReplicaSetRow], *, held: Collection[str] = ()
) -> Drift | None:
    """The drift of one applied object, or None when what runs is what the folder asks for.

    ``held`` are the keys of the objects whose deletion the prune guard holds.
    """
    ref = obj.ref
    verb_ref = f"deployment/{ref.name}" if ref.kind is Kind.DEPLOYMENT else ref.display
    status = obj.status
    rollout = rollout_of(status)
    running = _running(rows, rollout) if ref.kind is Kind.DEPLOYMENT else None
    if ref.key in held:
        return Drift(
            DriftReason.PRUNE_HELD,
            ref.display,
            running,
            None,
            "the prune guard holds the deletion of more than half of the objects at once",
            ("'reconciler prune' to delete it", "restore its file"),
        )
    invalid: Sequence[str] = status.get("invalid") or []
    if invalid:
        return Drift(
            DriftReason.INVALID_MANIFEST,
            ref.display,
            running,
            None,
            invalid[0],
            (f"fix the file at {_where(invalid[0])}",),
        )
    if ref.kind is not Kind.DEPLOYMENT:
        return None
    current, stable = rollout.current_pod_hash, rollout.stable_rs
    if not current or not stable or current == stable:
        return None
    wanted = _revision(rows, current)
    back = running.number if running else "the previous revision"
    again = wanted.number if wanted else "the folder's revision"
    undo = f"'reconciler rollout undo {verb_ref}' to write revision {back} back to the file"
    retry = f"'reconciler rollout retry {verb_ref}' to try revision {again} again"
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    if rollout.failed_template_hash == current:
        failure = conditions.get("ReplicaFailure") or conditions.get("Progressing") or {}
        cause = str(failure.get("message") or rollout.message or "the rollout failed")
        return Drift(
            DriftReason.ROLLED_BACK,
            ref.display,
            running,
            wanted,
            f"rolled back automatically: {cause}",
            (undo, retry, "edit the manifest"),
        )
    if rollout.aborted:
        cause = rollout.abort_message or "aborted by 'rollout abort'"
        return Drift(DriftReason.ABORTED, ref.display, running, wanted, cause, (retry, undo))
    return None


def running_spec(obj: AppliedObject, drift: Drift | None) -> dict[str, Any]:
    """The applied spec as it runs: after a rollback or an abort, with the running
    revision's pod template (what ``diff`` compares the folder with)."""
    spec = dict(obj.spec)
    if (
        drift is None
        or drift.running is None
        or drift.reason not in (DriftReason.ROLLED_BACK, DriftReason.ABORTED)
    ):
        return spec
    body = dict(spec.get("spec") or {})
    body["template"] = strip_hash(drift.running.template)
    spec["spec"] = body
    return spec


PENDING_PRUNE_META = (
    "pending_prune"  # written by reconciler.folder.sync (kept here: a light import)
)


def held_deletions(store: Store) -> Sequence[str]:
    """Keys of the objects whose deletion the prune guard holds (for ``reconciler prune``)."""
    value = store.get_meta(PENDING_PRUNE_META) or ""
    return [line for line in value.splitlines() if line]


def held_keys(store: Store) -> frozenset[str]:
    """``held_deletions`` as a set."""
    return frozenset(held_deletions(store))


def store_drift(
    store: Store, obj: AppliedObject, *, held: Collection[str] | None = None
) -> Drift | None:
    """``drift_of`` for an object of the store (its ReplicaSets and the held deletions)."""
    rows = store.list_replicasets(obj.ref) if obj.ref.kind is Kind.DEPLOYMENT else []
    return drift_of(obj, rows, held=held_keys(store) if held is None else held)
