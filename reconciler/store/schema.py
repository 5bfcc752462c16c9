"""The SQLite schema, its migrations, and how a connection is opened.

Why these pragmas: WAL lets the CLI read while the daemon writes (readers never block the
writer); ``synchronous=FULL`` makes every commit durable (the WAL is fsynced at commit), so a
recorded revision survives a power cut, not just a crash; ``busy_timeout`` lets a CLI write (an
intent) wait for the daemon's short transaction instead of failing. The schema version lives in
``PRAGMA user_version``; each migration runs in its own transaction with the version bump, so a
crash mid-migration leaves the previous version intact.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from reconciler.errors import StateDirError

DB_NAME = "state.db"
BUSY_TIMEOUT_MS = 10_000

# Append only: never edit a migration that has shipped; add the next one.
MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE objects (
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        manifest TEXT NOT NULL,          -- JSON, as written
        spec TEXT NOT NULL,              -- JSON, defaulted
        source TEXT NOT NULL,
        line INTEGER NOT NULL,
        digest TEXT NOT NULL,
        generation INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (kind, namespace, name)
    ) WITHOUT ROWID;

    CREATE TABLE statuses (
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,            -- JSON
        PRIMARY KEY (kind, namespace, name),
        FOREIGN KEY (kind, namespace, name) REFERENCES objects (kind, namespace, name)
            ON DELETE CASCADE
    ) WITHOUT ROWID;

    CREATE TABLE replicasets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,   -- creation order: "oldest" ReplicaSet first
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        deployment TEXT NOT NULL,
        hash TEXT NOT NULL,
        revision INTEGER NOT NULL,
        revision_history TEXT NOT NULL DEFAULT '',   -- "1,4" like the annotation
        template TEXT NOT NULL,                       -- JSON, with the hash label
        template_key TEXT NOT NULL,                   -- sha256 of the canonical template
        change_cause TEXT NOT NULL DEFAULT '',
        replicas INTEGER NOT NULL DEFAULT 0,
        annotations TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        UNIQUE (namespace, name)
    );
    CREATE INDEX replicasets_by_revision ON replicasets (namespace, deployment, revision);
    CREATE INDEX replicasets_by_template ON replicasets (namespace, deployment, template_key);

    CREATE TABLE collisions (
        namespace TEXT NOT NULL,
        deployment TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (namespace, deployment)
    ) WITHOUT ROWID;

    CREATE TABLE pods (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        owner TEXT NOT NULL,
        deployment TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (namespace, name)
    ) WITHOUT ROWID;
    CREATE INDEX pods_by_owner ON pods (namespace, owner);

    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        reason TEXT NOT NULL,
        message TEXT NOT NULL,
        count INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        source TEXT NOT NULL
    );
    CREATE UNIQUE INDEX events_same ON events (kind, namespace, name, type, reason, message);
    CREATE INDEX events_by_age ON events (last_seen, id);
    CREATE INDEX events_by_object ON events (kind, namespace, name, last_seen, id);

    CREATE TABLE intents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        action TEXT NOT NULL,
        args TEXT NOT NULL,
        created_at REAL NOT NULL,
        finished_at REAL,
        result TEXT
    );
    CREATE INDEX intents_pending ON intents (finished_at, id);

    CREATE TABLE commands (
        source TEXT NOT NULL,
        file_sha256 TEXT NOT NULL,
        command TEXT NOT NULL,
        noted_at REAL NOT NULL,
        PRIMARY KEY (source, file_sha256)
    ) WITHOUT ROWID;
    CREATE INDEX commands_by_age ON commands (noted_at);
    """,
    # 2: request measurements per Service and revision, one row per sample period (#20)
    """
    CREATE TABLE traffic (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        namespace TEXT NOT NULL,
        service TEXT NOT NULL,
        revision TEXT NOT NULL,          -- pod-template-hash
        requests INTEGER NOT NULL,
        responses TEXT NOT NULL,         -- JSON [1xx, 2xx, 3xx, 4xx, 5xx]
        latency TEXT NOT NULL,           -- JSON cumulative counts per LATENCY_BOUNDS, then +Inf
        latency_sum REAL NOT NULL,
        failed INTEGER NOT NULL,
        in_flight INTEGER NOT NULL
    );
    CREATE INDEX traffic_by_revision ON traffic (namespace, revision, at);
    CREATE INDEX traffic_by_age ON traffic (at);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def _touch_private(path: Path) -> None:
    """Create ``path`` 0600 if missing, and make it 0600 if it is not.

    An existing database is never opened here: closing any descriptor of a file drops every
    POSIX lock this process holds on it, including those of a connection already open in the
    process (the daemon's, when its web server opens a reader). Another process then believes
    it is the last connection, checkpoints and removes the WAL, and the daemon's later writes
    go to a WAL nobody else reads.
    """
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


def connect(db_path: Path) -> sqlite3.Connection:
    """Open (creating 0600 if needed) and migrate the database; autocommit mode."""
    try:
        _touch_private(db_path)
        conn = sqlite3.connect(
            db_path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except (OSError, sqlite3.Error) as exc:
        raise StateDirError(f"error: cannot open state database {db_path}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
        for suffix in ("-wal", "-shm"):
            side = db_path.with_name(db_path.name + suffix)
            if side.exists() and side.stat().st_mode & 0o077:
                os.chmod(side, 0o600)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StateDirError(f"error: state database {db_path} is unusable: {exc}") from exc
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version. Refuses a newer database."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StateDirError(
            f"error: the state database has schema version {version}, newer than this "
            f"reconciler understands ({SCHEMA_VERSION}); upgrade reconciler"
        )
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-read under the write lock: another process may have migrated meanwhile
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version < SCHEMA_VERSION:
                for statement in _statements(MIGRATIONS[version]):
                    conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return version


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if statement:
                out.append(statement)
            buffer = ""
    return out
