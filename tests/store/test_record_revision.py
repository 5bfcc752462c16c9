"""Store.record_revision: every rule of semantics §1.6 as a named case, plus invariants."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.defaults import default_deployment
from reconciler.objects import Kind, ObjectRef
from reconciler.revisions import HASH_LABEL, pod_template_hash
from reconciler.store import Store
from tests.store.conftest import WEB, deployment, template

NOW = 1_700_000_000.0


def _history(store: Store, ref: ObjectRef = WEB) -> list[tuple[int, str]]:
    return [(rs.revision, rs.change_cause) for rs in store.list_replicasets(ref)]


def test_first_template_creates_revision_1(store: Store) -> None:
    """The first template makes `<deploy>-<hash>` at revision 1 with 0 replicas."""
    result = store.record_revision(WEB, template("a"), change_cause="first", now=NOW)
    rs = result.replicaset
    assert result.action == "created"
    assert rs.name == f"web-{pod_template_hash(template('a'))}"
    assert (rs.revision, rs.replicas, rs.change_cause, rs.revision_history) == (1, 0, "first", ())
    assert rs.template["metadata"]["labels"] == {"app": "web", HASH_LABEL: rs.hash}
    assert rs.deployment == "web" and rs.namespace == "default" and rs.created_at == NOW


def test_new_template_is_max_plus_one(store: Store) -> None:
    """Each new template gets the highest old revision + 1."""
    for n, image in enumerate("abc", start=1):
        result = store.record_revision(WEB, template(image), change_cause=image, now=NOW + n)
        assert (result.action, result.replicaset.revision) == ("created", n)
    assert _history(store) == [(1, "a"), (2, "b"), (3, "c")]


def test_back_to_old_template_reuses_and_bumps(store: Store) -> None:
    """rev1 A -> rev2 B -> A: RS(A) becomes revision 3 with history "1"; history shows 2, 3."""
    first = store.record_revision(WEB, template("a"), change_cause="A", now=NOW)
    store.record_revision(WEB, template("b"), change_cause="B", now=NOW + 1)
    again = store.record_revision(WEB, template("a"), change_cause="back to A", now=NOW + 2)
    assert again.action == "reused"
    assert again.replicaset.name == first.replicaset.name
    assert again.replicaset.revision == 3
    assert again.replicaset.revision_history == (1,)
    assert _history(store) == [(2, "B"), (3, "back to A")]


def test_repeated_rollbacks_accumulate_history(store: Store) -> None:
    """A, B, A, B, A: RS(A) serves 1, 3 and then 5; RS(B) 2 then 4."""
    for n, image in enumerate("ababa"):
        store.record_revision(WEB, template(image), change_cause=image, now=NOW + n)
    rows = {rs.template["spec"]["containers"][0]["image"]: rs for rs in store.list_replicasets(WEB)}
    assert (rows["a"].revision, rows["a"].revision_history) == (5, (1, 3))
    assert (rows["b"].revision, rows["b"].revision_history) == (4, (2,))


def test_same_template_again_is_unchanged(store: Store) -> None:
    """Recording the newest template again changes nothing, not even the change cause."""
    store.record_revision(WEB, template("a"), change_cause="first", now=NOW)
    result = store.record_revision(WEB, template("a"), change_cause="scaled to 5", now=NOW + 1)
    assert result.action == "unchanged"
    assert _history(store) == [(1, "first")]


def test_hash_label_in_the_input_is_ignored(store: Store) -> None:
    """A template that already carries a pod-template-hash label matches its RS."""
    created = store.record_revision(WEB, template("a"), change_cause="", now=NOW).replicaset
    result = store.record_revision(WEB, created.template, change_cause="", now=NOW + 1)
    assert result.action == "unchanged"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"replicas": 7}, id="scaling"),
        pytest.param({"strategy": {"type": "Recreate"}}, id="strategy"),
        pytest.param({"minReadySeconds": 10}, id="minReadySeconds"),
        pytest.param({"paused": True}, id="paused"),
        pytest.param({"revisionHistoryLimit": 3}, id="revisionHistoryLimit"),
        pytest.param({"progressDeadlineSeconds": 30}, id="progressDeadlineSeconds"),
    ],
)
def test_spec_changes_outside_the_template_make_no_revision(
    store: Store, change: dict[str, object]
) -> None:
    """Only spec.template makes a revision: scaling, strategy, minReadySeconds, paused do not."""
    before = default_deployment(deployment())
    after = default_deployment(deployment(**change))
    store.record_revision(WEB, before["spec"]["template"], change_cause="", now=NOW)
    result = store.record_revision(WEB, after["spec"]["template"], change_cause="", now=NOW + 1)
    assert result.action == "unchanged"
    assert len(store.list_replicasets(WEB)) == 1


def test_deployments_have_separate_histories(store: Store) -> None:
    """Two deployments with the same template each get their own RS and revision 1."""
    api = ObjectRef(Kind.DEPLOYMENT, "default", "api")
    other_ns = ObjectRef(Kind.DEPLOYMENT, "staging", "web")
    for ref in (WEB, api, other_ns):
        result = store.record_revision(ref, template("a"), change_cause="", now=NOW)
        assert (result.action, result.replicaset.revision) == ("created", 1)
    assert store.list_replicasets(api)[0].name.startswith("api-")
    assert store.get_replicaset("staging", store.list_replicasets(other_ns)[0].name) is not None


def test_hash_collision_with_a_foreign_replicaset(store: Store) -> None:
    """A name held by a different template: collisionCount + 1 and a new name."""
    name = f"web-{pod_template_hash(template('a'))}"
    # a ReplicaSet of another template squatting on A's name (as a collision would)
    store.record_revision(WEB, template("b"), change_cause="", now=NOW)
    with store.transaction():
        store._conn.execute("UPDATE replicasets SET name = ? WHERE namespace = 'default'", (name,))
    result = store.record_revision(WEB, template("a"), change_cause="", now=NOW + 1)
    assert result.action == "created"
    assert result.replicaset.name == f"web-{pod_template_hash(template('a'), 1)}"
    assert store.collision_count(WEB) == 1
    assert result.replicaset.revision == 2


def test_deleted_replicasets_free_their_revision(store: Store) -> None:
    """After history clean-up deletes old RSs, numbering continues from the survivors' max."""
    for n, image in enumerate("abc"):
        store.record_revision(WEB, template(image), change_cause="", now=NOW + n)
    for rs in store.list_replicasets(WEB)[:2]:
        store.delete_replicaset(rs.namespace, rs.name)
    result = store.record_revision(WEB, template("a"), change_cause="", now=NOW + 9)
    assert (result.action, result.replicaset.revision) == ("created", 4)


