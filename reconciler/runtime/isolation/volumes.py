"""A pod's volumes on the host side, under the state directory, and the kubelet's atomic update.

``configMap`` and ``secret`` volumes are written as the kubelet's ``AtomicWriter`` writes them::

    <vol>/..2026_12_01_10_00_00.123456789/<path>   the files of one version (defaultMode)
    <vol>/..data -> ..2026_12_01_10_00_00.123456789
    <vol>/<first path component> -> ..data/<first path component>

An update writes a new version directory, then swaps ``..data`` with one ``rename`` (atomic), so
a reader sees the old files or the new ones, never a mix, and the bind mount (a directory) shows
the change in place. ``emptyDir`` is a directory of the pod's (a tmpfs mounted on the host side
for ``medium: Memory``, so its containers share it), removed with the pod;
``persistentVolumeClaim`` is ``persistentvolumeclaims/<namespace>/<claimName>``, which outlives
every pod; ``hostPath`` is the host's own path (checked or created by its ``type``).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.runtime import PodConfig
from reconciler.runtime.isolation import syscalls as sc
from reconciler.runtime.isolation.mounts import Mount, check_mount_path
from reconciler.runtime.isolation.quantity import memory_bytes
from reconciler.runtime.layout import check_label, check_subdomain, make_private_dir

DEFAULT_MODE = 0o644
DATA = "..data"
SOURCES = ("configMap", "secret", "emptyDir", "hostPath", "persistentVolumeClaim")


class VolumeError(Exception):
    """The kubelet's MountVolume.SetUp failure, with its message."""


@dataclass(frozen=True, slots=True)
class HostVolume:
    name: str
    kind: str  # one of SOURCES
    path: Path
    read_only: bool = False  # configMap and secret are always mounted read-only
    is_file: bool = False
    tmpfs: bool = False  # a tmpfs this runtime mounted on the host (unmounted with the pod)


def pod_volumes_dir(state_dir: Path, namespace: str, pod: str) -> Path:
    check_label(namespace, what="namespace")
    check_subdomain(pod, what="pod")
    return state_dir / "volumes" / namespace / pod


def claim_dir(state_dir: Path, namespace: str, claim: str) -> Path:
    check_label(namespace, what="namespace")
    check_subdomain(claim, what="persistentVolumeClaim")
    return state_dir / "persistentvolumeclaims" / namespace / claim


def source_kind(volume: Mapping[str, Any]) -> str:
    return next((k for k in SOURCES if k in volume), "")


def config_files(
    volume: Mapping[str, Any], config: PodConfig, *, name: str
) -> dict[str, tuple[bytes, int]] | None:
    """path -> (content, mode) of a configMap or secret volume; None if it must stay empty
    (an optional object that does not exist). VolumeError with the kubelet's words."""
    kind = source_kind(volume)
    source = volume[kind] or {}
    if kind == "configMap":
        object_name, objects, noun = str(source.get("name", "")), config.config_maps, "configmap"
        missing_key = "configmap references non-existent config key: {}"
    else:
        object_name, objects, noun = str(source.get("secretName", "")), config.secrets, "secret"
        missing_key = "references non-existent secret key: {}"
    optional = bool(source.get("optional", False))
    data = objects.get(object_name)
    if data is None:
        if optional:
            return None
        raise VolumeError(
            f'MountVolume.SetUp failed for volume "{name}" : {noun} "{object_name}" not found'
        )
    default_mode = int(source.get("defaultMode", DEFAULT_MODE))
    items = source.get("items")
    if not items:
        return {key: (value, default_mode) for key, value in sorted(data.items())}
    files = {}
    for item in items:
        key = str(item.get("key", ""))
        if key not in data:
            if optional:
                continue
            message = missing_key.format(key)
            raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {message}')
        files[str(item["path"])] = (data[key], int(item.get("mode", default_mode)))
    return files


