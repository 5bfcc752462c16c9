"""Generate ``reconciler/schemas/rollout.schema.json``: the Argo Rollouts ``Rollout`` CRD schema.

The source is the CRD's ``openAPIV3Schema`` as transcribed for the export tests
(``tests/export/schemas/rollout-crd-v1alpha1.yaml``, Apache-2.0, from argo-rollouts'
``manifests/crds/rollout-crd.yaml``; see its header for what was abridged). As there, objects
are closed (``additionalProperties: false``, what kubernetes-validate's strict mode does for
built-in kinds, since a structural CRD schema prunes unknown fields instead of rejecting them),
and ``metadata`` and ``spec.template`` point at the Kubernetes definitions that
``reconciler.manifests.upstream`` merges in for the target version.

    .venv/bin/python tools/rollout_schema.py        # from the repository root
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "export" / "schemas" / "rollout-crd-v1alpha1.yaml"
OUT = ROOT / "reconciler" / "schemas" / "rollout.schema.json"


def close(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return [close(item) for item in schema] if isinstance(schema, list) else schema
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return schema
    out = {key: close(value) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def main() -> None:
    crd = yaml.safe_load(SOURCE.read_text())["openAPIV3Schema"]
    schema = close(crd)
    properties = schema["properties"]
    properties["metadata"] = {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    properties["spec"]["properties"]["template"] = {
        "$ref": "#/$defs/io.k8s.api.core.v1.PodTemplateSpec"
    }
    properties["apiVersion"] = {"const": "argoproj.io/v1alpha1"}
    properties["kind"] = {"const": "Rollout"}
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://reconciler.local/schemas/rollout.schema.json",
        "title": "argoproj.io/v1alpha1 Rollout (the Argo Rollouts CRD's openAPIV3Schema, closed)",
        **schema,
    }
    OUT.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
