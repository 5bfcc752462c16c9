"""ConfigMaps and Secrets in the folder sync: what is stored for them, the API server's update
rules, and the config hash on each Deployment's stored pod template.

``FolderSync`` asks this module three things per sync:

- ``stored_spec(ref, valid, old)``: the defaulted object to store, or None when nothing would
  change. A Deployment's stored pod template carries ``reconciler.dev/config-hash`` (see
  ``manifests.configdata``) naming a keyed digest of each ConfigMap and Secret it uses, so an
  edit of one of them is a template change: a new revision rolled under the Deployment's
  strategy, exactly as a template edit. The annotation lives only in the store (the manifest
  as written is kept apart), so it never reaches the folder, ``diff`` or ``export``;
- ``refused``: ConfigMaps and Secrets whose change the API server would refuse (an
  ``immutable`` object's data, a Secret's type): they keep their stored version and are
  reported like an invalid manifest;
- where the Secrets created outside the folder live (``reconciler create secret generic``
  writes them under ``STATE_DIR/secrets/``): they are loaded with the folder's documents.

Only Deployments whose manifest changed, or whose namespace had a ConfigMap or Secret change,
are looked at again: a resync of an unchanged folder computes no hash.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.defaults import default_deployment
from reconciler.errors import Problem, Severity
from reconciler.manifests.configdata import (
    config_hash_annotation,
    config_values,
    default_object,
    rolls_on_config_change,
    with_config_hash,
)
from reconciler.manifests.configrules import check_update
from reconciler.manifests.load import Document
from reconciler.manifests.validate import ValidObject, field_of
from reconciler.objects import Kind, ObjectRef
from reconciler.store import AppliedObject, Store

__all__ = [
    "CONFIG_KINDS",
    "HASH_KEY_META",
    "ConfigSync",
    "config_lookup",
    "hash_key",
    "secrets_dir",
]

CONFIG_KINDS = frozenset({Kind.CONFIGMAP, Kind.SECRET})
HASH_KEY_META = "config_hash_key"
SECRETS_DIR = "secrets"


def secrets_dir(state_dir: Path) -> Path:
    """Where ``reconciler create secret generic`` keeps Secrets (0700; files 0600)."""
    return state_dir / SECRETS_DIR


def hash_key(store: Store) -> bytes:
    """The state directory's key for config digests (made on first use)."""
    value = store.get_meta(HASH_KEY_META)
    if not value:
        value = random.token_hex(32)
        store.set_meta(HASH_KEY_META, value)
    return bytes.fromhex(value)


Lookup = tuple[dict[str, dict[str, bytes]], dict[str, dict[str, bytes]]]


def config_lookup(objects: Sequence[AppliedObject]) -> Lookup:
    """(ConfigMaps, Secrets) of stored objects: name -> key -> bytes."""
    config_maps: dict[str, dict[str, bytes]] = {}
    secret_values: dict[str, dict[str, bytes]] = {}
    for obj in objects:
        if obj.ref.kind is Kind.CONFIGMAP:
            config_maps[obj.ref.name] = config_values("ConfigMap", obj.spec)
        elif obj.ref.kind is Kind.SECRET:
            secret_values[obj.ref.name] = config_values("Secret", obj.spec)
    return config_maps, secret_values


@dataclass(slots=True)
class ConfigSync:
    """One sync's view of the ConfigMaps and Secrets: desired where valid, stored otherwise."""

    store: Store
    by_ref: Mapping[ObjectRef, ValidObject]
    stored: Mapping[ObjectRef, AppliedObject]
    documents: Sequence[Document]
    refused: dict[ObjectRef, list[Problem]] = field(default_factory=dict)
    changed_namespaces: set[str] = field(default_factory=set)
    _lookups: dict[str, Lookup] = field(default_factory=dict)
    _key: bytes | None = None

    def __post_init__(self) -> None:
        for ref, valid in self.by_ref.items():
            if ref.kind not in CONFIG_KINDS:
                continue
            old = self.stored.get(ref)
            if old is not None and old.digest == valid.digest:
                continue
            if old is not None:
                findings = check_update(str(ref.kind), old.manifest, valid.obj)
                if findings:
                    self.refused[ref] = [self._problem(ref, valid, f) for f in findings]
                    continue
            self.changed_namespaces.add(ref.namespace)
        for ref in self.stored:
            if ref.kind in CONFIG_KINDS and ref not in self.by_ref:
                self.changed_namespaces.add(ref.namespace)

    def _problem(self, ref: ObjectRef, valid: ValidObject, finding: Any) -> Problem:
        doc = next(
            (d for d in self.documents if d.source == valid.source and d.line == valid.line), None
        )
        path = finding.at if finding.at is not None else finding.path
        line, column = doc.position(path) if doc is not None else (valid.line, 1)
        return Problem(
            file=valid.source,
            line=line,
            column=column,
            severity=Severity.ERROR,
            message=f"{finding.message} (the stored {ref.kind} is kept: an immutable one never "
            "changes; give the new values a new name, or remove it from the folder and add it "
            "again once it is gone)"
            if finding.rule == "immutable" and "immutable" in finding.message
            else finding.message,
            rule=finding.rule,
            field=field_of(finding.path),
        )

    def _lookup(self, namespace: str) -> Lookup:
        found = self._lookups.get(namespace)
        if found is None:
            config_maps: dict[str, dict[str, bytes]] = {}
            secret_values: dict[str, dict[str, bytes]] = {}
            refs = {r for r in (*self.by_ref, *self.stored) if r.kind in CONFIG_KINDS}
            for ref in refs:
                if ref.namespace != namespace:
                    continue
                valid = self.by_ref.get(ref)
                if valid is not None and ref not in self.refused:
                    values = config_values(str(ref.kind), valid.obj)
                else:  # invalid now, refused, in an unreadable file, or being pruned
                    values = config_values(str(ref.kind), self.stored[ref].spec)
                target = config_maps if ref.kind is Kind.CONFIGMAP else secret_values
                target[ref.name] = values
            found = (config_maps, secret_values)
            self._lookups[namespace] = found
        return found

    def annotated(self, ref: ObjectRef, spec: dict[str, Any]) -> dict[str, Any]:
        """A defaulted Deployment with the config hash on its pod template (or without it,
        when the Deployment opts out or uses no ConfigMap or Secret)."""
        template = spec["spec"]["template"]
        value = ""
        if rolls_on_config_change(spec):
            config_maps, secret_values = self._lookup(ref.namespace)
            if self._key is None:
                self._key = hash_key(self.store)
            value = config_hash_annotation(
                template, config_maps=config_maps, secrets=secret_values, key=self._key
            )
        spec["spec"]["template"] = with_config_hash(template, value)
        return spec

    def stored_spec(
        self, ref: ObjectRef, valid: ValidObject, old: AppliedObject | None
    ) -> dict[str, Any] | None:
        """What to store for ``ref``, or None when the stored object stays as it is."""
        same = old is not None and old.digest == valid.digest and old.source == valid.source
        if ref in self.refused:
            return None
        if ref.kind is not Kind.DEPLOYMENT:
            return None if same else default_object(str(ref.kind), valid.obj)
        if same and ref.namespace not in self.changed_namespaces:
            return None
        spec = self.annotated(ref, default_deployment(valid.obj))
        if same and old is not None and old.spec == spec:
            return None
        return spec
