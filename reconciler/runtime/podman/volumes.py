"""A podman pod's volumes: the host side is the process runtime's, bind-mounted into podman.

One volume implementation for both runtimes (``reconciler.runtime.isolation.volumes``):
configMap and secret volumes are written as the kubelet's ``AtomicWriter`` writes them (a
version directory and the ``..data`` symlink swapped by one ``rename``), and the *volume
directory* is bind-mounted, never single files, so an in-place update (``update_pod_config``)
is seen inside the running containers as it is by a process pod; a claim is
``<state>/persistentvolumeclaims/<namespace>/<claimName>``, the same directory a process pod of
that claim sees. The pod's own volumes live in ``<state>/podman/volumes/<namespace>/<pod>``
(apart from the process runtime's, whose clean-up at start removes pod directories it does not
know) and are removed with the pod. ``emptyDir`` with ``medium: Memory`` is podman's tmpfs
mount per container (a host tmpfs would need mount rights the daemon may not have).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.runtime import PodConfig
from reconciler.runtime.config import ConfigError
from reconciler.runtime.isolation.mounts import MountPathError, check_mount_path
from reconciler.runtime.isolation.volumes import (
    HostVolume,
    VolumeError,
    container_mounts,
    existing_volumes,
    pod_volumes_dir,
    prepare_volumes,
    source_kind,
)
from reconciler.runtime.podman.host import podman_dir


def pod_dir(state_dir: Path, namespace: str, pod: str) -> Path:
    return pod_volumes_dir(podman_dir(state_dir), namespace, pod)


def volume_specs(pod_spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [v for v in pod_spec.get("volumes") or [] if isinstance(v, Mapping)]


def _in_memory(volume: Mapping[str, Any]) -> bool:
    source = volume.get("emptyDir")
    return isinstance(source, Mapping) and source.get("medium") == "Memory"


def prepare(
    pod_spec: Mapping[str, Any], *, state_dir: Path, config: PodConfig, namespace: str, pod: str
) -> dict[str, HostVolume]:
    """Materialize the pod's volumes on the host; ConfigError with the kubelet's message."""
    volumes = volume_specs(pod_spec)
    for volume in volumes:
        if not source_kind(volume):
            raise ConfigError(
                f'volume "{volume.get("name")}": this kind of volume is not supported on podman'
            )
    try:
        return prepare_volumes(
            [v for v in volumes if not _in_memory(v)],
            config=config,
            state_dir=state_dir,
            namespace=namespace,
            pod=pod,
            can_mount=False,
            pod_dir=pod_dir(state_dir, namespace, pod),
        )
    except (VolumeError, OSError) as exc:
        raise ConfigError(str(exc)) from None


def existing(
    pod_spec: Mapping[str, Any], *, state_dir: Path, namespace: str, pod: str
) -> dict[str, HostVolume]:
    """The volumes ``prepare`` made for a pod a previous daemon started (adopted)."""
    return existing_volumes(
        [v for v in volume_specs(pod_spec) if not _in_memory(v)],
        state_dir=state_dir,
        namespace=namespace,
        pod=pod,
        pod_dir=pod_dir(state_dir, namespace, pod),
    )


def volume_flags(
    pod_spec: Mapping[str, Any], container: Mapping[str, Any], host: Mapping[str, HostVolume]
) -> list[str]:
    """``--volume``/``--mount`` flags for one container; ConfigError for a bad reference."""
    volumes = {str(v.get("name")): v for v in volume_specs(pod_spec)}
    flags: list[str] = []
    binds = []
    for mount in container.get("volumeMounts") or []:
        name = str(mount.get("name", ""))
        volume = volumes.get(name)
        if volume is None:
            raise ConfigError(f'volume "{name}" is mounted but not defined in the pod')
        if _in_memory(volume):
            try:
                target = check_mount_path(str(mount.get("mountPath", "")))
            except MountPathError as exc:
                raise ConfigError(str(exc)) from None
            flags += ["--mount", f"type=tmpfs,destination={target}"]
        else:
            binds.append(mount)
    try:
        mounts = container_mounts({"volumeMounts": binds}, host)
    except (MountPathError, OSError) as exc:
        raise ConfigError(str(exc)) from None
    for item in mounts:
        flags += ["--volume", f"{item.source}:{item.target}{':ro' if item.read_only else ''}"]
    return flags


__all__ = ["existing", "pod_dir", "prepare", "volume_flags", "volume_specs"]
