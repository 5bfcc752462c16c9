"""The store: one SQLite database per state directory, shared by the daemon and the CLI.

Import from here (``from reconciler.store import Store``); the submodules are the schema
(``schema``), the daemon lock (``lock``), the row values (``records``), the Store (``core``, its
tables in ``objects``, ``replicasets`` and ``activity`` over ``base``), what the engine uses of it
(``api.EngineStore``) and the fault-injection seam (``faults``).
"""

from __future__ import annotations

from reconciler.store.api import EngineStore
from reconciler.store.core import Store, template_key
from reconciler.store.faults import FaultFile, WriteFaults
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
    "EngineStore",
    "EventRow",
    "FaultFile",
    "IntentRow",
    "PodRecord",
    "ReplicaSetRow",
    "RevisionResult",
    "Store",
    "WriteFaults",
    "pod_from_dict",
    "pod_to_dict",
    "template_key",
]
