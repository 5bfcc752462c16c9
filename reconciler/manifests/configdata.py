"""ConfigMaps and Secrets as values: their keys and bytes, what a pod template refers to, and the
config hash that rolls pods when what they refer to changes.

Three users, one reading of the objects: the executor fills ``PodSpec.config`` from the values
(``config_values``), the sync writes the config hash into each Deployment's stored pod template
(``config_hash_annotation``), and ``validate`` and ``rollout undo`` compare references with what
the folder defines (``template_references``). Pure: no I/O.

The hash annotation names each referenced object with a keyed digest of its values, so a
revision says which object changed (``configmap/app-config changed``) and ``undo`` can tell
whether a revision's values are still what the folder holds; the key (random per state
directory) keeps a short digest of a weak password from being guessed offline:

>>> refs = template_references({"spec": {"containers": [{"name": "a", "envFrom": [
...     {"configMapRef": {"name": "app"}}], "env": [{"name": "P", "valueFrom": {
...     "secretKeyRef": {"name": "db", "key": "password"}}}]}]}})
>>> sorted(refs)
[('configmap', 'app'), ('secret', 'db')]
>>> parse_annotation("configmap/app=0a1b2c3d4e5f secret/db=absent")
{'configmap/app': '0a1b2c3d4e5f', 'secret/db': 'absent'}
>>> changed_objects("configmap/app=1 secret/db=absent", "configmap/app=2 secret/db=3")
['configmap/app changed', 'secret/db created']
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.defaults import default_deployment, default_service

__all__ = [
    "CONFIG_HASH_ANNOTATION",
    "MAX_SIZE",
    "ROLL_ON_CHANGE_ANNOTATION",
    "changed_objects",
    "config_hash_annotation",
    "config_values",
    "decode_base64",
    "default_object",
    "default_secret",
    "parse_annotation",
    "rolls_on_config_change",
    "template_annotation",
    "template_references",
    "with_config_hash",
    "without_config_hash",
]

CONFIG_HASH_ANNOTATION = "reconciler.dev/config-hash"
"""On the stored pod template (never in the folder): ``configmap/NAME=DIGEST ...``."""
ROLL_ON_CHANGE_ANNOTATION = "reconciler.dev/roll-on-config-change"
"""On a Deployment's metadata: ``"false"`` opts out of rolling on ConfigMap/Secret edits."""
MAX_SIZE = 1024 * 1024  # api.MaxSecretSize, the limit of a ConfigMap's or Secret's values
ABSENT = "absent"
_DIGEST_CHARS = 12

Ref = tuple[str, str]  # ("configmap" | "secret", name)


def decode_base64(text: str) -> bytes | None:
    """Standard base64 with padding, as the API server decodes ``[]byte``; None when invalid.

    >>> decode_base64("aGk="), decode_base64("aGk"), decode_base64("a b")
    (b'hi', None, None)
    """
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def config_values(kind: str, obj: Mapping[str, Any]) -> dict[str, bytes]:
    """Key -> bytes of a ConfigMap (``data`` as UTF-8, ``binaryData`` decoded) or a Secret
    (``data`` decoded, ``stringData`` over it, as the API server merges them). Values that do
    not decode are left out (the validator reports them)."""
    out: dict[str, bytes] = {}
    if kind == "ConfigMap":
        for key, value in (obj.get("data") or {}).items():
            out[str(key)] = str(value).encode("utf-8")
        for key, value in (obj.get("binaryData") or {}).items():
            decoded = decode_base64(str(value))
            if decoded is not None:
                out[str(key)] = decoded
        return out
    for key, value in (obj.get("data") or {}).items():
        decoded = decode_base64(str(value))
        if decoded is not None:
            out[str(key)] = decoded
    for key, value in (obj.get("stringData") or {}).items():
        out[str(key)] = str(value).encode("utf-8")
    return out


def _references(spec: Mapping[str, Any]) -> Iterator[tuple[Ref, bool]]:
    """(reference, optional) for every ConfigMap/Secret use in a pod spec."""
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    for container in containers:
        if not isinstance(container, Mapping):
            continue
        for item in container.get("env") or []:
            source = item.get("valueFrom") if isinstance(item, Mapping) else None
            if not isinstance(source, Mapping):
                continue
            for field, kind in (("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")):
                ref = source.get(field)
                if isinstance(ref, Mapping) and ref.get("name"):
                    yield (kind, str(ref["name"])), bool(ref.get("optional"))
        for item in container.get("envFrom") or []:
            if not isinstance(item, Mapping):
                continue
            for field, kind in (("configMapRef", "configmap"), ("secretRef", "secret")):
                ref = item.get(field)
                if isinstance(ref, Mapping) and ref.get("name"):
                    yield (kind, str(ref["name"])), bool(ref.get("optional"))
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, Mapping):
            continue
        config_map = volume.get("configMap")
        if isinstance(config_map, Mapping) and config_map.get("name"):
            yield ("configmap", str(config_map["name"])), bool(config_map.get("optional"))
        secret = volume.get("secret")
        if isinstance(secret, Mapping) and secret.get("secretName"):
            yield ("secret", str(secret["secretName"])), bool(secret.get("optional"))
        projected = volume.get("projected")
        for source in (
            (projected or {}).get("sources") or [] if isinstance(projected, Mapping) else []
        ):
            if not isinstance(source, Mapping):
                continue
            for field, kind in (("configMap", "configmap"), ("secret", "secret")):
                ref = source.get(field)
                if isinstance(ref, Mapping) and ref.get("name"):
                    yield (kind, str(ref["name"])), bool(ref.get("optional"))


