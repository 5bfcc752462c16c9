"""One consistent read of everything ``/metrics`` shows, as raw rows a cache can compare.

A scrape must never serve figures older than what the store held when it began, yet must not
parse and render 300 deployments x 2 pods every 15 s. Whatever a cache keys on has to be the
store's own word on what changed: a hook of the daemon's (a pass) misses every write made
outside one (a status marked invalid, a ReplicaSet's counts, the pods flushed later), and a
write committed before the hook runs is served stale until it does.

So a scan reads, in one read transaction (WAL: the daemon's writes go on meanwhile), the raw
rows of the Deployments and Services with their statuses, the ReplicaSets and the pods, plus
SQLite's ``data_version`` (it changes whenever another connection commits). The caller
compares a deployment's rows with the ones it rendered last and parses only what differs;
comparing strings costs microseconds, JSON and rendering milliseconds. A pod row leaves out
``updated_at`` (the time of the flush, rewritten on every one): nothing shown depends on it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.objects import Kind
from reconciler.store.records import PodRecord

__all__ = ["StateScan", "change_mark", "pod_of", "scan_state"]

Row = tuple[Any, ...]

_OBJECTS = (
    "SELECT o.kind, o.namespace, o.name, o.manifest, o.spec, o.source, o.line, o.digest, "
    "o.generation, o.created_at, o.updated_at, s.status FROM objects o "
    "LEFT JOIN statuses s ON s.kind = o.kind AND s.namespace = o.namespace AND s.name = o.name "
    "WHERE o.kind = ? ORDER BY o.namespace, o.name"
)
_REPLICASETS = (
    "SELECT name, namespace, deployment, hash, revision, revision_history, template, "
    "change_cause, replicas, annotations, status, created_at FROM replicasets "
    "ORDER BY namespace, deployment, revision, id"
)
_PODS = (
    "SELECT name, namespace, owner, deployment, status, created_at FROM pods "
    "ORDER BY namespace, name"
)


@dataclass(frozen=True, slots=True)
class StateScan:
    """Raw rows, in the column order of the Store's own reads (``Store.parse_object`` parses an
    object row, ``Store.parse_replicaset`` a ReplicaSet row, ``pod_of`` a pod row)."""

    mark: tuple[int, int]  # change_mark(), read before the rows
    deployments: Sequence[Row]
    services: Sequence[Row]
    replicasets: Sequence[Row]
    pods: Sequence[Row]


def change_mark(conn: sqlite3.Connection) -> tuple[int, int]:
    """Differs from the last one read whenever anything was committed since: by another
    connection (``PRAGMA data_version``) or by this one (``total_changes``)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0]), conn.total_changes


def scan_state(conn: sqlite3.Connection) -> StateScan:
    """The rows of one committed state (the caller holds the connection's mutex)."""
    mark = change_mark(conn)
    in_transaction = conn.in_transaction
    if not in_transaction:
        conn.execute("BEGIN DEFERRED")
    try:
        return StateScan(
            mark=mark,
            deployments=conn.execute(_OBJECTS, (str(Kind.DEPLOYMENT),)).fetchall(),
            services=conn.execute(_OBJECTS, (str(Kind.SERVICE),)).fetchall(),
            replicasets=conn.execute(_REPLICASETS).fetchall(),
            pods=conn.execute(_PODS).fetchall(),
        )
    finally:
        if not in_transaction:
            conn.execute("COMMIT")


def pod_of(row: Row) -> PodRecord:
    """A pod row of a scan (no ``updated_at``: 0)."""
    return PodRecord(
        name=row[0],
        namespace=row[1],
        owner=row[2],
        deployment=row[3],
        status=json.loads(row[4]),
        created_at=float(row[5]),
        updated_at=0.0,
    )
