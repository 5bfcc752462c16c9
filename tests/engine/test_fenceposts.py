"""Fencepost arithmetic and canary replica counts, on the reference's worked examples."""

from __future__ import annotations

import pytest

from reconciler.engine.fenceposts import canary_replica_counts, resolve_fenceposts


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        pytest.param("25%", "25%", 10, (3, 2), id="surge rounds up, unavailable down"),
        pytest.param("25%", "25%", 3, (1, 0), id="3 replicas: 3..4 pods"),
        pytest.param("25%", "25%", 4, (1, 1), id="4 replicas: 3..5 pods"),
        pytest.param("0%", "1%", 2, (0, 1), id="both round to 0 -> unavailable 1"),
        pytest.param("1%", "25%", 2, (1, 0), id="2 desired, unavailable 25%, surge 1%"),
        pytest.param(1, 5, 3, (1, 3), id="unavailable clamped to replicas"),
        pytest.param("25%", "25%", 0, (0, 0), id="nothing unavailable at 0 replicas"),
        pytest.param(3, 2, 10, (3, 2), id="absolute values pass through"),
    ],
)
def test_resolve_fenceposts(
    surge: int | str, unavailable: int | str, replicas: int, expected: tuple[int, int]
) -> None:
    """maxSurge/maxUnavailable resolve as Kubernetes' ResolveFenceposts does."""
    assert resolve_fenceposts(surge, unavailable, replicas=replicas) == expected


@pytest.mark.parametrize(
    ("replicas", "weight", "expected"),
    [
        pytest.param(10, 10, (1, 9), id="10 at 10% -> 1/9"),
        pytest.param(10, 41, (4, 6), id="10 at 41% -> 4/6"),
        pytest.param(5, 20, (1, 4), id="5 at 20% -> 1/4"),
        pytest.param(5, 0, (0, 5), id="0% -> no canary"),
        pytest.param(5, 100, (5, 0), id="100% -> all canary"),
        pytest.param(4, 1, (1, 4), id="a tiny weight still gets one canary, surging"),
    ],
)
def test_canary_replica_counts(replicas: int, weight: int, expected: tuple[int, int]) -> None:
    """Canary/stable counts approximate the weight as Argo Rollouts does."""
    assert canary_replica_counts(replicas, weight, surge=True) == expected