def write_atomic(directory: Path, files: Mapping[str, tuple[bytes, int]]) -> bool:
    """Make ``directory`` hold exactly ``files`` the AtomicWriter way; False if unchanged."""
    make_private_dir(directory)
    current = directory / DATA
    if current.is_symlink() and _same(current, files):
        return False
    version = directory / time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    version = version.with_name(f"{version.name}{time.time_ns() % 10**9:09d}")
    version.mkdir(mode=0o755)
    for relative, (content, mode) in files.items():
        target = version / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(target, mode & 0o7777)
    old = os.readlink(current) if current.is_symlink() else None
    swap = directory / "..data_tmp"
    with contextlib.suppress(FileNotFoundError):
        swap.unlink()
    swap.symlink_to(version.name)
    os.replace(swap, current)  # the one atomic step readers can see
    wanted = {relative.split("/", 1)[0] for relative in files}
    for top in sorted(wanted):
        link = directory / top
        if not link.is_symlink():
            link.symlink_to(posixpath.join(DATA, top))
    for entry in directory.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.name not in wanted and entry.is_symlink():
            entry.unlink()
    if old:
        shutil.rmtree(directory / old, ignore_errors=True)
    return True


def _same(current: Path, files: Mapping[str, tuple[bytes, int]]) -> bool:
    root = current.resolve()
    present = {
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.is_symlink()
    }
    if present != set(files):
        return False
    for relative, (content, mode) in files.items():
        path = root / relative
        if stat.S_IMODE(path.stat().st_mode) != mode & 0o7777 or path.read_bytes() != content:
            return False
    return True


def _host_path(volume: Mapping[str, Any], *, name: str) -> HostVolume:
    source = volume.get("hostPath") or {}
    path = Path(str(source.get("path", "")))
    kind = str(source.get("type", "") or "")
    failed = f'MountVolume.SetUp failed for volume "{name}" : hostPath type check failed: {path}'
    if kind == "DirectoryOrCreate" and not path.exists():
        path.mkdir(mode=0o755, parents=True)
    elif kind == "FileOrCreate" and not path.exists():
        if not path.parent.is_dir():
            raise VolumeError(f"{failed} (its parent directory does not exist)")
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    checks = {
        "Directory": (path.is_dir, "is not a directory"),
        "DirectoryOrCreate": (path.is_dir, "is not a directory"),
        "File": (path.is_file, "is not a file"),
        "FileOrCreate": (path.is_file, "is not a file"),
        "Socket": (path.is_socket, "is not a socket file"),
        "CharDevice": (path.is_char_device, "is not a character device"),
        "BlockDevice": (path.is_block_device, "is not a block device"),
    }
    if kind in checks:
        check, problem = checks[kind]
        if not check():
            raise VolumeError(f"{failed} {problem}")
    elif not path.exists():
        raise VolumeError(f"{failed} does not exist")
    return HostVolume(name, "hostPath", path, is_file=not path.is_dir())


