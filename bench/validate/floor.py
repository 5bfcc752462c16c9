"""The floor for ``validate``: parse every file and check it with a compiled schema, nothing else.

    python bench/validate/floor.py yaml-rs|pyyaml SCHEMA FILE...

No positions, no messages, no rules: what a validator costs at least with that YAML parser and
``jsonschema-rs``. Prints how many documents failed.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import jsonschema_rs


def main() -> None:
    parser, schema_file, *files = sys.argv[1:]
    gc.disable()
    if parser == "yaml-rs":
        import yaml_rs

        def load(text: str) -> object:
            return yaml_rs.loads(text, parse_datetime=False)
    else:
        import yaml

        def load(text: str) -> object:
            return yaml.load(text, Loader=yaml.CSafeLoader)  # the C safe loader

    validator = jsonschema_rs.Draft202012Validator(json.loads(Path(schema_file).read_text()))
    failed = 0
    for name in files:
        try:
            failed += not validator.is_valid(load(Path(name).read_text()))
        except Exception:
            failed += 1
    print(f"{failed} of {len(files)} failed")


if __name__ == "__main__":
    main()
