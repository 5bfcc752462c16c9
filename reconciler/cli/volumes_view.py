"""``describe``'s lines for volumes, mounts and resources, in kubectl's words.

kubectl's ``describeVolumes`` prints one block per volume source (``printConfigMapVolumeSource``,
``printEmptyDirVolumeSource``...), ``describeContainerResource`` the ``Limits:`` and ``Requests:``
of a container (a request left out defaults to its limit, as the API server fills it in), and
the container's ``Mounts:`` as ``<path> from <volume> (ro|rw[,path="sub"])``. One addition:
``Warnings:``, what this host could not enforce when its daemon started (no cgroups, no mount
namespace), so a limit that is not enforced is never shown as if it were.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.runtime.isolation.capabilities import saved, warnings_for

_TYPES = {
    "configMap": "ConfigMap (a volume populated by a ConfigMap)",
    "secret": "Secret (a volume populated by a Secret)",
    "emptyDir": "EmptyDir (a temporary directory that shares a pod's lifetime)",
    "hostPath": "HostPath (bare host directory volume)",
    "persistentVolumeClaim": (
        "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)"
    ),
}


def _bool(value: Any) -> str:
    return "true" if value else "false"


def volume_lines(volume: Mapping[str, Any]) -> str:
    """The block under a volume's name (``    Type:`` ...), as kubectl's printers write it."""
    kind = next((k for k in volume if k != "name"), "")
    source = volume.get(kind) or {}
    if kind not in _TYPES:
        return f"    Type:\t{kind or '<unknown>'} (not supported by the local runtime)\n"
    out = f"    Type:\t{_TYPES[kind]}\n"
    if kind == "configMap":
        out += (
            f"    Name:\t{source.get('name', '')}\n    Optional:\t{_bool(source.get('optional'))}\n"
        )
    elif kind == "secret":
        out += f"    SecretName:\t{source.get('secretName', '')}\n"
        out += f"    Optional:\t{_bool(source.get('optional'))}\n"
    elif kind == "emptyDir":
        size = source.get("sizeLimit")
        out += f"    Medium:\t{source.get('medium', '')}\n"
        out += f"    SizeLimit:\t{size if size is not None else '<unset>'}\n"
    elif kind == "hostPath":
        out += f"    Path:\t{source.get('path', '')}\n    HostPathType:\t{source.get('type', '')}\n"
    else:
        out += f"    ClaimName:\t{source.get('claimName', '')}\n"
        out += f"    ReadOnly:\t{_bool(source.get('readOnly'))}\n"
    return out


def pod_volumes(pod_spec: Mapping[str, Any]) -> str:
    """``describe pod``'s ``Volumes:`` section."""
    volumes = [v for v in pod_spec.get("volumes") or [] if isinstance(v, Mapping)]
    if not volumes:
        return "Volumes:\t<none>\n"
    return "Volumes:\n" + "".join(f"  {v.get('name')}:\n{volume_lines(v)}" for v in volumes)


def resource_lines(container: Mapping[str, Any]) -> str:
    """``    Limits:`` and ``    Requests:`` (requests defaulted from limits)."""
    resources = container.get("resources") or {}
    limits = dict(resources.get("limits") or {})
    requests = {**limits, **(resources.get("requests") or {})}
    out = ""
    for title, values in (("Limits", limits), ("Requests", requests)):
        if values:
            out += f"    {title}:\n" + "".join(
                f"      {name}:\t{value}\n" for name, value in sorted(values.items())
            )
    return out


def mount_lines(container: Mapping[str, Any]) -> str:
    mounts = [m for m in container.get("volumeMounts") or [] if isinstance(m, Mapping)]
    out = "    Mounts:" + ("\n" if mounts else "\t<none>\n")
    for mount in sorted(mounts, key=lambda m: str(m.get("mountPath", ""))):
        flags = ["ro" if mount.get("readOnly") else "rw"]
        if mount.get("subPath"):
            flags.append(f'path="{mount["subPath"]}"')
        out += f"      {mount.get('mountPath')} from {mount.get('name')} ({','.join(flags)})\n"
    return out


def host_warnings(template: Mapping[str, Any], state_dir: Path) -> str:
    """``Warnings:`` for the fields this host's daemon reported it cannot enforce."""
    found = saved(state_dir)
    if found is None:
        return ""
    lines = [message for _, message in warnings_for(template, found)]
    unique = list(dict.fromkeys(lines))
    return "Warnings:\n" + "".join(f"  {line}\n" for line in unique) if unique else ""


__all__ = ["host_warnings", "mount_lines", "pod_volumes", "resource_lines", "volume_lines"]
