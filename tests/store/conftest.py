"""Fixtures of the store tests: an open Store and pod templates that differ by image."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store

WEB = ObjectRef(Kind.DEPLOYMENT, "default", "web")


def template(image: str = "demo:1", **labels: str) -> dict[str, Any]:
    """A defaulted-looking pod template running ``image``."""
    return {
        "metadata": {"labels": {"app": "web", **labels}},
        "spec": {
            "containers": [{"name": "web", "image": image, "command": ["python", "-m", "http"]}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    }


def deployment(name: str = "web", *, image: str = "demo:1", **spec: Any) -> dict[str, Any]:
    """A Deployment manifest as a user writes it."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image, "command": ["true"]}]},
            },
            **spec,
        },
    }


@pytest.fixture
def store(state_dir: Path) -> Iterator[Store]:
    """An open store in a fresh state directory."""
    opened = Store.open(state_dir)
    try:
        yield opened
    finally:
        opened.close()
