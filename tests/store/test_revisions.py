"""The pure revision rules: hash, template equality, history cap, and the decision."""

from __future__ import annotations

import pytest

from reconciler.revisions import (
    HASH_LABEL,
    KnownReplicaSet,
    RevisionAction,
    append_revision_history,
    decide_revision,
    find_matching,
    fnv1a_32,
    pod_template_hash,
    safe_encode,
    templates_equal,
    with_hash_label,
)
from tests.store.conftest import template


def test_fnv1a_known_vectors() -> None:
    """FNV-1a 32 matches the published test vectors."""
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968


def test_safe_encode_uses_no_vowels() -> None:
    """Each digit maps through Kubernetes' vowel-free alphabet."""
    assert safe_encode("0123456789") == "456789bcdf"
    assert not set(pod_template_hash(template())) & set("aeiou013")


def test_hash_is_stable_and_ignores_the_hash_label() -> None:
    """The same template hashes the same, with or without its own hash label."""
    plain = template("demo:1")
    labelled = with_hash_label(plain, "whatever")
    assert pod_template_hash(plain) == pod_template_hash(labelled)
    assert pod_template_hash(plain) == pod_template_hash(template("demo:1"))
    assert pod_template_hash(plain) != pod_template_hash(template("demo:2"))


def test_hash_ignores_key_order() -> None:
    """Key order of the manifest never changes the hash (canonical JSON)."""
    a = {"spec": {"containers": [{"name": "w", "image": "x"}]}, "metadata": {"labels": {"a": "1"}}}
    b = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"image": "x", "name": "w"}]}}
    assert pod_template_hash(a) == pod_template_hash(b)


def test_collision_count_changes_the_hash() -> None:
    """collisionCount is part of the hash input, so a collision gets a new name."""
    assert pod_template_hash(template(), 1) != pod_template_hash(template(), 0)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        pytest.param(template(), with_hash_label(template(), "abc"), True, id="hash label ignored"),
        pytest.param(template("x"), template("y"), False, id="image differs"),
        pytest.param(
            {"metadata": {"labels": {}}, "spec": {}},
            {"metadata": {}, "spec": {}},
            True,
            id="empty labels equal missing labels",
        ),
        pytest.param(
            {"metadata": {"labels": {HASH_LABEL: "a"}}, "spec": {}},
            {"spec": {}},
            True,
            id="only the hash label equals no labels",
        ),
        pytest.param(template(tier="fe"), template(), False, id="extra label differs"),
    ],
)
def test_templates_equal(a: dict[str, object], b: dict[str, object], equal: bool) -> None:
    """EqualIgnoreHash: semantic equality ignoring pod-template-hash."""
    assert templates_equal(a, b) is equal


def test_revision_history_appends() -> None:
    """An old revision number is appended at the end."""
    assert append_revision_history((), 1) == (1,)
    assert append_revision_history((1, 3), 5) == (1, 3, 5)


def test_revision_history_drops_oldest_past_2000_chars() -> None:
    """The history annotation never passes 2,000 characters; the oldest go first."""
    history: tuple[int, ...] = ()
    for n in range(1000, 2000):
        history = append_revision_history(history, n)
    text = ",".join(map(str, history))
    assert len(text) <= 2000
    assert history[-1] == 1999
    assert history == tuple(range(2000 - len(history), 2000))


def _known(name: str, revision: int, image: str, history: tuple[int, ...] = ()) -> KnownReplicaSet:
    return KnownReplicaSet(
        name=name,
        revision=revision,
        template=with_hash_label(template(image), name.rsplit("-", 1)[-1]),
        revision_history=history,
    )


@pytest.mark.parametrize(
    ("found", "max_other", "action", "revision", "history"),
    [
        pytest.param(None, 0, RevisionAction.CREATED, 1, (), id="first template is revision 1"),
        pytest.param(None, 2, RevisionAction.CREATED, 3, (), id="new template is max old + 1"),
        pytest.param(
            _known("web-a", 1, "a"), 2, RevisionAction.REUSED, 3, (1,), id="rollback bumps old RS"
        ),
        pytest.param(
            _known("web-a", 3, "a", (1,)),
            4,
            RevisionAction.REUSED,
            5,
            (1, 3),
            id="second rollback appends to history",
        ),
        pytest.param(
            _known("web-a", 3, "a"), 2, RevisionAction.UNCHANGED, 3, (), id="newest stays as is"
        ),
        pytest.param(
            _known("web-a", 1, "a"), 0, RevisionAction.UNCHANGED, 1, (), id="only RS unchanged"
        ),
    ],
)
def test_decide_revision(
    found: KnownReplicaSet | None,
    max_other: int,
    action: RevisionAction,
    revision: int,
    history: tuple[int, ...],
) -> None:
    """getNewReplicaSet: create at max+1, reuse and bump an old RS, or leave the newest."""
    wanted = found.template if found else template("new")
    decision = decide_revision("web", wanted, found=found, max_other_revision=max_other)
    assert (decision.action, decision.revision, decision.revision_history) == (
        action,
        revision,
        history,
    )


def test_created_replicaset_is_named_after_the_hash() -> None:
    """A new RS is ``<deployment>-<hash>`` and its template carries the hash label."""
    decision = decide_revision("web", template(), found=None, max_other_revision=0)
    assert decision.name == f"web-{pod_template_hash(template())}"
    assert decision.template["metadata"]["labels"][HASH_LABEL] == decision.hash
    assert decision.template["metadata"]["labels"]["app"] == "web"


def test_hash_collision_bumps_the_collision_count() -> None:
    """A name taken by a different template rehashes with collisionCount + 1."""
    taken = {f"web-{pod_template_hash(template(), 0)}"}
    decision = decide_revision(
        "web", template(), found=None, max_other_revision=1, name_taken=taken.__contains__
    )
    assert decision.collision_count == 1
    assert decision.name == f"web-{pod_template_hash(template(), 1)}"


def test_find_matching_takes_the_oldest() -> None:
    """With two equal templates (possible after a collision), the oldest RS wins."""
    first, second = _known("web-a", 2, "a"), _known("web-b", 5, "a")
    assert find_matching(template("a"), [first, second]) is first
    assert find_matching(template("zzz"), [first, second]) is None


def test_docstring_examples() -> None:
    """The worked examples in reconciler.revisions' docstrings hold."""
    import doctest

    import reconciler.revisions

    assert doctest.testmod(reconciler.revisions).failed == 0
