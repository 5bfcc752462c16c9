"""Which endpoint takes the next connection: exact weights, round-robin, ClientIP affinity.

A canary at ``setWeight: 20`` must send exactly one connection in five to the canary, not
"about 20% on average": users compare the split they see with the number they wrote. So the
split between backend groups is nginx's *smooth weighted round-robin*, which is exact over every
window of ``sum(weights)`` picks and spreads the minority group evenly inside it; within a group
the endpoints take turns. With ``sessionAffinity: ClientIP`` a client address keeps its endpoint
(and so its version) while the entry is fresher than the timeout and the endpoint still receives
traffic, exactly like kube-proxy's affinity table.

Pure: no clock, no sockets. ``now`` is passed in, so tests replay time by hand. A ``Balancer`` is
built for every ``set_backends`` call and carries the previous one's state (turns, affinity) so a
change of endpoints does not reset who is sticky to what.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from reconciler.proxy import BackendGroup, Endpoint

__all__ = ["Balancer", "Pick"]

# Prune expired affinity entries once the table has grown this much past its last pruned size.
_PRUNE_SLACK = 256


@dataclass(frozen=True, slots=True)
class Pick:
    """The endpoint chosen for one connection, and the group it counts against."""

    group: str
    endpoint: Endpoint


@dataclass(slots=True)
class _Sticky:
    endpoint: Endpoint
    last_used: float


class Balancer:
    """Picks endpoints for connections of one Service port.

    Groups with weight 0 or without endpoints get nothing, and their share goes to the other
    weighted groups. Only when no weighted group has an endpoint left do the remaining groups
    with endpoints take turns (fail-over: a connection that could be served is never dropped).
    """

    def __init__(
        self,
        groups: tuple[BackendGroup, ...] = (),
        *,
        affinity_timeout: float | None = None,
        previous: Balancer | None = None,
    ) -> None:
        self.groups = groups
        self.affinity_timeout = affinity_timeout
        self._group_of: dict[Endpoint, str] = {}
        for group in groups:
            for endpoint in group.endpoints:
                self._group_of.setdefault(endpoint, group.name)
        self._current: dict[str, int] = {}
        self._next: dict[str, int] = {}
        self._sticky: dict[str, _Sticky] = {}
        self._pruned_size = 0
        self._all = self._candidates(())  # the candidates when nothing is excluded
        if previous is not None:
            # The weights' phase only carries over when the weights are the same; otherwise
            # the new split starts from zero, which is exact from its first window on.
            if _weights(previous.groups) == _weights(groups):
                self._current = dict(previous._current)
            self._next = dict(previous._next)
            if affinity_timeout is not None:
                self._sticky = previous._sticky
                self._pruned_size = previous._pruned_size

    def has_endpoints(self) -> bool:
        """Whether any connection could be served at all."""
        return bool(self._group_of)

    def pick(
        self, *, now: float, client: str | None = None, exclude: Collection[Endpoint] = ()
    ) -> Pick | None:
        """The endpoint for a new connection from ``client``, or None if there is none.

        ``exclude`` holds endpoints that already failed for this connection (a retry).
        """
        candidates = self._candidates(exclude) if exclude else self._all
        if not candidates:
            return None
        if self.affinity_timeout is not None and client is not None:
            sticky = self._sticky.get(client)
            if (
                sticky is not None
                and now - sticky.last_used < self.affinity_timeout
                and sticky.endpoint not in exclude
                and any(sticky.endpoint in group.endpoints for group, _ in candidates)
            ):
                sticky.last_used = now
                return Pick(self._group_of[sticky.endpoint], sticky.endpoint)
        group = candidates[0][0] if len(candidates) == 1 else self._next_group(candidates)
        endpoint = self._next_endpoint(group, exclude)
        if self.affinity_timeout is not None and client is not None:
            self._sticky[client] = _Sticky(endpoint, now)
            self._prune(now)
        return Pick(group.name, endpoint)

    def pick_in(self, group: BackendGroup, *, exclude: Collection[Endpoint] = ()) -> Pick | None:
        """The next endpoint of one group (a header route, a version a cookie sticks to)."""
        if not any(e not in exclude for e in group.endpoints):
            return None
        return Pick(group.name, self._next_endpoint(group, exclude))

    def version_group(self, version: str) -> BackendGroup | None:
        """The weighted group serving ``version`` that has endpoints (cookie stickiness: a
        group at weight 0, e.g. an aborted canary, no longer keeps its clients)."""
        for group in self.groups:
            if (
                group.version == version
                and group.weight > 0
                and not group.match
                and group.endpoints
            ):
                return group
        return None

    def serves(self, endpoint: Endpoint) -> bool:
        """Whether ``endpoint`` is in one of the groups."""
        return endpoint in self._group_of

    def endpoints(self) -> set[Endpoint]:
        """Every endpoint of every group (what an idle upstream connection may stay open to)."""
        return set(self._group_of)

    def sticky_clients(self) -> int:
        """Entries in the affinity table (expired ones may linger until the next prune)."""
        return len(self._sticky)

    def _candidates(self, exclude: Collection[Endpoint]) -> list[tuple[BackendGroup, int]]:
        """Groups that may take this connection, with their effective weights."""

        def usable(group: BackendGroup) -> bool:
            return any(e not in exclude for e in group.endpoints)

        # A header route's group (``match``) takes only the requests it matches (``pick_in``).
        weighted = [
            (g, g.weight) for g in self.groups if g.weight > 0 and not g.match and usable(g)
        ]
        if weighted:
            return weighted
        return [(g, 1) for g in self.groups if not g.match and usable(g)]

    def _next_group(self, candidates: list[tuple[BackendGroup, int]]) -> BackendGroup:
        """Smooth weighted round-robin (nginx ``ngx_http_upstream_get_peer``).

        Every candidate's current weight grows by its weight; the largest wins (the first on a
        tie) and pays back the total. Worked example, stable 4 and canary 1 (total 5):

            currents (0, 0) -> +(4, 1) = (4, 1)  stable -> (-1, 1)
                            -> (3, 2)            stable -> (-2, 2)
                            -> (2, 3)            canary -> (2, -2)
                            -> (6, -1)           stable -> (1, -1)
                            -> (5, 0)            stable -> (0, 0)   back where it started

        so every 5 picks are exactly 4 stable and 1 canary, with the canary in the middle.
        """
        total = 0
        best: BackendGroup | None = None
        best_current = 0
        for group, weight in candidates:
            current = self._current.get(group.name, 0) + weight
            self._current[group.name] = current
            total += weight
            if best is None or current > best_current:
                best, best_current = group, current
        assert best is not None
        self._current[best.name] = best_current - total
        return best

    def _next_endpoint(self, group: BackendGroup, exclude: Collection[Endpoint]) -> Endpoint:
        """The group's endpoints take turns, skipping the excluded ones."""
        count = len(group.endpoints)
        start = self._next.get(group.name, 0) % count
        for step in range(count):
            index = (start + step) % count
            endpoint = group.endpoints[index]
            if endpoint not in exclude:
                self._next[group.name] = index + 1
                return endpoint
        raise AssertionError("candidate group without a usable endpoint")

    def _prune(self, now: float) -> None:
        """Drop expired affinity entries, amortised: only after the table has grown."""
        if len(self._sticky) < self._pruned_size + _PRUNE_SLACK:
            return
        assert self.affinity_timeout is not None
        timeout = self.affinity_timeout
        for client in [c for c, s in self._sticky.items() if now - s.last_used >= timeout]:
            del self._sticky[client]
        self._pruned_size = len(self._sticky)


def _weights(groups: tuple[BackendGroup, ...]) -> tuple[tuple[str, int], ...]:
    return tuple((g.name, g.weight) for g in groups)
