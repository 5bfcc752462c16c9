"""Exported objects pass the upstream schemas strictly (Kubernetes and Argo Rollouts CRD)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.export import export_objects
from tests.export.conftest import kubernetes_version, load_documents, schema_errors

ROOT = Path(__file__).parents[2]
FIXTURES = sorted((Path(__file__).parent / "manifests").glob("*.yaml"))
EXAMPLES = sorted((ROOT / "manifests").glob("*.y*ml"))


def _export(path: Path) -> list[dict[str, object]]:
    documents = load_documents(path.read_text(), source=path.name)
    return [item.obj for item in export_objects(documents).objects]


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture_exports_pass_upstream_schemas(path: Path) -> None:
    """Every test manifest (all local fields) exports to schema-valid cluster objects."""
    objects = _export(path)
    assert objects
    for obj in objects:
        assert schema_errors(obj) == [], (obj["kind"], kubernetes_version())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_bundled_example_exports_pass_upstream_schemas(path: Path) -> None:
    """Every bundled example in manifests/ exports to schema-valid cluster objects."""
    for obj in _export(path):
        assert schema_errors(obj) == [], (path.name, obj["kind"])


def test_fixtures_cover_every_strategy_and_kind() -> None:
    """The fixtures exercise Deployment, Rollout (both strategies) and Service output."""
    kinds: set[str] = set()
    strategies: set[str] = set()
    for path in FIXTURES:
        for obj in _export(path):
            kinds.add(str(obj["kind"]))
            spec = obj["spec"]
            assert isinstance(spec, dict)
            strategy = spec.get("strategy") or {}
            strategies.update(strategy.get("type", k) for k in strategy if k != "rollingUpdate")
    assert kinds == {"Deployment", "Rollout", "Service"}
    assert {"RollingUpdate", "Recreate", "blueGreen", "canary"} <= strategies


@pytest.mark.parametrize(
    ("obj", "complaint"),
    [
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {
                    "autoRollback": True,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {"spec": {"containers": [{"name": "web", "image": "w"}]}},
                },
            },
            "autoRollback",
            id="deployment extension field",
        ),
        pytest.param(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "metadata": {"name": "web"},
                "spec": {
                    "strategy": {"canary": {"analysis": {"httpGet": {"port": 80}}}},
                    "template": {"spec": {"containers": [{"name": "web", "image": "w"}]}},
                },
            },
            "httpGet",
            id="rollout local analysis",
        ),
        pytest.param(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "metadata": {"name": "web"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "image": "w",
                                    "readinessProbe": {"periodSeconds": 0.5},
                                }
                            ]
                        }
                    }
                },
            },
            "0.5",
            id="rollout fractional probe seconds",
        ),
        pytest.param(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"ports": [{"port": 80}], "bindAddress": "0.0.0.0"},
            },
            "bindAddress",
            id="service unknown field",
        ),
    ],
)
def test_schema_check_is_strict(obj: dict[str, object], complaint: str) -> None:
    """The checker itself rejects local-only fields, so a pass above means something."""
    errors = schema_errors(obj)
    assert any(complaint in error for error in errors), errors
