"""Generate ``reconciler/schemas/kubernetes/v1.NN.json.gz`` from the pinned kubernetes-validate.

Why vendored, not a runtime dependency: kubernetes-validate installs 108 MB (13 Kubernetes
versions, each as ~730 files with their descriptions); ``validate`` needs the strict schema of
every top-level kind of each version and nothing else. This keeps, per minor version, one
gzipped JSON document: ``{"version", "kinds": {"group/version/Kind": definition}, "$defs"}``
with descriptions dropped and ``$ref``s made local (about 25 kB each, ~300 kB for all).

    .venv/bin/python tools/kubernetes_schemas.py         # from the repository root

kubernetes-validate is Apache-2.0, as are the Kubernetes OpenAPI documents its schemas come from.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate

OUT = Path(__file__).resolve().parents[1] / "reconciler" / "schemas" / "kubernetes"
_REF = "/api/_definitions.json#"
_NOT_KINDS = frozenset({"WatchEvent", "DeleteOptions", "Status", "APIGroup", "APIGroupList",
                        "APIResourceList", "APIVersions", "Eviction", "Scale"})  # fmt: skip


def strip(node: Any) -> Any:
    """Descriptions dropped, ``/api/_definitions.json#/...`` refs made ``#/...``."""
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    if isinstance(node, str) and node.startswith(_REF):
        return node[len(_REF) - 1 :]
    return node


def bundle(folder: Path) -> dict[str, Any]:
    defs = json.loads((folder / "_definitions.json").read_text())["$defs"]
    kinds: dict[str, str] = {}
    for name, definition in defs.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            if gvk["kind"] in _NOT_KINDS or gvk["kind"].endswith("List"):
                continue
            group = f"{gvk['group']}/" if gvk["group"] else ""
            kinds.setdefault(f"{group}{gvk['version']}/{gvk['kind']}", name)
    return {"kinds": dict(sorted(kinds.items())), "$defs": strip(defs)}


def main() -> None:
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    OUT.mkdir(parents=True, exist_ok=True)
    for folder in sorted(root.glob("v*-local-strict")):
        match = re.fullmatch(r"v(\d+\.\d+)\.\d+-local-strict", folder.name)
        if match is None:
            continue
        version = match.group(1)
        document = {"version": version, **bundle(folder)}
        text = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        (OUT / f"v{version}.json.gz").write_bytes(gzip.compress(text, 9, mtime=0))
        print(f"v{version}: {len(document['kinds'])} kinds, {len(text)} bytes")


if __name__ == "__main__":
    main()
