"""Builders for engine inputs: a defaulted Deployment spec and RSs full of pods."""

from __future__ import annotations

from typing import Any

from reconciler.defaults import default_deployment
from reconciler.engine.model import (
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    PodView,
    ReplicaSetView,
)

T0 = 1_700_000_000.0


def spec(replicas: int = 3, strategy: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A defaulted Deployment spec (``spec`` section)."""
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
            **({"strategy": strategy} if strategy else {}),
            **extra,
        },
    }
    out: dict[str, Any] = default_deployment(obj)["spec"]
    return out


def pods(
    rs: str, n: int, *, ready: bool = True, since: float = T0 - 100, created: float = T0 - 200
) -> tuple[PodView, ...]:
    return tuple(
        PodView(
            name=f"{rs}-p{i}",
            created_at=created + i * 0.001,
            ready=ready,
            ready_since=since if ready else None,
            phase="Running",
        )
        for i in range(n)
    )


def rs(
    pod_hash: str,
    replicas: int,
    *,
    revision: int = 1,
    ready: int | None = None,
    unready: int = 0,
    desired: int | None = None,
    max_replicas: int | None = None,
    created: float | None = None,
) -> ReplicaSetView:
    """An RS ``web-<hash>`` at ``replicas`` with ``ready`` Ready pods (default all)."""
    name = f"web-{pod_hash}"
    n_ready = replicas if ready is None else ready
    annotations = {}
    if desired is not None:
        annotations[DESIRED_REPLICAS_ANNOTATION] = str(desired)
    if max_replicas is not None:
        annotations[MAX_REPLICAS_ANNOTATION] = str(max_replicas)
    return ReplicaSetView(
        name=name,
        hash=pod_hash,
        revision=revision,
        replicas=replicas,
        annotations=annotations,
        created_at=created if created is not None else T0 - 1000 + revision,
        pods=pods(name, n_ready) + pods(f"{name}-u", unready, ready=False),
    )
