"""The Store's tables: objects and generations, statuses, pods, events, intents, commands."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from reconciler.errors import NotFoundError, StateDirError
from reconciler.objects import Kind, ObjectRef
from reconciler.runtime import ContainerState, ContainerStatus, PodPhase, PodStatus
from reconciler.store import (
    SCHEMA_VERSION,
    PodRecord,
    Store,
    pod_from_dict,
    pod_to_dict,
)
from reconciler.store.activity import EVENTS_PER_OBJECT, EVENTS_TOTAL
from tests.store.conftest import WEB, deployment

SVC = ObjectRef(Kind.SERVICE, "default", "web")


def _put(store: Store, manifest: dict[str, object], *, now: float = 1.0) -> int:
    obj = store.put_object(
        ref=WEB, manifest=manifest, spec=manifest, source="web.yaml", line=1, digest="d", now=now
    )
    return obj.generation


def test_database_is_private_and_versioned(store: Store, state_dir: Path) -> None:
    """state.db is 0600, in WAL mode, at the current schema version."""
    db = state_dir / "state.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_reopening_keeps_data_and_version(state_dir: Path) -> None:
    """Opening an existing database migrates nothing and loses nothing."""
    with Store.open(state_dir) as store:
        store.set_meta("manifests_dir", "/srv/manifests")
    with Store.open(state_dir) as store:
        assert store.get_meta("manifests_dir") == "/srv/manifests"
        assert store.get_meta("missing") is None


def test_newer_schema_is_refused(state_dir: Path) -> None:
    """A database from a newer reconciler is not touched."""
    Store.open(state_dir).close()
    with sqlite3.connect(state_dir / "state.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(StateDirError, match="newer than this reconciler"):
        Store.open(state_dir)


def test_generation_bumps_only_when_spec_changes(store: Store) -> None:
    """metadata.generation starts at 1 and moves with the spec section, not metadata."""
    assert _put(store, deployment()) == 1
    labelled = deployment()
    labelled["metadata"]["labels"] = {"team": "x"}  # type: ignore[index]
    assert _put(store, labelled, now=2.0) == 1
    assert _put(store, deployment(replicas=3), now=3.0) == 2
    obj = store.get_object(WEB)
    assert obj is not None
    assert (obj.created_at, obj.updated_at, obj.status) == (1.0, 3.0, {})


def test_status_is_stored_and_deleted_with_its_object(store: Store) -> None:
    """set_status shows up in the object; delete_object removes both."""
    _put(store, deployment())
    store.set_status(WEB, {"readyReplicas": 1})
    obj = store.get_object(WEB)
    assert obj is not None and obj.status == {"readyReplicas": 1}
    store.delete_object(WEB)
    assert store.get_object(WEB) is None
    _put(store, deployment())
    obj = store.get_object(WEB)
    assert obj is not None and obj.status == {}


def test_status_of_an_unknown_object_is_ignored(store: Store) -> None:
    """Status for an object that is not applied writes nothing (no orphan status)."""
    store.set_status(SVC, {"x": 1})
    assert store.get_object(SVC) is None


def test_list_objects_filters_by_kind_and_namespace(store: Store) -> None:
    """list_objects filters and orders by kind, namespace, name."""
    staging = ObjectRef(Kind.DEPLOYMENT, "staging", "web")
    for ref in (SVC, staging, WEB):
        store.put_object(ref=ref, manifest={}, spec={}, source="f", line=1, digest="d", now=1.0)
    assert [o.ref for o in store.list_objects()] == [WEB, staging, SVC]
    assert [o.ref for o in store.list_objects(Kind.DEPLOYMENT, "staging")] == [staging]
    assert [o.ref for o in store.list_objects(Kind.SERVICE)] == [SVC]


def test_transaction_is_atomic(store: Store) -> None:
    """An exception inside transaction() undoes every write in it."""
    with pytest.raises(RuntimeError), store.transaction():
        store.set_meta("a", "1")
        _put(store, deployment())
        raise RuntimeError("boom")
    assert store.get_meta("a") is None
    assert store.get_object(WEB) is None


def test_nested_transaction_failure_undoes_only_itself(store: Store) -> None:
    """A failing inner block is a savepoint: the outer block's writes still commit."""
    with store.transaction():
        store.set_meta("outer", "1")
        with pytest.raises(RuntimeError), store.transaction():
            store.set_meta("inner", "1")
            raise RuntimeError("boom")
    assert store.get_meta("outer") == "1"
    assert store.get_meta("inner") is None


def test_readers_see_committed_state_only(store: Store, state_dir: Path) -> None:
    """A second connection (the CLI) never sees a transaction that has not committed."""
    with Store.open(state_dir) as reader:
        with store.transaction():
            store.set_meta("k", "v")
            assert reader.get_meta("k") is None
        assert reader.get_meta("k") == "v"