def test_set_replicaset_updates_spec_annotations_and_status(store: Store) -> None:
    """set_replicaset writes replicas, annotations and status of one RS."""
    rs = store.record_revision(WEB, template("a"), change_cause="", now=NOW).replicaset
    store.set_replicaset(
        "default",
        rs.name,
        replicas=3,
        annotations={"deployment.kubernetes.io/desired-replicas": "3"},
        status={"readyReplicas": 2},
    )
    row = store.get_replicaset("default", rs.name)
    assert row is not None
    assert (row.replicas, row.annotations, row.status) == (
        3,
        {"deployment.kubernetes.io/desired-replicas": "3"},
        {"readyReplicas": 2},
    )
    store.set_replicaset("default", rs.name, replicas=1)
    row = store.get_replicaset("default", rs.name)
    assert row is not None and row.replicas == 1 and row.status == {"readyReplicas": 2}


def test_list_all_replicasets(store: Store) -> None:
    """Every RS of every deployment, for the daemon's orphan sweep."""
    api = ObjectRef(Kind.DEPLOYMENT, "default", "api")
    store.record_revision(WEB, template("a"), change_cause="", now=NOW)
    store.record_revision(api, template("a"), change_cause="", now=NOW)
    assert [rs.deployment for rs in store.list_all_replicasets()] == ["api", "web"]
    assert store.list_all_replicasets("other") == []


# -- invariants ----------------------------------------------------------------------------

IMAGES = st.sampled_from(["a", "b", "c", "d"])
SPEC_CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "replicas": st.integers(0, 20),
        "minReadySeconds": st.integers(0, 30),
        "paused": st.booleans(),
        "strategy": st.sampled_from([{"type": "Recreate"}, {"type": "RollingUpdate"}]),
    },
)


@settings(max_examples=40, deadline=None)
@given(image=IMAGES, changes=st.lists(SPEC_CHANGES, min_size=1, max_size=6))
def test_property_scaling_never_makes_a_revision(
    image: str, changes: list[dict[str, object]]
) -> None:
    """Any run of non-template edits to a deployment keeps exactly one revision."""
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp)) as store:
        first = default_deployment(deployment(image=image))["spec"]["template"]
        store.record_revision(WEB, first, change_cause="", now=NOW)
        for n, change in enumerate(changes, start=1):
            tmpl = default_deployment(deployment(image=image, **change))["spec"]["template"]
            result = store.record_revision(WEB, tmpl, change_cause="", now=NOW + n)
            assert result.action == "unchanged"
        assert [rs.revision for rs in store.list_replicasets(WEB)] == [1]


@settings(max_examples=40, deadline=None)
@given(images=st.lists(IMAGES, min_size=1, max_size=10))
def test_property_a_template_maps_to_one_replicaset(images: list[str]) -> None:
    """Whatever the sequence, each template has one RS and the latest one is the newest revision."""
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp)) as store:
        names: dict[str, str] = {}
        for n, image in enumerate(images):
            rs = store.record_revision(WEB, template(image), change_cause="", now=NOW + n)
            assert names.setdefault(image, rs.replicaset.name) == rs.replicaset.name
            rows = store.list_replicasets(WEB)
            assert max(r.revision for r in rows) == rs.replicaset.revision
        rows = store.list_replicasets(WEB)
        assert len(rows) == len(set(images))
        assert len({r.revision for r in rows}) == len(rows)
        # every revision number ever handed out is either current or in some RS's history
        seen = {r.revision for r in rows} | {h for r in rows for h in r.revision_history}
        changes = sum(1 for i, img in enumerate(images) if i == 0 or img != images[i - 1])
        assert seen == set(range(1, changes + 1))


def test_list_revisions_is_the_history_table(store: Store) -> None:
    """list_revisions gives (revision, change cause) ascending, as `rollout history` shows."""
    for n, image in enumerate("aba"):
        store.record_revision(WEB, template(image), change_cause=f"c{n}", now=NOW + n)
    assert store.list_revisions(WEB) == [(2, "c1"), (3, "c2")]
