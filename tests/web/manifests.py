"""Manifests the web tests share: a canary that pauses at 50% and a Service in front of it."""

from __future__ import annotations

from tests.e2e.harness import deployment_yaml
from tests.e2e.test_traffic import service_yaml
from tests.e2e.test_walkthrough import env_token

CANARY_50 = """
  strategy:
    type: Canary
    canary:
      steps:
        - setWeight: 50
        - pause: {}"""


def canary(
    name: str, image: str, *, token: str, port: int, replicas: int = 2, annotations: str = ""
) -> str:
    """A Canary deployment (setWeight 50, then pause until promoted) and its Service."""
    text = deployment_yaml(
        name, image=image, replicas=replicas, strategy=CANARY_50, env=env_token(token)
    )
    if annotations:
        text = text.replace(
            f"  name: {name}\n", f"  name: {name}\n  annotations:\n{annotations}", 1
        )
    return text + service_yaml(name, port, app=name)


def rolling(name: str, image: str, *, token: str, replicas: int = 2) -> str:
    return deployment_yaml(name, image=image, replicas=replicas, env=env_token(token))