def prepare_volumes(
    volumes: list[Mapping[str, Any]],
    *,
    config: PodConfig,
    state_dir: Path,
    namespace: str,
    pod: str,
    can_mount: bool,
    pod_dir: Path | None = None,
) -> dict[str, HostVolume]:
    """Materialize every volume of the pod; VolumeError (after undoing) on the first failure.

    ``pod_dir``: where the pod's own volumes go (default ``pod_volumes_dir``; the podman
    runtime keeps its pods' apart); claims are always ``claim_dir``, shared by both runtimes."""
    pod_dir = pod_dir or pod_volumes_dir(state_dir, namespace, pod)
    out: dict[str, HostVolume] = {}
    try:
        for volume in volumes:
            name = str(volume.get("name", ""))
            kind = source_kind(volume)
            if kind in ("configMap", "secret"):
                path = pod_dir / check_label(name, what="volume")
                files = config_files(volume, config, name=name)
                write_atomic(path, files or {})
                out[name] = HostVolume(name, kind, path, read_only=True)
            elif kind == "emptyDir":
                path = make_private_dir(pod_dir / check_label(name, what="volume"))
                os.chmod(path, 0o777)  # as the kubelet makes it: any user of the pod may write
                source = volume.get("emptyDir") or {}
                tmpfs = source.get("medium") == "Memory" and can_mount
                if tmpfs:
                    options = "mode=0777"
                    if source.get("sizeLimit") is not None:
                        options += f",size={memory_bytes(source['sizeLimit'])}"
                    sc.mount("tmpfs", str(path), "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, options)
                out[name] = HostVolume(name, kind, path, tmpfs=tmpfs)
            elif kind == "persistentVolumeClaim":
                claim = str((volume.get(kind) or {}).get("claimName", ""))
                path = make_private_dir(claim_dir(state_dir, namespace, claim))
                read_only = bool((volume.get(kind) or {}).get("readOnly", False))
                out[name] = HostVolume(name, kind, path, read_only=read_only)
            elif kind == "hostPath":
                out[name] = _host_path(volume, name=name)
    except BaseException:
        remove_volumes(out.values(), pod_dir=pod_dir)
        raise
    return out


def existing_volumes(
    volumes: list[Mapping[str, Any]],
    *,
    state_dir: Path,
    namespace: str,
    pod: str,
    pod_dir: Path | None = None,
) -> dict[str, HostVolume]:
    """The pod's volumes as ``prepare_volumes`` left them, without touching anything (a pod
    adopted by a new daemon: its files and tmpfs mounts are still in place)."""
    pod_dir = pod_dir or pod_volumes_dir(state_dir, namespace, pod)
    out: dict[str, HostVolume] = {}
    for volume in volumes:
        name = str(volume.get("name", ""))
        kind = source_kind(volume)
        source = volume.get(kind) or {}
        if kind in ("configMap", "secret"):
            out[name] = HostVolume(name, kind, pod_dir / name, read_only=True)
        elif kind == "emptyDir":
            path = pod_dir / name
            out[name] = HostVolume(name, kind, path, tmpfs=os.path.ismount(path))
        elif kind == "persistentVolumeClaim":
            path = claim_dir(state_dir, namespace, str(source.get("claimName", "")))
            out[name] = HostVolume(name, kind, path, read_only=bool(source.get("readOnly")))
        elif kind == "hostPath":
            path = Path(str(source.get("path", "")))
            out[name] = HostVolume(name, kind, path, is_file=path.exists() and not path.is_dir())
    return out


def update_config_volumes(
    volumes: list[Mapping[str, Any]], host: Mapping[str, HostVolume], config: PodConfig
) -> list[str]:
    """Rewrite the configMap and secret volumes from new values, in place; the names changed.

    An object that went missing keeps its last files, as the kubelet does."""
    changed = []
    for volume in volumes:
        name = str(volume.get("name", ""))
        if source_kind(volume) not in ("configMap", "secret") or name not in host:
            continue
        try:
            files = config_files(volume, config, name=name)
        except VolumeError:
            continue
        if write_atomic(host[name].path, files or {}):
            changed.append(name)
    return changed


def remove_volumes(volumes: Any, *, pod_dir: Path) -> None:
    """Unmount the pod's tmpfs volumes and remove its directory (never a claim or host path)."""
    for volume in volumes:
        if volume.tmpfs:
            with contextlib.suppress(OSError):
                sc.umount(str(volume.path), sc.MNT_DETACH)
    shutil.rmtree(pod_dir, ignore_errors=True)
    for parent in (pod_dir.parent, pod_dir.parent.parent):
        with contextlib.suppress(OSError):
            parent.rmdir()


def container_mounts(container: Mapping[str, Any], host: Mapping[str, HostVolume]) -> list[Mount]:
    """The container's ``volumeMounts`` as binds of the pod's host volumes (``subPath`` too)."""
    out = []
    for item in container.get("volumeMounts") or []:
        volume = host.get(str(item.get("name", "")))
        if volume is None:
            continue
        source = volume.path
        sub_path = str(item.get("subPath") or "")
        if sub_path:
            source = volume.path / sub_path
            if volume.kind in ("emptyDir", "persistentVolumeClaim") and not source.exists():
                source.mkdir(parents=True, mode=0o755)
        out.append(
            Mount(
                source=os.fspath(source),
                target=check_mount_path(str(item.get("mountPath", ""))),
                read_only=volume.read_only or bool(item.get("readOnly", False)),
                is_file=source.exists() and not source.is_dir(),
            )
        )
    return out


def unmount_leftovers(only: list[Path]) -> list[str]:
    """Unmount tmpfs volumes of the pod directories ``only`` (a crashed daemon's pods)."""
    roots = [os.path.realpath(pod) + "/" for pod in only]
    found = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = line.split()[4].replace("\\040", " ")
            if any((point + "/").startswith(root) for root in roots):
                found.append(point)
    for point in sorted(found, reverse=True):
        with contextlib.suppress(OSError):
            sc.umount(point, sc.MNT_DETACH)
    return found


__all__ = [
    "HostVolume",
    "VolumeError",
    "claim_dir",
    "config_files",
    "container_mounts",
    "existing_volumes",
    "pod_volumes_dir",
    "prepare_volumes",
    "remove_volumes",
    "unmount_leftovers",
    "update_config_volumes",
    "write_atomic",
]