def _pod(name: str, *, owner: str = "web-abc") -> PodStatus:
    return PodStatus(
        name=name,
        namespace="default",
        owner=owner,
        labels={"app": "web"},
        phase=PodPhase.RUNNING,
        created_at=5.0,
        containers=(
            ContainerStatus(
                name="web",
                image="demo:1",
                state=ContainerState.RUNNING,
                ready=True,
                restart_count=2,
                started_at=6.0,
            ),
        ),
        ready=True,
        ready_since=7.0,
        ports={"8080": 40001, "http": 40001},
    )


def test_pod_status_round_trips() -> None:
    """pod_from_dict(pod_to_dict(p)) == p, through JSON types only."""
    pod = _pod("web-abc-x1y2z")
    data = pod_to_dict(pod)
    assert data["phase"] == "Running" and data["containers"][0]["state"] == "Running"
    assert pod_from_dict(data) == pod


def test_replace_pods_is_the_whole_set(store: Store) -> None:
    """replace_pods replaces every pod; list_pods filters by namespace and owner."""
    first = [_pod("a"), _pod("b", owner="web-def")]
    store.replace_pods(
        [PodRecord(p.name, p.namespace, p.owner, "web", pod_to_dict(p), 5.0, 6.0) for p in first]
    )
    assert [p.name for p in store.list_pods()] == ["a", "b"]
    assert [p.name for p in store.list_pods(owner="web-def")] == ["b"]
    assert store.list_pods(namespace="other") == []
    only = _pod("c")
    store.replace_pods([PodRecord("c", "default", "web-abc", "web", pod_to_dict(only), 1, 2)])
    records = store.list_pods()
    assert [p.name for p in records] == ["c"]
    assert pod_from_dict(records[0].status) == only


def test_same_event_counts_up(store: Store) -> None:
    """The same (object, type, reason, message) again bumps count and last_seen."""
    for now in (1.0, 2.0, 3.0):
        store.add_event(WEB, type="Normal", reason="ScalingReplicaSet", message="up", now=now)
    store.add_event(WEB, type="Warning", reason="Failed", message="x", now=4.0)
    events = store.list_events(WEB)
    assert [(e.reason, e.count, e.first_seen, e.last_seen) for e in events] == [
        ("ScalingReplicaSet", 3, 1.0, 3.0),
        ("Failed", 1, 4.0, 4.0),
    ]
    assert events[0].source == "deployment-controller"
    assert store.list_events(SVC) == []
    assert len(store.list_events(namespace="default")) == 2


def test_events_per_object_are_capped(store: Store) -> None:
    """At most 200 events per object: the oldest are dropped."""
    for n in range(EVENTS_PER_OBJECT + 25):
        store.add_event(WEB, type="Normal", reason="R", message=f"m{n}", now=float(n))
    events = store.list_events(WEB)
    assert len(events) == EVENTS_PER_OBJECT
    assert events[0].message == "m25"


def test_events_in_all_are_capped(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """At most EVENTS_TOTAL events in all (shown with a small cap): oldest dropped."""
    monkeypatch.setattr("reconciler.store.activity.EVENTS_TOTAL", 30)
    assert EVENTS_TOTAL == 20_000
    for n in range(40):
        ref = ObjectRef(Kind.POD, "default", f"p{n % 7}")
        store.add_event(ref, type="Normal", reason="R", message=f"m{n}", now=float(n))
    events = store.list_events()
    assert len(events) == 30
    assert events[0].message == "m10"


def test_intents_queue_and_finish(store: Store) -> None:
    """Intents come back oldest first until finished."""
    first = store.add_intent(WEB, "promote", {"full": True}, now=1.0)
    second = store.add_intent(WEB, "restart", {}, now=2.0)
    pending = store.pending_intents()
    assert [(i.id, i.action, i.args) for i in pending] == [
        (first, "promote", {"full": True}),
        (second, "restart", {}),
    ]
    store.finish_intent(first, result="promoted", now=3.0)
    assert [i.id for i in store.pending_intents()] == [second]
    assert store.intent_result(first) == "promoted"


def test_commands_are_remembered_by_file_content(store: Store) -> None:
    """note_command/command_for key on (source, sha256 of the written bytes)."""
    store.note_command(source="/m/web.yaml", file_sha256="aa", command="reconciler scale", now=1)
    assert store.command_for(source="/m/web.yaml", file_sha256="aa") == "reconciler scale"
    assert store.command_for(source="/m/web.yaml", file_sha256="bb") is None


def test_set_replicaset_of_unknown_name_fails(store: Store) -> None:
    """Writing to a ReplicaSet that does not exist is an error, not a silent no-op."""
    with pytest.raises(NotFoundError):
        store.set_replicaset("default", "nope", replicas=1)


def test_commands_keep_only_the_newest(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Old command notes are dropped past the retention count."""
    monkeypatch.setattr("reconciler.store.activity.COMMANDS_KEPT", 3)
    for n in range(6):
        store.note_command(source="f", file_sha256=str(n), command=f"c{n}", now=float(n))
    assert [store.command_for(source="f", file_sha256=str(n)) for n in range(6)] == [
        None,
        None,
        None,
        "c3",
        "c4",
        "c5",
    ]
