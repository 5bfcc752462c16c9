"""What happens, as opposed to what is wanted: observed pods, events, intents, commands.

Each table is bounded: events per object and in all (oldest first out), finished intents and
noted commands by count; pods are replaced whole by the daemon's flush.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reconciler.objects import Kind, ObjectRef
from reconciler.store.base import StoreBase, dump
from reconciler.store.records import EventRow, IntentRow, PodRecord

EVENTS_PER_OBJECT = 200
EVENTS_TOTAL = 20_000
COMMANDS_KEPT = 1_000
FINISHED_INTENTS_KEPT = 1_000


class ActivityTables(StoreBase):
    """Pods, events, intents and commands (mixed into ``Store``)."""

    # -- pods ------------------------------------------------------------------------------

    def replace_pods(self, pods: Sequence[PodRecord]) -> None:
        """Replace the whole observed pod set in one transaction."""
        with self.transaction():
            self._conn.execute("DELETE FROM pods")
            self._conn.executemany(
                "INSERT INTO pods (namespace, name, owner, deployment, status, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        p.namespace,
                        p.name,
                        p.owner,
                        p.deployment,
                        dump(p.status),
                        p.created_at,
                        p.updated_at,
                    )
                    for p in pods
                ],
            )

    def list_pods(self, namespace: str | None = None, owner: str | None = None) -> list[PodRecord]:
        """Observed pods, ordered by namespace and name."""
        where, params = [], []
        if namespace is not None:
            where.append("namespace = ?")
            params.append(namespace)
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        sql = "SELECT name, namespace, owner, deployment, status, created_at, updated_at FROM pods"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY namespace, name"
        return [
            PodRecord(
                name=r[0],
                namespace=r[1],
                owner=r[2],
                deployment=r[3],
                status=json.loads(r[4]),
                created_at=float(r[5]),
                updated_at=float(r[6]),
            )
            for r in self._rows(sql, params)
        ]

    # -- events ----------------------------------------------------------------------------

    def add_event(
        self,
        ref: ObjectRef,
        *,
        type: str,
        reason: str,
        message: str,
        now: float,
        source: str = "deployment-controller",
    ) -> None:
        """Record an event; the same (object, type, reason, message) again counts up instead."""
        obj = (str(ref.kind), ref.namespace, ref.name)
        with self.transaction():
            self._conn.execute(
                "INSERT INTO events (kind, namespace, name, type, reason, message, count, "
                "first_seen, last_seen, source) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?) "
                "ON CONFLICT (kind, namespace, name, type, reason, message) DO UPDATE SET "
                "count = count + 1, last_seen = excluded.last_seen, source = excluded.source",
                (*obj, type, reason, message, now, now, source),
            )
            # retention: oldest (by last_seen) dropped first, per object and in all
            self._conn.execute(
                "DELETE FROM events WHERE id IN (SELECT id FROM events "
                "WHERE kind = ? AND namespace = ? AND name = ? ORDER BY last_seen DESC, id DESC "
                "LIMIT -1 OFFSET ?)",
                (*obj, EVENTS_PER_OBJECT),
            )
            total = int(self._one("SELECT COUNT(*) FROM events"))
            if total > EVENTS_TOTAL:
                self._conn.execute(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events "
                    "ORDER BY last_seen, id LIMIT ?)",
                    (total - EVENTS_TOTAL,),
                )

    def list_events(
        self,
        ref: ObjectRef | None = None,
        namespace: str | None = None,
        *,
        since: float | None = None,
    ) -> list[EventRow]:
        """Events, oldest first (kubectl describe's order); ``since``: last seen at or after."""
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("last_seen >= ?")
            params.append(since)
        if ref is not None:
            where.append("kind = ? AND namespace = ? AND name = ?")
            params += [str(ref.kind), ref.namespace, ref.name]
        if namespace is not None:
            where.append("namespace = ?")
            params.append(namespace)
        sql = (
            "SELECT kind, namespace, name, type, reason, message, count, first_seen, last_seen, "
            "source FROM events"
        )
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY last_seen, id"
        return [
            EventRow(
                ref=ObjectRef(Kind(r[0]), r[1], r[2]),
                type=r[3],
                reason=r[4],
                message=r[5],
                count=int(r[6]),
                first_seen=float(r[7]),
                last_seen=float(r[8]),
                source=r[9],
            )
            for r in self._rows(sql, params)
        ]

    # -- intents ---------------------------------------------------------------------------

    def add_intent(self, ref: ObjectRef, action: str, args: dict[str, Any], *, now: float) -> int:
        """Queue a runtime operation for the daemon; returns its id."""
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO intents (kind, namespace, name, action, args, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (str(ref.kind), ref.namespace, ref.name, action, dump(args), now),
            )
            assert cursor.lastrowid is not None
            return int(cursor.lastrowid)

    def pending_intents(self) -> list[IntentRow]:
        """Unfinished intents, oldest first."""
        rows = self._rows(
            "SELECT id, kind, namespace, name, action, args, created_at FROM intents "
            "WHERE finished_at IS NULL ORDER BY id"
        )
        return [
            IntentRow(
                id=int(r[0]),
                ref=ObjectRef(Kind(r[1]), r[2], r[3]),
                action=r[4],
                args=json.loads(r[5]),
                created_at=float(r[6]),
            )
            for r in rows
        ]

    def finish_intent(self, intent_id: int, *, result: str, now: float) -> None:
        with self.transaction():
            self._conn.execute(
                "UPDATE intents SET finished_at = ?, result = ? WHERE id = ?",
                (now, result, intent_id),
            )
            self._conn.execute(
                "DELETE FROM intents WHERE finished_at IS NOT NULL AND id NOT IN (SELECT id "
                "FROM intents WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT ?)",
                (FINISHED_INTENTS_KEPT,),
            )

    def intent_result(self, intent_id: int) -> str | None:
        """The result of a finished intent, else None (for a CLI that waits on one)."""
        value = self._one("SELECT result FROM intents WHERE id = ?", (intent_id,))
        return None if value is None else str(value)

    # -- commands that edited manifests ----------------------------------------------------

    def note_command(self, *, source: str, file_sha256: str, command: str, now: float) -> None:
        """Remember that ``command`` wrote ``source`` with content ``file_sha256``."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO commands (source, file_sha256, command, noted_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (source, file_sha256) DO UPDATE SET "
                "command = excluded.command, noted_at = excluded.noted_at",
                (source, file_sha256, command, now),
            )
            self._conn.execute(
                "DELETE FROM commands WHERE noted_at < (SELECT noted_at FROM commands "
                "ORDER BY noted_at DESC LIMIT 1 OFFSET ?)",
                (COMMANDS_KEPT - 1,),
            )

    def command_for(self, *, source: str, file_sha256: str) -> str | None:
        value = self._one(
            "SELECT command FROM commands WHERE source = ? AND file_sha256 = ?",
            (source, file_sha256),
        )
        return None if value is None else str(value)


__all__ = [
    "COMMANDS_KEPT",
    "EVENTS_PER_OBJECT",
    "EVENTS_TOTAL",
    "FINISHED_INTENTS_KEPT",
    "ActivityTables",
]
