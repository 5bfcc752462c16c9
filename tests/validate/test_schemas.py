"""The schemas: valid JSON Schema 2020-12, shipped inside the package, matching schemas/."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from reconciler.manifests.schema import SCHEMA_KINDS, load_schema
from reconciler.objects import Kind

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", list(SCHEMA_KINDS))
def test_schemas_are_valid_2020_12_and_in_the_package(kind: Kind) -> None:
    """Each schema checks against the 2020-12 metaschema and schemas/ holds the same file."""
    schema = load_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    top = ROOT / "schemas" / f"{SCHEMA_KINDS[kind]}.schema.json"
    packaged = ROOT / "reconciler" / "schemas" / f"{SCHEMA_KINDS[kind]}.schema.json"
    assert top.read_bytes() == packaged.read_bytes()


def _broken_deployments() -> list[dict[str, object]]:
    from validate_factory import deployment

    out = []
    for path, value in [
        (("spec", "replicas"), "three"),
        (("spec", "replicas"), -1),
        (("spec", "replica"), 1),
        (("spec", "template", "spec", "restartPolicy"), "Never"),
        (("spec", "strategy", "type"), "Blue"),
        (("metadata", "labels", "app"), 5),
        (("spec", "template", "spec", "containers", 0, "imagee"), "x"),
        (("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"), "80"),
    ]:
        obj = deployment()
        node: object = obj
        for step in path[:-1]:
            node = node[step]  # type: ignore[index]
        node[path[-1]] = value  # type: ignore[index]
        out.append(obj)
    both = deployment()
    both["spec"]["replicas"] = "x"
    del both["spec"]["template"]["spec"]["containers"][0]["image"]
    both["spec"]["template"]["spec"]["containers"][0]["nmae"] = "y"
    return [*out, both]


@pytest.mark.parametrize("obj", _broken_deployments())
def test_native_error_details_equal_jsonschemas(obj: dict[str, object]) -> None:
    """Findings worded from jsonschema-rs errors are the ones jsonschema itself gives."""
    from reconciler.manifests.schema import SchemaChecker

    checker = SchemaChecker(Kind.DEPLOYMENT, local=False)
    native = checker.check(obj)
    checker._fast = None  # the pure-Python path only
    assert native and native == checker.check(obj)
