"""The applied objects (the folder's manifests, defaulted) and their observed statuses.

``generation`` counts changes of the defaulted ``spec`` (as the API server's
``metadata.generation``); the status is a separate row, written by the daemon only.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.objects import Kind, ObjectRef
from reconciler.store.base import StoreBase, dump
from reconciler.store.records import AppliedObject


class ObjectTable(StoreBase):
    """Applied objects and statuses (mixed into ``Store``)."""

    def put_object(
        self,
        *,
        ref: ObjectRef,
        manifest: dict[str, Any],
        spec: dict[str, Any],
        source: str,
        line: int,
        digest: str,
        now: float,
    ) -> AppliedObject:
        """Upsert an applied object; ``generation`` goes up when the defaulted ``spec`` changes."""
        key = (str(ref.kind), ref.namespace, ref.name)
        with self.transaction():
            row = self._row(
                "SELECT spec, generation FROM objects "
                "WHERE kind = ? AND namespace = ? AND name = ?",
                key,
            )
            if row is None:
                self._conn.execute(
                    "INSERT INTO objects (kind, namespace, name, manifest, spec, source, line, "
                    "digest, generation, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                    (*key, dump(manifest), dump(spec), source, line, digest, now, now),
                )
            else:
                old_spec = json.loads(row[0]).get("spec")
                generation = int(row[1]) + (1 if old_spec != spec.get("spec") else 0)
                self._conn.execute(
                    "UPDATE objects SET manifest = ?, spec = ?, source = ?, line = ?, digest = ?, "
                    "generation = ?, updated_at = ? WHERE kind = ? AND namespace = ? AND name = ?",
                    (dump(manifest), dump(spec), source, line, digest, generation, now, *key),
                )
            found = self.get_object(ref)
        assert found is not None
        return found

    _OBJECT_SELECT = (
        "SELECT o.kind, o.namespace, o.name, o.manifest, o.spec, o.source, o.line, o.digest, "
        "o.generation, o.created_at, o.updated_at, s.status FROM objects o "
        "LEFT JOIN statuses s ON s.kind = o.kind AND s.namespace = o.namespace AND s.name = o.name"
    )

    @staticmethod
    def _applied(row: tuple[Any, ...]) -> AppliedObject:
        return AppliedObject(
            ref=ObjectRef(Kind(row[0]), row[1], row[2]),
            manifest=json.loads(row[3]),
            spec=json.loads(row[4]),
            source=row[5],
            line=int(row[6]),
            digest=row[7],
            generation=int(row[8]),
            created_at=float(row[9]),
            updated_at=float(row[10]),
            status=json.loads(row[11]) if row[11] else {},
        )

    def get_object(self, ref: ObjectRef) -> AppliedObject | None:
        row = self._row(
            self._OBJECT_SELECT + " WHERE o.kind = ? AND o.namespace = ? AND o.name = ?",
            (str(ref.kind), ref.namespace, ref.name),
        )
        return None if row is None else self._applied(row)

    def list_objects(
        self, kind: Kind | None = None, namespace: str | None = None
    ) -> list[AppliedObject]:
        """Applied objects, ordered by kind, namespace, name."""
        where, params = [], []
        if kind is not None:
            where.append("o.kind = ?")
            params.append(str(kind))
        if namespace is not None:
            where.append("o.namespace = ?")
            params.append(namespace)
        sql = self._OBJECT_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._rows(sql + " ORDER BY o.kind, o.namespace, o.name", params)
        return [self._applied(row) for row in rows]

    @staticmethod
    def parse_object(row: tuple[Any, ...]) -> AppliedObject:
        """An object row of a scan."""
        return ObjectTable._applied(row)

    def delete_object(self, ref: ObjectRef) -> None:
        """Forget an applied object and its status (its ReplicaSets are the caller's to delete)."""
        with self.transaction():
            self._conn.execute(
                "DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
                (str(ref.kind), ref.namespace, ref.name),
            )

    def set_status(self, ref: ObjectRef, status: dict[str, Any]) -> None:
        """Record the observed status of an applied object (a no-op if it is not applied)."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO statuses (kind, namespace, name, status) "
                "SELECT kind, namespace, name, ? FROM objects "
                "WHERE kind = ? AND namespace = ? AND name = ? "
                "ON CONFLICT (kind, namespace, name) DO UPDATE SET status = excluded.status",
                (dump(status), str(ref.kind), ref.namespace, ref.name),
            )


__all__ = ["ObjectTable"]
