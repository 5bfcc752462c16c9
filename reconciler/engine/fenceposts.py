"""Fencepost arithmetic: how far a rollout may go above and below ``replicas``.

Pure helpers in the shape of Kubernetes' ``deployment_util.go`` (``ResolveFenceposts``,
``MaxSurge``, ``MaxUnavailable``) and Argo Rollouts'
``approximateWeightedCanaryStableReplicaCounts``.

>>> resolve_fenceposts("25%", "25%", replicas=10)     # surge rounds up, unavailable down
(3, 2)
>>> resolve_fenceposts("0%", "1%", replicas=2)        # both 0 after rounding -> unavailable 1
(0, 1)
>>> resolve_fenceposts(1, 5, replicas=3)              # unavailable is clamped to replicas
(1, 3)
>>> resolve_fenceposts("25%", "25%", replicas=0)      # nothing may be unavailable of nothing
(0, 0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reconciler.engine.state import Strategy
from reconciler.units import scaled_value

DEFAULT_SURGE = "25%"
DEFAULT_UNAVAILABLE = "25%"


def resolve_fenceposts(
    surge: int | str, unavailable: int | str, *, replicas: int
) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts for ``replicas`` desired pods.

    ``2 desired, maxUnavailable 1%, maxSurge 0%`` resolves to (0, 0), which would deadlock, so
    unavailable becomes 1: old -1, new +1, old -1, new +1. ``2 desired, unavailable 25%,
    surge 1%`` gives (1, 0): new +1, old -1, ...
    """
    max_surge = scaled_value(surge, total=replicas, round_up=True)
    max_unavailable = scaled_value(unavailable, total=replicas, round_up=False)
    if max_surge == 0 and max_unavailable == 0:
        max_unavailable = 1
    if replicas == 0:
        return max_surge, 0
    return max_surge, min(max_unavailable, replicas)


def strategy_of(spec: Mapping[str, Any]) -> Strategy:
    return Strategy(spec.get("strategy", {}).get("type", Strategy.ROLLING_UPDATE))


def surge_and_unavailable(
    spec: Mapping[str, Any], *, replicas: int | None = None
) -> tuple[int, int]:
    """The strategy's (maxSurge, maxUnavailable) for ``replicas`` (default ``spec.replicas``).

    Recreate has no surge and may take everything down (Kubernetes: ``MaxUnavailable`` is 0
    for non-rolling strategies, but ``MinAvailable`` is 0 too). BlueGreen restarts pods
    without ever losing capacity: surge 25%, unavailable 0 (then 1 if the surge rounds to 0).
    """
    n = int(spec.get("replicas", 1)) if replicas is None else replicas
    strategy = spec.get("strategy", {})
    kind = strategy_of(spec)
    if kind is Strategy.RECREATE:
        return 0, n
    if kind is Strategy.ROLLING_UPDATE:
        params = strategy.get("rollingUpdate", {})
    elif kind is Strategy.CANARY:
        params = strategy.get("canary", {})
    else:
        params = {"maxSurge": DEFAULT_SURGE, "maxUnavailable": 0}
    return resolve_fenceposts(
        params.get("maxSurge", DEFAULT_SURGE),
        params.get("maxUnavailable", DEFAULT_UNAVAILABLE),
        replicas=n,
    )


def canary_replica_counts(replicas: int, weight: int, *, surge: bool) -> tuple[int, int]:
    """(canary, stable) replica counts that best approximate ``weight`` percent.

    Argo Rollouts' ``approximateWeightedCanaryStableReplicaCounts``: try canary = ceil and floor
    of ``replicas * weight / 100`` with a total of ``replicas`` or (with surge) ``replicas + 1``;
    keep the option closest to the weight, the first one on ties (ceil before floor).

    >>> canary_replica_counts(10, 10, surge=True)
    (1, 9)
    >>> canary_replica_counts(10, 41, surge=True)
    (4, 6)
    >>> canary_replica_counts(5, 20, surge=True)
    (1, 4)
    """
    if replicas <= 0:
        return 0, 0
    if weight <= 0:
        return 0, replicas
    if weight >= 100:
        return replicas, 0
    exact = replicas * weight / 100
    totals = [replicas, replicas + 1] if surge else [replicas]
    options: list[tuple[int, int]] = []
    for total in totals:
        for canary in (math.ceil(exact), math.floor(exact)):
            stable = total - canary
            if stable > replicas or canary > replicas:
                continue
            options.append((canary, stable))
    best: tuple[int, int] | None = None
    best_error = math.inf
    for canary, stable in options:
        if canary == 0 and replicas >= 2:  # 1..99% must have a canary when 2+ pods are possible
            continue
        error = abs(100 * canary / (canary + stable) - weight)
        if error < best_error:
            best, best_error = (canary, stable), error
    if best is None:
        return min(1, replicas), max(replicas - 1, 0)
    return best
