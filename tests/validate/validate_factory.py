"""Builders of valid manifests that each test breaks in one way (imported by the tests)."""

from __future__ import annotations

import copy
from typing import Any

import yaml

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "demo:v1",
                        "command": ["python3", "-m", "reconciler.demoapp"],
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                    }
                ]
            },
        },
    },
}

SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 18090, "targetPort": "http"}],
    },
}


def deployment() -> dict[str, Any]:
    return copy.deepcopy(DEPLOYMENT)


def service(name: str = "web", port: int = 18090) -> dict[str, Any]:
    out = copy.deepcopy(SERVICE)
    out["metadata"]["name"] = name
    out["spec"]["ports"][0]["port"] = port
    return out


def dump(*objects: dict[str, Any]) -> str:
    return "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objects)
