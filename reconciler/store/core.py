"""The Store: the one SQLite database every part of the reconciler shares (DESIGN decision 3).

The daemon holds one Store (and the daemon lock) for its lifetime and is the only writer of
observed state; each CLI command opens a Store briefly to read, or to write an intent. Every
method that writes is one transaction; ``with store.transaction():`` groups several writes, and
nested transactions are savepoints inside the outer one, so a failing inner block undoes only
itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import NotFoundError
from reconciler.objects import Kind, ObjectRef
from reconciler.paths import ensure_state_dir
from reconciler.revisions import (
    KnownReplicaSet,
    RevisionAction,
    canonical_template,
    decide_revision,
    find_matching,
)
from reconciler.store import lock
from reconciler.store.records import (
    AppliedObject,
    EventRow,
    IntentRow,
    PodRecord,
    ReplicaSetRow,
    RevisionResult,
)
from reconciler.store.scan import StateScan, change_mark, scan_state
from reconciler.store.schema import DB_NAME, connect

EVENTS_PER_OBJECT = 200
EVENTS_TOTAL = 20_000
COMMANDS_KEPT = 1_000
FINISHED_INTENTS_KEPT = 1_000
FAULT_ENV = "RECONCILER_STORE_FAULT"  # see Store._injected_fault

_RS_COLUMNS = (
    "name, namespace, deployment, hash, revision, revision_history, template, change_cause, "
    "replicas, annotations, status, created_at"
)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def template_key(template: dict[str, Any]) -> str:
    """The index key of a template: sha256 of its canonical form (hash label ignored)."""
    return hashlib.sha256(canonical_template(template).encode()).hexdigest()


def _history_text(history: Sequence[int]) -> str:
    return ",".join(str(n) for n in history)


def _history_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split(",") if n)


def _replicaset(row: sqlite3.Row | tuple[Any, ...]) -> ReplicaSetRow:
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


class Store:
    """The state database of one state directory (see the module docstring)."""

    def __init__(self, state_dir: Path, conn: sqlite3.Connection) -> None:
        self.state_dir = state_dir
        self.path = state_dir / DB_NAME
        self._conn = conn
        self._mutex = threading.RLock()
        self._depth = 0
        self._lock_fd: int | None = None
        fault = os.environ.get(FAULT_ENV)
        self._fault_file = Path(fault) if fault else None

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        """Open (create and migrate if needed) ``<state_dir>/state.db``."""
        state_dir = ensure_state_dir(Path(state_dir))
        return cls(state_dir, connect(state_dir / DB_NAME))

    def close(self) -> None:
        with self._mutex:
            if self._lock_fd is not None:
                lock.release(self._lock_fd)
                self._lock_fd = None
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lock_daemon(self) -> None:
        """Hold the daemon lock until close(); a second daemon gets a StateDirError naming us."""
        if self._lock_fd is None:
            self._lock_fd = lock.acquire(self.state_dir)

    def daemon_pid(self) -> int | None:
        """The pid of the live daemon holding this state directory, else None."""
        if self._lock_fd is not None:
            return os.getpid()
        return lock.holder(self.state_dir)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; nested uses are savepoints of the outer transaction."""
        with self._mutex:
            depth = self._depth
            if depth == 0 and self._fault_file is not None:
                self._injected_fault(self._fault_file)
            self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO sp{depth}")
                    self._conn.execute(f"RELEASE sp{depth}")
                raise
            self._depth -= 1
            self._conn.execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")

    @staticmethod
    def _injected_fault(path: Path) -> None:
        """Fault injection for the reliability tests (``$RECONCILER_STORE_FAULT`` names a file).

        While that file exists every write fails with the SQLite error it contains, as on a
        state directory that is read-only (which a test cannot make of a mounted filesystem
        whose files are open for writing).
        """
        try:
            message = path.read_text().strip()
        except FileNotFoundError:
            return
        raise sqlite3.OperationalError(message or "attempt to write a readonly database")

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # -- meta ------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        value = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- applied objects -------------------------------------------------------------------

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
            row = self._conn.execute(
                "SELECT spec, generation FROM objects "
                "WHERE kind = ? AND namespace = ? AND name = ?",
                key,
            ).fetchone()
            if row is None:
                self._conn.execute(
                    "INSERT INTO objects (kind, namespace, name, manifest, spec, source, line, "
                    "digest, generation, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                    (*key, _dump(manifest), _dump(spec), source, line, digest, now, now),
                )
            else:
                old_spec = json.loads(row[0]).get("spec")
                generation = int(row[1]) + (1 if old_spec != spec.get("spec") else 0)
                self._conn.execute(
                    "UPDATE objects SET manifest = ?, spec = ?, source = ?, line = ?, digest = ?, "
                    "generation = ?, updated_at = ? WHERE kind = ? AND namespace = ? AND name = ?",
                    (_dump(manifest), _dump(spec), source, line, digest, generation, now, *key),
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
        row = self._conn.execute(
            self._OBJECT_SELECT + " WHERE o.kind = ? AND o.namespace = ? AND o.name = ?",
            (str(ref.kind), ref.namespace, ref.name),
        ).fetchone()
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
        rows = self._conn.execute(sql + " ORDER BY o.kind, o.namespace, o.name", params)
        return [self._applied(row) for row in rows]

    def change_mark(self) -> tuple[int, int]:
        """Differs from the last one whenever anything was committed since (any connection)."""
        with self._mutex:
            return change_mark(self._conn)

    def scan(self) -> StateScan:
        """The raw rows ``/metrics`` shows, of one committed state (``reconciler.store.scan``)."""
        with self._mutex:
            return scan_state(self._conn)

    @staticmethod
    def parse_object(row: tuple[Any, ...]) -> AppliedObject:
        """An object row of a scan."""
        return Store._applied(row)

    @staticmethod
    def parse_replicaset(row: tuple[Any, ...]) -> ReplicaSetRow:
        """A ReplicaSet row of a scan."""
        return _replicaset(row)

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
                (_dump(status), str(ref.kind), ref.namespace, ref.name),
            )

    # -- ReplicaSets and revisions ---------------------------------------------------------

    def record_revision(
        self, deployment: ObjectRef, template: dict[str, Any], *, change_cause: str, now: float
    ) -> RevisionResult:
        """Apply the §1.6 rule for ``template`` (see reconciler.revisions.decide_revision)."""
        ns, name = deployment.namespace, deployment.name
        key = template_key(template)
        with self.transaction():
            rows = self._conn.execute(
                f"SELECT {_RS_COLUMNS} FROM replicasets "
                "WHERE namespace = ? AND deployment = ? AND template_key = ? ORDER BY id",
                (ns, name, key),
            ).fetchall()
            candidates = [
                KnownReplicaSet(
                    name=rs.name,
                    revision=rs.revision,
                    template=rs.template,
                    revision_history=rs.revision_history,
                )
                for rs in map(_replicaset, rows)
            ]
            found = find_matching(template, candidates)
            max_other = self._one(
                "SELECT MAX(revision) FROM replicasets "
                "WHERE namespace = ? AND deployment = ? AND name != ?",
                (ns, name, found.name if found else ""),
            )
            collisions = int(
                self._one(
                    "SELECT count FROM collisions WHERE namespace = ? AND deployment = ?",
                    (ns, name),
                )
                or 0
            )
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
                        _dump(decision.template),
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
        rows = self._conn.execute(
            f"SELECT {_RS_COLUMNS} FROM replicasets WHERE namespace = ? AND deployment = ? "
            "ORDER BY revision, id",
            (deployment.namespace, deployment.name),
        )
        return [_replicaset(row) for row in rows]

    def list_revisions(self, deployment: ObjectRef) -> list[tuple[int, str]]:
        """(revision, change cause) of each ReplicaSet, ascending: `rollout history`'s table.

        Reads two columns only, so a history of 10,000 revisions prints in milliseconds.
        """
        rows = self._conn.execute(
            "SELECT revision, change_cause FROM replicasets WHERE namespace = ? AND deployment = ? "
            "ORDER BY revision, id",
            (deployment.namespace, deployment.name),
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def list_all_replicasets(self, namespace: str | None = None) -> list[ReplicaSetRow]:
        """Every ReplicaSet (of every deployment), by namespace, deployment and revision."""
        where = " WHERE namespace = ?" if namespace is not None else ""
        rows = self._conn.execute(
            f"SELECT {_RS_COLUMNS} FROM replicasets{where} "
            "ORDER BY namespace, deployment, revision, id",
            () if namespace is None else (namespace,),
        )
        return [_replicaset(row) for row in rows]

    def get_replicaset(self, namespace: str, name: str) -> ReplicaSetRow | None:
        row = self._conn.execute(
            f"SELECT {_RS_COLUMNS} FROM replicasets WHERE namespace = ? AND name = ?",
            (namespace, name),
        ).fetchone()
        return None if row is None else _replicaset(row)

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
            params.append(_dump(annotations))
        if status is not None:
            sets.append("status = ?")
            params.append(_dump(status))
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
                        _dump(p.status),
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
            for r in self._conn.execute(sql, params)
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
            for r in self._conn.execute(sql, params)
        ]

    # -- intents ---------------------------------------------------------------------------

    def add_intent(self, ref: ObjectRef, action: str, args: dict[str, Any], *, now: float) -> int:
        """Queue a runtime operation for the daemon; returns its id."""
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO intents (kind, namespace, name, action, args, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (str(ref.kind), ref.namespace, ref.name, action, _dump(args), now),
            )
            assert cursor.lastrowid is not None
            return int(cursor.lastrowid)

    def pending_intents(self) -> list[IntentRow]:
        """Unfinished intents, oldest first."""
        rows = self._conn.execute(
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

    # -- maintenance -----------------------------------------------------------------------

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: "ok" for a sound database."""
        return str(self._one("PRAGMA integrity_check"))
