"""What goes in and out of an export: the source objects, the translated ones, the YAML.

Kept apart from the translation so that the CLI (which writes files and stdout) and the
validator (which only wants the warnings) import the shapes without the translation rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from reconciler.errors import Problem

__all__ = ["Exported", "ExportedObject", "SourceObject", "dump_yaml", "file_name"]


class SourceObject(Protocol):
    """One manifest object and where it was written (``manifests.validate.ValidObject`` fits).

    When the object also has ``position(path) -> (line, column)`` (or a ``document`` that has
    it), warnings point at the exact field; otherwise at the object's first line.
    """

    @property
    def obj(self) -> Mapping[str, Any]: ...

    @property
    def source(self) -> str: ...

    @property
    def line(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ExportedObject:
    """One object for the cluster, and the manifest it came from."""

    obj: dict[str, Any]
    source: str
    line: int

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))


@dataclass(frozen=True, slots=True)
class Exported:
    """The translated objects, in input order, and every warning of the translation."""

    objects: tuple[ExportedObject, ...]
    problems: tuple[Problem, ...]


def file_name(obj: Mapping[str, Any]) -> str:
    """``deployment-web.yaml``; ``shop-rollout-cart.yaml`` when a namespace is written."""
    kind = str(obj.get("kind", "object")).lower()
    metadata = obj.get("metadata") or {}
    name = f"{kind}-{metadata.get('name', 'unnamed')}.yaml"
    namespace = metadata.get("namespace")
    return f"{namespace}-{name}" if namespace else name


def dump_yaml(objects: Sequence[ExportedObject]) -> str:
    """Multi-document YAML, each document headed by the manifest it came from."""
    docs = [
        f"# Source: {item.source}\n" + yaml.safe_dump(item.obj, sort_keys=False, width=100)
        for item in objects
    ]
    return "---\n" + "---\n".join(docs) if docs else ""
