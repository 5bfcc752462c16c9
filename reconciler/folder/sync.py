"""The folder pipeline: load → validate → compare with the store → apply or prune.

One call of ``FolderSync.sync()`` looks at the whole folder. Files whose size, mtime and inode
did not change since the last sync are not re-read, so a resync of an unchanged folder costs a
directory scan; the validator always sees every document, because its cross-object rules
(duplicates, services that must exist) depend on the whole set.

What is never lost:
- an object whose manifest became invalid keeps its last good spec (and keeps running); the
  problems are returned so the daemon can show them as a condition and an event;
- an object whose file cannot be read or parsed at all is *unknown*, not deleted, and is
  reported as invalid with the file's problems (its last good spec keeps running);
- an object that vanished from a file still being written in place (a writer in two goes)
  is not deleted until the file has settled (``watch.py``);
- a change that would delete more than half of the objects (and at least two) is held: an
  unmounted folder or a half-done checkout must not take everything down. It waits until the
  files come back or ``reconciler prune`` confirms.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.errors import Problem, Severity
from reconciler.folder.configsync import ConfigSync, secrets_dir
from reconciler.folder.drift import PENDING_PRUNE_META, held_deletions
from reconciler.folder.files import scan
from reconciler.manifests.load import Document, load_paths
from reconciler.manifests.validate import Report, validate_documents
from reconciler.objects import ObjectRef
from reconciler.store import Store

__all__ = [
    "PENDING_PRUNE_META",
    "Change",
    "FolderSync",
    "SyncResult",
    "held_deletions",
    "prune_is_guarded",
]


class Change(enum.StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class SyncResult:
    changes: dict[ObjectRef, Change] = field(default_factory=dict)
    invalid: dict[ObjectRef, list[Problem]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # file-level problems with no object
    held: tuple[ObjectRef, ...] = ()  # deletions held by the prune guard
    settling: tuple[ObjectRef, ...] = ()  # deletions held while their file is being written
    report: Report | None = None


def prune_is_guarded(*, deleting: int, total: int) -> bool:
    """Hold a deletion of more than half of the objects, when that is at least two.

    >>> prune_is_guarded(deleting=1, total=1), prune_is_guarded(deleting=2, total=3)
    (False, True)
    >>> prune_is_guarded(deleting=2, total=4), prune_is_guarded(deleting=3, total=5)
    (False, True)
    """
    return deleting >= 2 and deleting * 2 > total


class FolderSync:
    def __init__(self, store: Store, root: Path) -> None:
        self.store = store
        self.root = root.resolve()
        self._cache: dict[Path, tuple[tuple[int, int, int], list[Document], list[Problem]]] = {}

    def _load(self) -> tuple[list[Document], list[Problem], set[str]]:
        documents: list[Document] = []
        problems: list[Problem] = []
        unreadable: set[str] = set()
        seen: set[Path] = set()
        # the folder, and the Secrets created outside it (reconciler create secret generic)
        for path in [*scan(self.root), *scan(secrets_dir(self.store.state_dir))]:
            seen.add(path)
            try:
                st = path.stat()
            except OSError:
                continue  # vanished between the scan and now: the next event resyncs
            key = (st.st_size, st.st_mtime_ns, st.st_ino)
            cached = self._cache.get(path)
            if cached is None or cached[0] != key:
                result = load_paths([os.fspath(path)])
                cached = (key, list(result.documents), list(result.problems))
                if result.unreadable:
                    unreadable |= set(result.unreadable)
                    # never cache a failed read: the file may be mid-write
                    self._cache.pop(path, None)
                else:
                    self._cache[path] = cached
            documents.extend(cached[1])
            problems.extend(cached[2])
        for gone in set(self._cache) - seen:
            del self._cache[gone]
        return documents, problems, unreadable

    def sync(
        self,
        *,
        now: float,
        confirm_prune: bool = False,
        unsettled: Collection[Path] = frozenset(),
    ) -> SyncResult:
        """One pass over the folder. ``unsettled`` are files written in place a moment ago
        (``FolderWatcher.unsettled``): objects that vanished from one of them, while it still
        exists, are not deleted yet (``SyncResult.settling``), since a writer that writes a
        file in several goes would otherwise take down what its next write puts back."""
        documents, load_problems, unreadable = self._load()
        report = validate_documents(documents, config_refs_block=False)
        by_ref = {obj.ref: obj for obj in report.objects}
        changes: dict[ObjectRef, Change] = {}
        stored = {o.ref: o for o in self.store.list_objects()}
        config = ConfigSync(self.store, by_ref, stored, documents)

        with self.store.transaction():
            for ref, valid in by_ref.items():
                old = stored.get(ref)
                spec = config.stored_spec(ref, valid, old)
                if spec is None:
                    continue
                self.store.put_object(
                    ref=ref,
                    manifest=valid.obj,
                    spec=spec,
                    source=os.fspath(Path(valid.source).resolve()),
                    line=valid.line,
                    digest=valid.digest,
                    now=now,
                )
                changes[ref] = Change.CREATED if old is None else Change.CONFIGURED

            # What is gone from the folder: not valid now, not invalid-but-known, and not in a
            # file we could not read.
            unknown_files = {os.fspath(Path(f).resolve()) for f in unreadable}
            candidates = [
                ref
                for ref, old in stored.items()
                if ref not in by_ref
                and ref not in report.invalid
                and old.source not in unknown_files
            ]
            changing = {os.fspath(Path(p).resolve()) for p in unsettled}
            settling = tuple(
                sorted(
                    ref
                    for ref in candidates
                    if stored[ref].source in changing and Path(stored[ref].source).exists()
                )
            )
            candidates = [ref for ref in candidates if ref not in settling]
            held: tuple[ObjectRef, ...] = ()
            if (
                candidates
                and not confirm_prune
                and prune_is_guarded(deleting=len(candidates), total=len(stored))
            ):
                held = tuple(sorted(candidates))
                self.store.set_meta(PENDING_PRUNE_META, "\n".join(r.key for r in held))
            else:
                for ref in candidates:
                    changes[ref] = Change.DELETED
                self.store.set_meta(PENDING_PRUNE_META, "")

        file_problems = [
            p
            for p in [*load_problems, *report.problems]
            if p.severity is Severity.ERROR
            and not any(p in problems for problems in report.invalid.values())
        ]
        # The objects of a file that cannot be parsed are as invalid as those of a file that
        # does not validate: they keep their last good spec, and say why (brokenfile.py).
        invalid = dict(report.invalid)
        for ref, old in stored.items():
            if ref not in by_ref and ref not in invalid and old.source in unknown_files:
                invalid[ref] = [
                    p for p in file_problems if os.fspath(Path(p.file).resolve()) == old.source
                ] or [_unreadable_problem(old.source)]
        return SyncResult(
            changes=changes,
            invalid={**invalid, **config.refused},
            problems=file_problems,
            held=held,
            settling=settling,
            report=report,
        )


def _unreadable_problem(source: str) -> Problem:
    return Problem(
        file=source,
        line=0,
        column=0,
        severity=Severity.ERROR,
        message="the file cannot be read",
        rule="unreadable",
    )
