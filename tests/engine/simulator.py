"""A tiny deterministic world for the engine: RSs, pods that become Ready after set delays.

One ``tick`` plans, applies the plan and the RS controller (``plan_pods``) at once, then moves
time: pods become Ready ``delay`` seconds after they start and terminating pods vanish at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.engine.dispatch import plan
from reconciler.engine.model import (
    DeletePod,
    DeleteReplicaSet,
    DeploymentView,
    Plan,
    PodView,
    ReplicaSetView,
    ScaleReplicaSet,
)
from reconciler.engine.replicaset import plan_pods


@dataclass
class World:
    spec: dict[str, Any]
    template_hash: str
    now: float = 1_700_000_000.0
    rss: dict[str, ReplicaSetView] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    ready_delays: list[float] = field(default_factory=lambda: [1.0])
    started: int = 0
    revision: int = 0
    history: list[Plan] = field(default_factory=list)

    def ensure_rs(self) -> None:
        if not any(rs.hash == self.template_hash for rs in self.rss.values()):
            self.revision += 1
            name = f"web-{self.template_hash}"
            self.rss[name] = ReplicaSetView(
                name=name,
                hash=self.template_hash,
                revision=self.revision,
                replicas=0,
                created_at=self.now,
            )

    def view(self) -> DeploymentView:
        self.ensure_rs()
        return DeploymentView(
            namespace="default",
            name="web",
            generation=1,
            spec=self.spec,
            template_hash=self.template_hash,
            replica_sets=tuple(self.rss.values()),
            status=self.status,
        )

    def tick(self, dt: float = 0.5) -> Plan:
        p = plan(self.view(), now=self.now)
        self.history.append(p)
        self.status = dict(p.status)
        for action in p.actions:
            if isinstance(action, DeletePod):
                for name, rs in self.rss.items():
                    self.rss[name] = replace(
                        rs, pods=tuple(x for x in rs.pods if x.name != action.name)
                    )
            elif isinstance(action, ScaleReplicaSet):
                rs = self.rss[action.name]
                self.rss[action.name] = replace(
                    rs, replicas=action.replicas, annotations=dict(action.annotations)
                )
            elif isinstance(action, DeleteReplicaSet):
                self.rss.pop(action.name, None)
        for name, rs in list(self.rss.items()):
            pp = plan_pods(rs, now=self.now)
            pods = tuple(x for x in rs.pods if x.name not in pp.delete)
            for _ in range(pp.start):
                self.started += 1
                pods += (
                    PodView(name=f"{name}-{self.started}", created_at=self.now, phase="Running"),
                )
            self.rss[name] = replace(rs, pods=pods)
        self.now += dt
        self._ready_up()
        return p

    def _ready_up(self) -> None:
        for name, rs in list(self.rss.items()):
            pods = []
            for i, pod in enumerate(rs.pods):
                delay = self.ready_delays[(int(pod.created_at * 2) + i) % len(self.ready_delays)]
                if not pod.ready and pod.created_at + delay <= self.now:
                    pod = replace(pod, ready=True, ready_since=self.now)
                pods.append(pod)
            self.rss[name] = replace(rs, pods=tuple(pods))

    def pods_on(self, pod_hash: str) -> int:
        return sum(len(rs.pods) for rs in self.rss.values() if rs.hash == pod_hash)

    def total_pods(self) -> int:
        return sum(len(rs.pods) for rs in self.rss.values())

    def available(self) -> int:
        return sum(1 for rs in self.rss.values() for p in rs.pods if p.ready)
