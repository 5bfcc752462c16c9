"""What this host's podman needs, found out once, written into the state directory.

Debian 12 on a cgroup v1 "hybrid" host, as root without ``CAP_SYS_RESOURCE`` (a container, a
CI machine), runs podman only with ``runtime = "runc"`` (crun refuses the hybrid hierarchy),
``cgroup_manager = "cgroupfs"`` (no systemd to ask) and ``default_ulimits = []`` (podman's
default ``nofile=1048576`` exceeds the hard limit it may not raise). Without systemd's journal,
``podman events`` needs ``events_logger = "file"``. An ordinary host (systemd, cgroup v2,
rootless) needs none of it, and gets none: the file is written, and podman pointed at it with
``CONTAINERS_CONF``, only when at least one setting is needed. ``/etc`` is never edited.

>>> hybrid = needed_settings(HostFacts(cgroup_v2=False, systemd=False, journald=False,
...                                    nofile_hard=524288, runc=True, crun=True))
>>> hybrid["containers"], hybrid["engine"]["runtime"], hybrid["engine"]["cgroup_manager"]
({'default_ulimits': []}, 'runc', 'cgroupfs')
>>> needed_settings(HostFacts(cgroup_v2=True, systemd=True, journald=True,
...                           nofile_hard=1048576, runc=True, crun=True))
{}
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.runtime.layout import make_private_dir

PODMAN_NOFILE = 1_048_576  # podman's default_ulimits: nofile=1048576:1048576
CONF_NAME = "containers.conf"
MISSING = "podman not found: install it, or run with --runtime process"


class PodmanUnavailable(ReconcilerError):
    """podman is missing or does not work on this host (a clear message, never a traceback)."""


@dataclass(frozen=True, slots=True)
class HostFacts:
    cgroup_v2: bool
    systemd: bool  # systemd is the init system (its cgroup manager can be used)
    journald: bool
    nofile_hard: int
    runc: bool
    crun: bool

    @classmethod
    def probe(cls) -> HostFacts:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        return cls(
            cgroup_v2=Path("/sys/fs/cgroup/cgroup.controllers").exists(),
            systemd=Path("/run/systemd/system").is_dir(),
            journald=Path("/run/systemd/journal/socket").exists(),
            nofile_hard=PODMAN_NOFILE if hard == resource.RLIM_INFINITY else hard,
            runc=shutil.which("runc") is not None,
            crun=shutil.which("crun") is not None,
        )


def needed_settings(facts: HostFacts) -> dict[str, dict[str, Any]]:
    """The containers.conf settings this host needs beyond podman's defaults."""
    containers: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    if facts.nofile_hard < PODMAN_NOFILE:
        containers["default_ulimits"] = []
    if not facts.cgroup_v2 and facts.runc:
        engine["runtime"] = "runc"
    if not facts.systemd:
        engine["cgroup_manager"] = "cgroupfs"
    if not facts.journald:
        engine["events_logger"] = "file"
    out: dict[str, dict[str, Any]] = {}
    if containers:
        out["containers"] = containers
    if engine:
        out["engine"] = engine
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_conf(settings: dict[str, dict[str, Any]]) -> str:
    """A containers.conf (TOML) of ``settings``.

    >>> print(render_conf({"engine": {"runtime": "runc"}}), end="")
    # written by reconciler for this host; see reconciler/runtime/podman/host.py
    [engine]
    runtime = "runc"
    """
    lines = ["# written by reconciler for this host; see reconciler/runtime/podman/host.py"]
    for table, values in settings.items():
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


def podman_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "podman"


def state_id(state_dir: Path) -> str:
    """A short, stable name for a state directory, used in podman names and labels.

    >>> len(state_id(Path("/srv/app/.reconciler")))
    10
    """
    return hashlib.sha256(os.fspath(Path(state_dir).resolve()).encode()).hexdigest()[:10]


def podman_binary() -> str:
    found = shutil.which("podman")
    if found is None:
        raise PodmanUnavailable(f"error: {MISSING}")
    return found


def configure(state_dir: Path, facts: HostFacts | None = None) -> dict[str, str]:
    """Write this host's containers.conf (if it needs one) and return podman's environment."""
    settings = needed_settings(facts or HostFacts.probe())
    folder = make_private_dir(podman_dir(state_dir))
    conf = folder / CONF_NAME
    if settings:
        conf.write_text(render_conf(settings))
    else:
        conf.unlink(missing_ok=True)
    return podman_env(state_dir)


def podman_env(state_dir: Path) -> dict[str, str]:
    """The environment podman runs with for this state directory (the CLI uses it too)."""
    env = dict(os.environ)
    conf = podman_dir(state_dir) / CONF_NAME
    if conf.is_file():
        env["CONTAINERS_CONF"] = os.fspath(conf)
    return env


__all__ = [
    "MISSING",
    "HostFacts",
    "PodmanUnavailable",
    "configure",
    "needed_settings",
    "podman_binary",
    "podman_dir",
    "podman_env",
    "render_conf",
    "state_id",
]
