"""The balancer's arithmetic: exact weights, turns within a group, fail-over, ClientIP affinity."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.proxy import BackendGroup, Endpoint
from reconciler.proxy.balancer import Balancer


def endpoints(prefix: str, count: int) -> tuple[Endpoint, ...]:
    return tuple(Endpoint(f"{prefix}-{i}", "127.0.0.1", 10_000 + i) for i in range(count))


def canary_split(stable: int, canary: int, *, affinity: float | None = None) -> Balancer:
    groups = (
        BackendGroup("stable", stable, endpoints("stable", 3)),
        BackendGroup("canary", canary, endpoints("canary", 1)),
    )
    return Balancer(groups, affinity_timeout=affinity)


def groups_picked(balancer: Balancer, count: int) -> list[str]:
    picks = [balancer.pick(now=0.0) for _ in range(count)]
    return [p.group for p in picks if p is not None]


@pytest.mark.parametrize(
    ("stable", "canary", "picks", "expected"),
    [
        pytest.param(80, 20, 1000, 200, id="setWeight 20 over 1000"),
        pytest.param(80, 20, 5000, 1000, id="setWeight 20 over 5000"),
        pytest.param(4, 1, 5, 1, id="one window of 4:1"),
        pytest.param(50, 50, 10, 5, id="half and half"),
        pytest.param(0, 100, 7, 7, id="full promotion"),
        pytest.param(100, 0, 7, 0, id="abort: canary weight 0 gets nothing"),
    ],
)
def test_split_is_exact(stable: int, canary: int, picks: int, expected: int) -> None:
    """The canary gets exactly its share of a run of picks, not a random approximation."""
    counts = Counter(groups_picked(canary_split(stable, canary), picks))
    assert counts["canary"] == expected
    assert counts["stable"] == picks - expected


def test_minority_group_is_spread_evenly() -> None:
    """Smooth WRR: every window of five picks at 80/20 holds exactly one canary pick."""
    sequence = groups_picked(canary_split(80, 20), 100)
    assert sequence[:5] == ["stable", "stable", "canary", "stable", "stable"]
    for start in range(0, 100, 5):
        assert sequence[start : start + 5].count("canary") == 1


@given(weights=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=5))
def test_every_window_of_total_weight_is_exact(weights: list[int]) -> None:
    """Over sum(weights) picks every group with endpoints gets exactly its weight."""
    groups = tuple(BackendGroup(f"g{i}", w, endpoints(f"g{i}", 2)) for i, w in enumerate(weights))
    balancer = Balancer(groups)
    total = sum(weights)
    if total == 0:
        return
    counts = Counter(groups_picked(balancer, total * 2))
    assert counts == Counter({f"g{i}": 2 * w for i, w in enumerate(weights) if w})


def test_endpoints_of_a_group_take_turns() -> None:
    """Within one group connections go round-robin over its endpoints."""
    balancer = Balancer((BackendGroup("web", 1, endpoints("web", 3)),))
    pods = [p.endpoint.pod for _ in range(6) if (p := balancer.pick(now=0.0))]
    assert pods == ["web-0", "web-1", "web-2", "web-0", "web-1", "web-2"]


def test_empty_weighted_group_gives_its_share_to_the_others() -> None:
    """A canary whose pods are not Ready yet takes nothing; stable serves everything."""
    groups = (
        BackendGroup("stable", 80, endpoints("stable", 2)),
        BackendGroup("canary", 20, ()),
    )
    assert set(groups_picked(Balancer(groups), 50)) == {"stable"}


def test_fails_over_to_unweighted_groups_with_endpoints() -> None:
    """If every weighted group is empty, groups at weight 0 with endpoints serve instead."""
    groups = (
        BackendGroup("active", 100, ()),
        BackendGroup("old", 0, endpoints("old", 1)),
        BackendGroup("preview", 0, endpoints("preview", 1)),
    )
    balancer = Balancer(groups)
    assert balancer.has_endpoints()
    assert Counter(groups_picked(balancer, 10)) == {"old": 5, "preview": 5}


def test_no_endpoints_at_all_picks_nothing() -> None:
    """Without any endpoint there is no pick, and the server knows to refuse."""
    balancer = Balancer((BackendGroup("web", 1, ()),))
    assert not balancer.has_endpoints()
    assert balancer.pick(now=0.0) is None
    assert not Balancer().has_endpoints()


def test_retry_excludes_failed_endpoints_and_their_empty_groups() -> None:
    """A retry skips endpoints that already failed; when all failed there is no pick."""
    balancer = canary_split(50, 50)
    dead_canary = endpoints("canary", 1)[0]
    picks = [balancer.pick(now=0.0, exclude=(dead_canary,)) for _ in range(6)]
    assert {p.group for p in picks if p} == {"stable"}
    everything = endpoints("stable", 3) + endpoints("canary", 1)
    assert balancer.pick(now=0.0, exclude=everything) is None


def test_client_keeps_its_endpoint_while_the_entry_is_fresh() -> None:
    """ClientIP affinity: one client, one endpoint, as long as it keeps coming back in time."""
    balancer = canary_split(80, 20, affinity=10.0)
    first = balancer.pick(now=0.0, client="127.0.0.7")
    assert first is not None
    # Every use refreshes the entry, so 9 s gaps never expire it.
    for step in range(1, 20):
        assert balancer.pick(now=9.0 * step, client="127.0.0.7") == first


def test_expired_affinity_is_a_fresh_pick() -> None:
    """Once the entry is older than the timeout since last use, the client is balanced again."""
    balancer = Balancer((BackendGroup("web", 1, endpoints("web", 2)),), affinity_timeout=10.0)
    first = balancer.pick(now=0.0, client="10.0.0.1")
    assert balancer.pick(now=9.9, client="10.0.0.1") == first
    later = balancer.pick(now=20.0, client="10.0.0.1")
    assert later is not None and first is not None
    assert later.endpoint != first.endpoint  # the round-robin turn has moved on


def test_affinity_survives_new_backends_but_not_a_removed_endpoint() -> None:
    """A backend update keeps sticky clients unless their endpoint is gone or gets no traffic."""
    old = canary_split(50, 50, affinity=60.0)
    picks = {c: old.pick(now=0.0, client=c) for c in ("a", "b", "c", "d")}
    on_canary = [c for c, p in picks.items() if p and p.group == "canary"]
    on_stable = [c for c, p in picks.items() if p and p.group == "stable"]
    assert len(on_canary) == 2

    more_stable = (
        BackendGroup("stable", 50, endpoints("stable", 4)),
        BackendGroup("canary", 50, endpoints("canary", 1)),
    )
    updated = Balancer(more_stable, affinity_timeout=60.0, previous=old)
    for client, pick in picks.items():
        assert updated.pick(now=1.0, client=client) == pick

    aborted = (
        BackendGroup("stable", 100, endpoints("stable", 4)),
        BackendGroup("canary", 0, endpoints("canary", 1)),
    )
    after_abort = Balancer(aborted, affinity_timeout=60.0, previous=updated)
    for client in on_canary:
        pick = after_abort.pick(now=2.0, client=client)
        assert pick is not None and pick.group == "stable"
    for client in on_stable:
        assert after_abort.pick(now=2.0, client=client) == picks[client]


def test_without_affinity_the_same_client_is_balanced() -> None:
    """sessionAffinity: None means no stickiness, even for the same address."""
    balancer = Balancer((BackendGroup("web", 1, endpoints("web", 2)),))
    pods = {p.endpoint.pod for _ in range(4) if (p := balancer.pick(now=0.0, client="x"))}
    assert pods == {"web-0", "web-1"}
    assert balancer.sticky_clients() == 0


def test_affinity_table_is_pruned() -> None:
    """Expired entries are dropped, so many one-off clients do not grow the table forever."""
    balancer = Balancer((BackendGroup("web", 1, endpoints("web", 2)),), affinity_timeout=1.0)
    for i in range(10_000):
        balancer.pick(now=float(i), client=f"client-{i}")
    assert balancer.sticky_clients() < 1_000
