"""ReplicaSets and revisions: Kubernetes' revision rule (§1.6) on stored rows.

``record_revision`` finds the ReplicaSet of a template (or makes one, named by the template's
hash with the collision count), and moves revision numbers as the deployment controller does;
the rest read and update ReplicaSet rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from reconciler.errors import NotFoundError
from reconciler.objects import ObjectRef
from reconciler.revisions import (
    KnownReplicaSet,
    RevisionAction,
    canonical_template,
    decide_revision,
    find_matching,
)
from reconciler.store.base import StoreBase, dump
from reconciler.store.records import ReplicaSetRow, RevisionResult

RS_COLUMNS = (
    "name, namespace, deployment, hash, revision, revision_history, template, change_cause, "
    "replicas, annotations, status, created_at"
)


def template_key(template: dict[str, Any]) -> str:
    """The index key of a template: sha256 of its canonical form (hash label ignored)."""
    return hashlib.sha256(canonical_template(template).encode()).hexdigest()


def _history_text(history: Sequence[int]) -> str:
    return ",".join(str(n) for n in history)


def _history_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split(",") if n)


def replicaset_row(row: Sequence[Any]) -> ReplicaSetRow:
    """A ReplicaSet row in ``RS_COLUMNS`` order."""
    return ReplicaSetRow(
        name=row[0],
        namespace=row[1],
        deployment=row[2],
        hash=row[3],
        revision=int(row[4]),
        revision_history=_history_tuple(row[5]),
        template=json.loads(row[6]),
        change_cause=row[7],
        replicas=int(row[8]),
        annotations=json.loads(row[9]),
        status=json.loads(row[10]),
        created_at=float(row[11]),
    )


class ReplicaSetTable(StoreBase):
    """ReplicaSets and revisions (mixed into ``Store``)."""

    def record_revision(
        self, deployment: ObjectRef, template: dict[str, Any], *, change_cause: str, now: float
    ) -> RevisionResult:
        """Apply the §1.6 rule for ``template`` (see reconciler.revisions.decide_revision)."""
        ns, name = deployment.namespace, deployment.name
        key = template_key(template)
        with self.transaction():
            rows = self._rows(
                f"SELECT {RS_COLUMNS} FROM replicasets "
                "WHERE namespace = ? AND deployment = ? AND template_key = ? ORDER BY id",
                (ns, name, key),
            )
            candidates = [
                KnownReplicaSet(
                    name=rs.name,
                    revision=rs.revision,
                    template=rs.template,
                    revision_history=rs.revision_history,
                )
                for rs in map(replicaset_row, rows)
            ]
            found = find_matching(template, candidates)
            max_other = self._one(
                "SELECT MAX(revision) FROM replicasets "
                "WHERE namespace = ? AND deployment = ? AND name != ?",
                (ns, name, found.name if found else ""),
            )
            collisions = self.collision_count(deployment)
            decision = decide_revision(
                name,
                template,
                found=found,
                max_other_revision=int(max_other or 0),
                collision_count=collisions,
                name_taken=lambda rs_name: self.get_replicaset(ns, rs_name) is not None,
            )
            if decision.action is RevisionAction.CREATED:
                self._conn.execute(
                    "INSERT INTO replicasets (namespace, name, deployment, hash, revision, "
                    "revision_history, template, template_key, change_cause, replicas, "
                    "annotations, status, created_at) VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, 0, "
                    "'{}', '{}', ?)",
                    (
                        ns,
                        decision.name,
                        name,
                        decision.hash,
                        decision.revision,
                        dump(decision.template),
                        key,
                        change_cause,
                        now,
                    ),
                )
            elif decision.action is RevisionAction.REUSED:
                self._conn.execute(
                    "UPDATE replicasets SET revision = ?, revision_history = ?, change_cause = ? "
                    "WHERE namespace = ? AND name = ?",
                    (
                        decision.revision,
                        _history_text(decision.revision_history),
                        change_cause,
                        ns,
                        decision.name,
                    ),
                )
            if decision.collision_count != collisions:
                self._conn.execute(
                    "INSERT INTO collisions (namespace, deployment, count) VALUES (?, ?, ?) "
                    "ON CONFLICT (namespace, deployment) DO UPDATE SET count = excluded.count",
                    (ns, name, decision.collision_count),
                )
            row = self.get_replicaset(ns, decision.name)
        assert row is not None
        return RevisionResult(replicaset=row, action=decision.action)

    def collision_count(self, deployment: ObjectRef) -> int:
        """status.collisionCount of a deployment (0 until a hash collision happened)."""
        value = self._one(
            "SELECT count FROM collisions WHERE namespace = ? AND deployment = ?",
            (deployment.namespace, deployment.name),
        )
        return int(value or 0)

    def list_replicasets(self, deployment: ObjectRef) -> list[ReplicaSetRow]:
        """The deployment's ReplicaSets, ascending by revision."""
        rows = self._rows(
            f"SELECT {RS_COLUMNS} FROM replicasets WHERE namespace = ? AND deployment = ? "
            "ORDER BY revision, id",
            (deployment.namespace, deployment.name),
        )
        return [replicaset_row(row) for row in rows]

    def list_revisions(self, deployment: ObjectRef) -> list[tuple[int, str]]:
        """(revision, change cause) of each ReplicaSet, ascending: `rollout history`'s table.

        Reads two columns only, so a history of 10,000 revisions prints in milliseconds.
        """
        rows = self._rows(
            "SELECT revision, change_cause FROM replicasets WHERE namespace = ? AND deployment = ? "
            "ORDER BY revision, id",
            (deployment.namespace, deployment.name),
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def list_all_replicasets(self, namespace: str | None = None) -> list[ReplicaSetRow]:
        """Every ReplicaSet (of every deployment), by namespace, deployment and revision."""
        where = " WHERE namespace = ?" if namespace is not None else ""
        rows = self._rows(
            f"SELECT {RS_COLUMNS} FROM replicasets{where} "
            "ORDER BY namespace, deployment, revision, id",
            () if namespace is None else (namespace,),
        )
        return [replicaset_row(row) for row in rows]

    def get_replicaset(self, namespace: str, name: str) -> ReplicaSetRow | None:
        row = self._row(
            f"SELECT {RS_COLUMNS} FROM replicasets WHERE namespace = ? AND name = ?",
            (namespace, name),
        )
        return None if row is None else replicaset_row(row)

    def set_replicaset(
        self,
        namespace: str,
        name: str,
        *,
        replicas: int | None = None,
        annotations: dict[str, str] | None = None,
        status: dict[str, Any] | None = None,
    ) -> None:
        """Update a ReplicaSet's spec replicas, annotations (replaced whole) or status."""
        sets: list[str] = []
        params: list[Any] = []
        if replicas is not None:
            sets.append("replicas = ?")
            params.append(int(replicas))
        if annotations is not None:
            sets.append("annotations = ?")
            params.append(dump(annotations))
        if status is not None:
            sets.append("status = ?")
            params.append(dump(status))
        with self.transaction():
            if not sets:
                exists = self._one(
                    "SELECT 1 FROM replicasets WHERE namespace = ? AND name = ?", (namespace, name)
                )
                changed = 1 if exists else 0
            else:
                changed = self._conn.execute(
                    f"UPDATE replicasets SET {', '.join(sets)} WHERE namespace = ? AND name = ?",
                    (*params, namespace, name),
                ).rowcount
            if not changed:
                raise NotFoundError(f'replicasets.apps "{name}" not found')

    def delete_replicaset(self, namespace: str, name: str) -> None:
        with self.transaction():
            self._conn.execute(
                "DELETE FROM replicasets WHERE namespace = ? AND name = ?", (namespace, name)
            )

    @staticmethod
    def parse_replicaset(row: tuple[Any, ...]) -> ReplicaSetRow:
        """A ReplicaSet row of a scan."""
        return replicaset_row(row)


__all__ = ["RS_COLUMNS", "ReplicaSetTable", "replicaset_row", "template_key"]