def template_references(template: Mapping[str, Any]) -> dict[Ref, bool]:
    """Every ConfigMap and Secret a pod template uses -> whether *every* use is optional."""
    spec = template.get("spec")
    out: dict[Ref, bool] = {}
    if not isinstance(spec, Mapping):
        return out
    for ref, optional in _references(spec):
        out[ref] = out.get(ref, True) and optional
    return out


def rolls_on_config_change(deployment: Mapping[str, Any]) -> bool:
    """False when the Deployment opts out with ``reconciler.dev/roll-on-config-change: "false"``."""
    metadata = deployment.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping):
        return True
    return str(annotations.get(ROLL_ON_CHANGE_ANNOTATION, "true")).strip().lower() != "false"


def _digest(key: bytes, kind: str, name: str, values: Mapping[str, bytes]) -> str:
    mac = hmac.new(key, f"{kind}/{name}".encode(), hashlib.sha256)
    for item, value in sorted(values.items()):
        encoded = item.encode("utf-8")
        mac.update(len(encoded).to_bytes(4, "big") + encoded)
        mac.update(len(value).to_bytes(8, "big") + value)
    return mac.hexdigest()[:_DIGEST_CHARS]


def config_hash_annotation(
    template: Mapping[str, Any],
    *,
    config_maps: Mapping[str, Mapping[str, bytes]],
    secrets: Mapping[str, Mapping[str, bytes]],
    key: bytes,
) -> str:
    """``configmap/app=0a1b2c3d4e5f secret/db=absent`` for the objects ``template`` uses ("" for
    none); an object that does not exist is ``absent``, so its creation rolls the pods too."""
    parts = []
    for kind, name in sorted(template_references(template)):
        found = (config_maps if kind == "configmap" else secrets).get(name)
        digest = ABSENT if found is None else _digest(key, kind, name, found)
        parts.append(f"{kind}/{name}={digest}")
    return " ".join(parts)


def parse_annotation(text: str) -> dict[str, str]:
    """``configmap/app=DIGEST ...`` -> {``configmap/app``: DIGEST}."""
    out: dict[str, str] = {}
    for part in text.split():
        name, _, digest = part.partition("=")
        if name:
            out[name] = digest
    return out


def changed_objects(old: str, new: str) -> list[str]:
    """What differs between two annotations, worded for a change cause."""
    before, after = parse_annotation(old), parse_annotation(new)
    out = []
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name, ABSENT), after.get(name, ABSENT)
        if was == now:
            continue
        if was == ABSENT:
            out.append(f"{name} created")
        elif now == ABSENT:
            out.append(f"{name} deleted")
        else:
            out.append(f"{name} changed")
    return out


def template_annotation(template: Mapping[str, Any]) -> str:
    """The config hash annotation of a stored pod template ("" when it has none)."""
    metadata = template.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping):
        return ""
    return str(annotations.get(CONFIG_HASH_ANNOTATION, ""))


def with_config_hash(template: Mapping[str, Any], value: str) -> dict[str, Any]:
    """A copy of ``template`` carrying the annotation (removed when ``value`` is "")."""
    out = dict(template)
    metadata = dict(out.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    if value:
        annotations[CONFIG_HASH_ANNOTATION] = value
    else:
        annotations.pop(CONFIG_HASH_ANNOTATION, None)
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    out["metadata"] = metadata
    return out


def without_config_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    """``template`` as the folder wrote it: without the config hash annotation."""
    return with_config_hash(template, "")


def default_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """As the API server stores a Secret: ``type: Opaque`` by default, ``stringData`` merged
    into ``data`` (base64) and dropped."""
    out = copy.deepcopy(obj)
    out.setdefault("metadata", {}).setdefault("namespace", "default")
    out.setdefault("type", "Opaque")
    values = config_values("Secret", obj)
    out.pop("stringData", None)
    if values:
        out["data"] = {k: base64.b64encode(v).decode("ascii") for k, v in sorted(values.items())}
    return out


def default_object(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The defaulted object of any kind the folder holds."""
    if kind == "Deployment":
        return default_deployment(obj)
    if kind == "Service":
        return default_service(obj)
    if kind == "Secret":
        return default_secret(obj)
    out = copy.deepcopy(obj)
    out.setdefault("metadata", {}).setdefault("namespace", "default")
    return out
