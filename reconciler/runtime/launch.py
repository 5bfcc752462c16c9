"""Before each start of a container: what exactly runs, or why it cannot start yet.

The process runtime's supervising task asks this before every start (the first and each
restart), so a fixed ConfigMap, a created Secret or an installed executable is picked up by the
next try. It brings together the container's config (``config.container_config``: argv, the
minimal base env, the pod's ConfigMaps and Secrets), its isolation (``isolation.pods``: volume
paths as variables where nothing can be mounted; a command or working directory that exists
only inside a volume), and the checks the kubelet makes, in the kubelet's words:

- a config that cannot be built (a missing ConfigMap key, no command):
  ``CreateContainerConfigError``, which waits for the next change rather than retrying;
- an executable not found: ``ErrImagePull`` (then ``ImagePullBackOff``), retried;
- a working directory that does not exist: ``CreateContainerError``, retried.

``argv`` then puts the program behind the isolation wrapper (``PodIsolation.command``): the one
argv the shim executes, ``argv[0]`` a path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from reconciler.runtime.config import (
    ConfigError,
    ContainerConfig,
    container_config,
    find_executable,
)
from reconciler.runtime.container import Container, Pod
from reconciler.runtime.isolation.pods import PodIsolation


@dataclass(frozen=True, slots=True)
class Refused:
    """Why the container cannot start now; ``retry`` with back-off, or wait for a change."""

    reason: str
    message: str
    retry: bool


@dataclass(frozen=True, slots=True)
class Launch:
    config: ContainerConfig
    program: str  # argv[0] resolved to a path


def check_start(
    pod: Pod, container: Container, isolated: PodIsolation, *, bind_host: str
) -> Launch | Refused:
    """The container's config and program, or why it cannot start (see the module docstring)."""
    try:
        config = container_config(
            container.spec,
            variables=pod.variables(container, bind_host),
            labels=pod.spec.labels,
            base_dir=pod.spec.base_dir,
            config=pod.spec.config,
            template=pod.spec.template,
        )
    except ConfigError as exc:
        return Refused("CreateContainerConfigError", str(exc), retry=False)
    if isolated.error:
        return Refused("CreateContainerConfigError", isolated.error, retry=False)
    config = dataclasses.replace(config, env={**config.env, **isolated.env(container.name)})
    program = find_executable(config.argv[0], path=config.env["PATH"], cwd=config.cwd)
    if program is None and isolated.exists_inside(container.name, config.argv[0], executable=True):
        program = config.argv[0]  # a script from a volume, at its mountPath
    if program is None:
        return Refused(
            "ErrImagePull",
            f'failed to pull image "{container.image}": exec: "{config.argv[0]}": '
            "executable file not found in $PATH",
            retry=True,
        )
    if not config.cwd.is_dir() and not isolated.exists_inside(container.name, str(config.cwd)):
        return Refused(
            "CreateContainerError",
            f'working directory "{config.cwd}" does not exist',
            retry=True,
        )
    return Launch(config, program)


def argv(isolated: PodIsolation, container: Container, launch: Launch) -> tuple[str, ...]:
    """The one argv that runs the instance: the program behind the isolation wrapper (joining
    the container's cgroups, mounting its volumes) when it has anything to do, else as is.
    OSError for a mount plan that cannot be made (a start error)."""
    program = [launch.program, *launch.config.argv[1:]]
    return tuple(isolated.command(container.name, program, cwd=launch.config.cwd))


def spawn_cwd(cwd: Path) -> Path:
    """Where the shim starts the instance: a workingDir inside a volume exists only once the
    wrapper has mounted it (the wrapper then changes into it)."""
    return cwd if cwd.is_dir() else Path("/")


__all__ = ["Launch", "Refused", "argv", "check_start", "spawn_cwd"]
