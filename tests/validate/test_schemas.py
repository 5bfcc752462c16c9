"""The schemas: valid JSON Schema 2020-12, shipped inside the package, matching schemas/."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from reconciler.objects import Kind
from reconciler.schema import SCHEMA_KINDS, load_schema

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", list(SCHEMA_KINDS))
def test_schemas_are_valid_2020_12_and_in_the_package(kind: Kind) -> None:
    """Each schema checks against the 2020-12 metaschema and schemas/ holds the same file."""
    schema = load_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    top = ROOT / "schemas" / f"{SCHEMA_KINDS[kind]}.schema.json"
    packaged = ROOT / "reconciler" / "schemas" / f"{SCHEMA_KINDS[kind]}.schema.json"
    assert top.read_bytes() == packaged.read_bytes()
