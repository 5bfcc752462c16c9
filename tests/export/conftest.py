"""Strict upstream schemas for exported objects, and manifests loaded with positions.

Deployments and Services are checked against the Kubernetes JSON schemas that
kubernetes-validate ships (its newest bundled version, ``-strict`` variant: every object closed
with ``additionalProperties: false``). Rollouts are checked against the Argo Rollouts CRD's
``openAPIV3Schema`` (``schemas/rollout-crd-v1alpha1.yaml``, source and commit in its header),
closed the same way, with ``spec.template`` and ``metadata`` checked against the upstream
Kubernetes ``PodTemplateSpec`` and ``ObjectMeta`` strict schemas.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import yaml
from kubernetes_validate import utils as kubernetes_validate

from reconciler.manifests.load import Document, load_text

HERE = Path(__file__).parent
_DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
_ROLLOUT_CRD = HERE / "schemas" / "rollout-crd-v1alpha1.yaml"


def kubernetes_version() -> str:
    """The newest Kubernetes version whose schemas kubernetes-validate ships (e.g. ``1.37.0``)."""
    return kubernetes_validate.latest_version()


def _schema_dir() -> Path:
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    return Path(str(root / f"v{kubernetes_version()}-local-strict"))


@functools.cache
def _registry() -> referencing.Registry[Any]:
    definitions = json.loads((_schema_dir() / "_definitions.json").read_text())
    resource = referencing.Resource.from_contents(definitions)
    return resource @ referencing.Registry()  # type: ignore[no-any-return]


def _close(schema: Any) -> Any:
    """Strict mode for a CRD schema: objects with ``properties`` admit no other keys."""
    if isinstance(schema, list):
        return [_close(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _close(value) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@functools.cache
def _validator(kind: str) -> jsonschema.protocols.Validator:
    if kind == "Rollout":
        crd = yaml.safe_load(_ROLLOUT_CRD.read_text())["openAPIV3Schema"]
        schema = _close(crd)
        properties = schema["properties"]
        properties["metadata"] = {
            "$ref": f"{_DEFINITIONS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        }
        properties["spec"]["properties"]["template"] = {
            "$ref": f"{_DEFINITIONS_ID}#/$defs/io.k8s.api.core.v1.PodTemplateSpec"
        }
        properties["apiVersion"] = {"const": "argoproj.io/v1alpha1"}
        properties["kind"] = {"const": "Rollout"}
        schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    else:
        api = {"Deployment": "apps-v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1"}[kind]
        schema = json.loads((_schema_dir() / f"{kind.lower()}-{api}.json").read_text())
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """Every way ``obj`` breaks its upstream schema, as ``path: message`` lines."""
    validator = _validator(str(obj.get("kind")))
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(obj)
    ]


def load_documents(text: str, source: str = "manifests/app.yaml") -> list[Document]:
    """Manifest documents with positions, as the validator hands them to the exporter."""
    result = load_text(text, source=source)
    assert not result.problems, [p.render() for p in result.problems]
    return result.documents


@pytest.fixture
def check_schema() -> Callable[[dict[str, Any]], list[str]]:
    """The strict upstream schema check, as a fixture."""
    return schema_errors
