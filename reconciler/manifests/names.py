"""Names, labels and values as the API server checks them, with its own words.

``dns_label``, ``dns_subdomain``, ``dns1035_label`` and ``iana_svc_name`` return the reason a
value is refused (``k8s.io/apimachinery/pkg/util/validation``'s messages) or None;
``invalid`` wraps a reason as ``Invalid value: <json>: <why>``. Every rules module words its
findings with these, so a message reads the same wherever it comes from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.manifests.schema import Finding, Path

__all__ = [
    "DNS1035_MSG",
    "LABEL_MSG",
    "PERCENT_MSG",
    "SUBDOMAIN_MSG",
    "check_labels",
    "check_metadata",
    "dns1035_label",
    "dns_label",
    "dns_subdomain",
    "iana_svc_name",
    "invalid",
    "listed",
]

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
    "'93%', regex used for validation is '[0-9]+%')"
)


def invalid(value: Any, why: str) -> str:
    """``Invalid value: "x": why`` with the value as JSON."""
    return f"Invalid value: {json.dumps(value, sort_keys=True)}: {why}"


def dns_label(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    return None if _DNS1123_LABEL.match(value) else LABEL_MSG


def dns_subdomain(value: str) -> str | None:
    if len(value) > 253:
        return "must be no more than 253 characters"
    return None if _DNS1123_SUBDOMAIN.match(value) else SUBDOMAIN_MSG


def dns1035_label(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    return None if _DNS1035_LABEL.match(value) else DNS1035_MSG


def iana_svc_name(value: str) -> str | None:
    """A port name (``validation.IsValidPortName``)."""
    if len(value) > 15:
        return "must be no more than 15 characters"
    if not _IANA_SVC_NAME.match(value):
        return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    if "--" in value:
        return "must not contain consecutive hyphens"
    if not any(c.isalpha() for c in value):
        return "must contain at least one letter (a-z)"
    return None


def _label_key(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and dns_subdomain(prefix):
        return "prefix part " + SUBDOMAIN_MSG
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return None


def check_labels(labels: Mapping[str, str] | None, path: Path) -> Iterable[Finding]:
    """Each label key and value as ``metav1.ValidateLabels`` checks them."""
    for key, value in (labels or {}).items():
        why = _label_key(key)
        if why:
            yield Finding((*path, key), invalid(key, why), "labels")
        elif len(value) > 63 or not _LABEL_VALUE.match(value):
            yield Finding(
                (*path, key),
                invalid(
                    value,
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                ),
                "labels",
            )


def check_metadata(obj: Mapping[str, Any], *, name_check: Any) -> Iterable[Finding]:
    """``metadata``: the name (by the kind's own rule), the namespace, the labels."""
    metadata = obj["metadata"]
    why = name_check(metadata["name"])
    if why:
        yield Finding(("metadata", "name"), invalid(metadata["name"], why), "name")
    namespace = metadata.get("namespace")
    if namespace is not None and (why := dns_label(namespace)):
        yield Finding(("metadata", "namespace"), invalid(namespace, why), "name")
    yield from check_labels(metadata.get("labels"), ("metadata", "labels"))


def listed(names: Iterable[Any]) -> str:
    """Names for a message: sorted, comma-separated, ``none`` when there are none."""
    listed = sorted(str(n) for n in names if n)
    return ", ".join(listed) if listed else "none"
