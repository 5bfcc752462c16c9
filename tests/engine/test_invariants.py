"""Hypothesis invariants of RollingUpdate over random templates, scales and readiness delays."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.engine.dispatch import plan
from reconciler.engine.fenceposts import resolve_fenceposts
from tests.engine.builders import spec
from tests.engine.simulator import World

fencepost = st.one_of(st.integers(0, 3), st.sampled_from(["0%", "25%", "50%", "100%"]))


@settings(max_examples=60, deadline=None)
@given(
    replicas=st.integers(1, 6),
    surge=fencepost,
    unavailable=fencepost,
    delays=st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.5]), min_size=1, max_size=4),
    events=st.lists(
        st.tuples(st.sampled_from(["template", "scale", "wait"]), st.integers(1, 6)), max_size=4
    ),
)
def test_rolling_update_stays_within_bounds_and_converges(
    replicas: int,
    surge: int | str,
    unavailable: int | str,
    delays: list[float],
    events: list[tuple[str, int]],
) -> None:
    """Never below replicas - maxUnavailable available nor above replicas + maxSurge pods
    (between scaling events), always converges to the latest template, and re-planning the
    same state gives the same plan."""
    if surge in (0, "0%") and unavailable in (0, "0%"):
        unavailable = 1  # validation rejects an explicit 0/0
    strategy = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }
    world = World(spec=spec(replicas, strategy), template_hash="h0", ready_delays=delays)
    for _ in range(60):  # the first rollout settles
        world.tick()
    for n, (kind, value) in enumerate(events):
        if kind == "template":
            world.template_hash = f"h{n + 1}"
        elif kind == "scale":
            world.spec = spec(value, strategy)
        checking = kind != "scale"
        n_replicas = int(world.spec["replicas"])
        max_surge, max_unavailable = resolve_fenceposts(surge, unavailable, replicas=n_replicas)
        for _ in range(value * 4):
            before = world.view()
            p = world.tick()
            again = plan(before, now=world.now - 0.5)
            assert again == p
            if checking:
                assert world.total_pods() <= n_replicas + max_surge
                assert world.available() >= n_replicas - max_unavailable
    for _ in range(200):
        world.tick()
    n_replicas = int(world.spec["replicas"])
    assert world.pods_on(world.template_hash) == n_replicas
    assert world.total_pods() == n_replicas
    assert world.status["rollout"]["phase"] == "Healthy"
