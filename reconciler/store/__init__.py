"""The store: one SQLite database per state directory, shared by the daemon and the CLI.

Import from here (``from reconciler.store import Store``); the submodules are the schema
(``schema``), the daemon lock (``lock``), the row values (``records``) and the Store (``core``).
"""

from __future__ import annotations

from reconciler.store.core import Store, template_key
from reconciler.store.records import (
    AppliedObject,
    EventRow,
    IntentRow,
    PodRecord,
    ReplicaSetRow,
    RevisionResult,
    pod_from_dict,
    pod_to_dict,
)
from reconciler.store.schema import DB_NAME, SCHEMA_VERSION

__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "AppliedObject",
    "EventRow",
    "IntentRow",
    "PodRecord",
    "ReplicaSetRow",
    "RevisionResult",
    "Store",
    "pod_from_dict",
    "pod_to_dict",
    "template_key",
]
