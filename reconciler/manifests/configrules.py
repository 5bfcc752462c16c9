"""The API server's rules for ConfigMaps and Secrets (``k8s: pkg/apis/core/validation``).

Keys are config keys (``[-._a-zA-Z0-9]+``, not ``.``/``..``, at most 253 characters); a
ConfigMap key may not be in both ``data`` and ``binaryData``; ``binaryData`` and a Secret's
``data`` are base64; all values together hold at most 1 MiB; a Secret's ``type`` decides which
keys it must have. ``check_update`` holds the rules of a change: an ``immutable`` object's data
and a Secret's type never change.

A Secret's values never appear in a message: a finding names the key, never what it holds.

>>> [f.message[:40] for f in check_secret({"metadata": {"name": "db"},
...     "data": {"pw": "c2VjcmV0", "bad": "not base64!"}, "stringData": {"bad key": "x"}})]
['Invalid value: "bad key": a valid config', 'Invalid value: data values must be base6']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.manifests.configdata import MAX_SIZE, config_values, decode_base64
from reconciler.manifests.names import dns_label, dns_subdomain, invalid
from reconciler.manifests.schema import Finding, Path

__all__ = ["SECRET_TYPES", "check_configmap", "check_secret", "check_update", "config_key_error"]

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
# type -> keys of which at least one (any_of) or each (all_of) must be present
SECRET_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "kubernetes.io/basic-auth": ("any_of", ("username", "password")),
    "kubernetes.io/ssh-auth": ("all_of", ("ssh-privatekey",)),
    "kubernetes.io/tls": ("all_of", ("tls.crt", "tls.key")),
    "kubernetes.io/dockerconfigjson": ("all_of", (".dockerconfigjson",)),
    "kubernetes.io/dockercfg": ("all_of", (".dockercfg",)),
}
IMMUTABLE_MSG = "Forbidden: field is immutable when `immutable` is set"


def config_key_error(key: str) -> str | None:
    """Why ``key`` is not a config key (``validation.IsConfigMapKey``), or None."""
    if len(key) > 253:
        return "must be no more than 253 characters"
    if not _CONFIG_KEY.match(key):
        return CONFIG_KEY_MSG
    if key in (".", ".."):
        return f"must not be '{key}'"
    if key.startswith(".."):
        return "must not start with '..'"
    return None


def _metadata(obj: Mapping[str, Any]) -> Iterable[Finding]:
    metadata = obj["metadata"]
    if why := dns_subdomain(metadata["name"]):
        yield Finding(("metadata", "name"), invalid(metadata["name"], why), "name")
    namespace = metadata.get("namespace")
    if namespace is not None and (why := dns_label(namespace)):
        yield Finding(("metadata", "namespace"), invalid(namespace, why), "name")


def _keys(block: Mapping[str, Any] | None, path: Path) -> Iterable[Finding]:
    for key in block or {}:
        if why := config_key_error(str(key)):
            yield Finding((*path, key), invalid(key, why), "config-key")


def _size(obj: Mapping[str, Any], kind: str) -> Iterable[Finding]:
    total = sum(len(k) + len(v) for k, v in config_values(kind, obj).items())
    if total > MAX_SIZE:
        yield Finding(
            ("data",),
            f"Too long: must have at most {MAX_SIZE} bytes (all values together: {total})",
            "config-size",
            at=("data",) if "data" in obj else (),
        )


def check_configmap(obj: Mapping[str, Any]) -> list[Finding]:
    """Findings of one schema-valid ConfigMap."""
    findings = list(_metadata(obj))
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    findings.extend(_keys(data, ("data",)))
    findings.extend(_keys(binary, ("binaryData",)))
    for key, value in binary.items():
        if key in data:
            findings.append(
                Finding(
                    ("binaryData", key),
                    invalid(key, "duplicate of key present in data"),
                    "config-key",
                )
            )
        if decode_base64(str(value)) is None:
            findings.append(
                Finding(
                    ("binaryData", key),
                    "Invalid value: binaryData values must be base64 (encode it with base64 -w0)",
                    "base64",
                )
            )
    findings.extend(_size(obj, "ConfigMap"))
    return findings


def check_secret(obj: Mapping[str, Any]) -> list[Finding]:
    """Findings of one schema-valid Secret (never quoting a value)."""
    findings = list(_metadata(obj))
    data, strings = obj.get("data") or {}, obj.get("stringData") or {}
    findings.extend(_keys(data, ("data",)))
    findings.extend(_keys(strings, ("stringData",)))
    for key, value in data.items():
        if decode_base64(str(value)) is None:
            findings.append(
                Finding(
                    ("data", key),
                    "Invalid value: data values must be base64 (encode it with base64 -w0, "
                    "or write it in plain text under stringData)",
                    "base64",
                )
            )
    secret_type = obj.get("type", "Opaque")
    rule = SECRET_TYPES.get(secret_type)
    if rule is not None:
        how, needed = rule
        present = set(data) | set(strings)
        missing = [key for key in needed if key not in present]
        if (how == "all_of" and missing) or (how == "any_of" and len(missing) == len(needed)):
            for key in missing:
                findings.append(
                    Finding(
                        ("data", key),
                        f"Required value: a {secret_type} Secret must have the key {key!r}"
                        + (
                            f" (or {', '.join(repr(k) for k in needed if k != key)})"
                            if how == "any_of"
                            else ""
                        ),
                        "secret-type",
                        at=("data",) if "data" in obj else ("type",),
                    )
                )
    findings.extend(_size(obj, "Secret"))
    return findings


def check_update(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Finding]:
    """What the API server refuses in a change of ``old`` into ``new`` (both as written)."""
    findings: list[Finding] = []
    if kind == "Secret" and old.get("type", "Opaque") != new.get("type", "Opaque"):
        findings.append(
            Finding(
                ("type",),
                invalid(new.get("type", "Opaque"), "field is immutable"),
                "immutable",
                at=("type",) if "type" in new else (),
            )
        )
    if old.get("immutable") is not True:
        return findings
    if new.get("immutable") is not True:
        findings.append(
            Finding(
                ("immutable",),
                IMMUTABLE_MSG,
                "immutable",
                at=("immutable",) if "immutable" in new else (),
            )
        )
    if config_values(kind, old) != config_values(kind, new):
        findings.append(
            Finding(("data",), IMMUTABLE_MSG, "immutable", at=("data",) if "data" in new else ())
        )
    elif kind == "ConfigMap" and (old.get("binaryData") or {}) != (new.get("binaryData") or {}):
        findings.append(Finding(("binaryData",), IMMUTABLE_MSG, "immutable"))
    return findings
