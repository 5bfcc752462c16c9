"""A pod's volumes as podman bind mounts: what each container sees at its ``mountPath``.

Kubernetes' volume kinds, mapped onto directories of the state directory (so deleting the pod
deletes them, except a claim's) and bind-mounted into the container:

- ``emptyDir``: ``<state>/podman/volumes/<pod>/<name>``, mode 0777 as the kubelet makes it,
  shared by the pod's containers, removed with the pod; ``medium: Memory`` is a tmpfs mount
  (per container: podman has no pod-wide tmpfs);
- ``configMap`` / ``secret``: the object's keys (or ``items``) written as files with
  ``defaultMode``/``mode`` (0644), mounted read-only; a missing object is
  ``CreateContainerConfigError`` unless ``optional``;
- ``hostPath``: the host's path (``DirectoryOrCreate`` creates it);
- ``persistentVolumeClaim``: ``<state>/volumes/<claimName>``, which outlives pods.

``readOnly`` and ``subPath`` on a mount are honoured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.runtime import PodConfig
from reconciler.runtime.config import ConfigError
from reconciler.runtime.layout import check_label, make_private_dir


def _files(
    kind: str, source: Mapping[str, Any], config: PodConfig, namespace: str
) -> dict[str, tuple[bytes, int]] | None:
    """relative path -> (bytes, mode) of a configMap/secret volume; None if optional+missing."""
    name = str(source.get("name") or source.get("secretName") or "")
    objects = config.config_maps if kind == "configMap" else config.secrets
    data = objects.get(name)
    if data is None:
        if source.get("optional"):
            return None
        word = "configmap" if kind == "configMap" else "secret"
        raise ConfigError(f'{word} "{name}" not found')
    mode = int(source.get("defaultMode", 0o644))
    items = source.get("items")
    if not items:
        return {key: (value, mode) for key, value in data.items()}
    out = {}
    for item in items:
        key = str(item.get("key", ""))
        if key not in data:
            if source.get("optional"):
                continue
            word = "ConfigMap" if kind == "configMap" else "Secret"
            raise ConfigError(f"couldn't find key {key} in {word} {namespace}/{name}")
        out[str(item.get("path") or key)] = (data[key], int(item.get("mode", mode)))
    return out


def _write_tree(folder: Path, files: Mapping[str, tuple[bytes, int]]) -> None:
    for relative, (content, mode) in files.items():
        target = (folder / relative).resolve()
        if folder.resolve() not in target.parents:
            raise ConfigError(f"volume item path {relative!r} must stay inside the volume")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        os.chmod(target, mode)


def volume_flags(
    pod_spec: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    pod_dir: Path,
    state_dir: Path,
    config: PodConfig,
    namespace: str,
) -> list[str]:
    """``--volume``/``--mount`` flags for one container; ConfigError for a bad reference."""
    volumes = {
        str(v.get("name")): v for v in pod_spec.get("volumes") or [] if isinstance(v, Mapping)
    }
    flags: list[str] = []
    for mount in container.get("volumeMounts") or []:
        name = str(mount.get("name", ""))
        volume = volumes.get(name)
        if volume is None:
            raise ConfigError(f'volume "{name}" is mounted but not defined in the pod')
        target = str(mount.get("mountPath", ""))
        read_only = bool(mount.get("readOnly"))
        source: Path
        if isinstance(volume.get("emptyDir"), Mapping):
            if volume["emptyDir"].get("medium") == "Memory":
                flags += ["--mount", f"type=tmpfs,destination={target}"]
                continue
            source = make_private_dir(pod_dir / check_label(name, what="volume"))
            os.chmod(source, 0o777)
        elif isinstance(volume.get("configMap"), Mapping) or isinstance(
            volume.get("secret"), Mapping
        ):
            kind = "configMap" if isinstance(volume.get("configMap"), Mapping) else "secret"
            files = _files(kind, volume[kind], config, namespace)
            source = make_private_dir(pod_dir / check_label(name, what="volume"))
            os.chmod(source, 0o755)
            _write_tree(source, files or {})
            read_only = True
        elif isinstance(volume.get("hostPath"), Mapping):
            source = Path(str(volume["hostPath"].get("path", "")))
            if volume["hostPath"].get("type") == "DirectoryOrCreate":
                source.mkdir(parents=True, exist_ok=True)
            if not source.exists():
                raise ConfigError(f'hostPath "{source}" does not exist')
        elif isinstance(volume.get("persistentVolumeClaim"), Mapping):
            claim = str(volume["persistentVolumeClaim"].get("claimName", ""))
            source = make_private_dir(state_dir / "volumes" / check_label(claim, what="claim"))
            os.chmod(source, 0o777)
        else:
            raise ConfigError(f'volume "{name}": this kind of volume is not supported on podman')
        if mount.get("subPath"):
            source = source / str(mount["subPath"])
            source.mkdir(parents=True, exist_ok=True)
        flags += ["--volume", f"{source}:{target}{':ro' if read_only else ''}"]
    return flags


__all__ = ["volume_flags"]
