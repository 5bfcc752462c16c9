"""From a defaulted pod template to what ``exec`` needs: argv, environment, working dir.

The environment is what Kubernetes gives a container (``reconciler.manifests.podenv``): a minimal
base (``PATH``, ``HOME``, ``HOSTNAME``) — never the daemon's own environment — then the
namespace's service variables, the pod's variables (``PORT``, ``PORT_<NAME>``, ``POD_NAME``,
``POD_NAMESPACE``, ``POD_IP``, ``IMAGE``, ``IMAGE_NAME``, ``IMAGE_TAG``), ``envFrom`` and the
container's ``env`` with ``$(VAR)`` expansion and ``valueFrom``. Finally the directory of the
running Python is put first on PATH, so ``python3`` in a manifest means the reconciler's
interpreter (and ``python3 -m reconciler.demoapp`` works from any install).

>>> image_parts("registry:5000/team/demo:1.2"), image_parts("demo")
(('registry:5000/team/demo', '1.2'), ('demo', 'latest'))
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.manifests.expand import expand
from reconciler.manifests.podenv import ConfigError, PodFacts, base_environment, container_env
from reconciler.runtime import PodConfig

__all__ = [
    "ConfigError",
    "ContainerConfig",
    "container_config",
    "env_key",
    "find_executable",
    "image_parts",
    "pod_variables",
]


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path


def image_parts(image: str) -> tuple[str, str]:
    """``demo:1.2`` → (``demo``, ``1.2``); no tag → ``latest``; a digest is ignored."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
        return repo, tag
    return name, "latest"


def env_key(port_name: str) -> str:
    """``metrics-http`` → ``PORT_METRICS_HTTP``."""
    return "PORT_" + port_name.upper().replace("-", "_")


def pod_variables(
    *,
    pod: str,
    namespace: str,
    pod_ip: str,
    image: str,
    container_ports: list[int],
    pod_port_names: Mapping[str, int],
    first_pod_port: int | None,
) -> dict[str, str]:
    """The variables every container of the pod sees (``container_ports``: its host ports)."""
    name, tag = image_parts(image)
    variables = {
        "POD_NAME": pod,
        "POD_NAMESPACE": namespace,
        "POD_IP": pod_ip,
        "IMAGE": image,
        "IMAGE_NAME": name,
        "IMAGE_TAG": tag,
    }
    first = container_ports[0] if container_ports else first_pod_port
    if first is not None:
        variables["PORT"] = str(first)
    for port_name, host_port in pod_port_names.items():
        variables[env_key(port_name)] = str(host_port)
    return variables


def container_config(
    container: Mapping[str, Any],
    *,
    variables: Mapping[str, str],
    labels: Mapping[str, str],
    base_dir: Path,
    base_env: Mapping[str, str] | None = None,
    config: PodConfig | None = None,
    template: Mapping[str, Any] | None = None,
) -> ContainerConfig:
    """Argv, env and working dir of one container; ConfigError when it cannot be built.

    ``base_env`` replaces the minimal base (tests); ``config`` is the pod's ``PodSpec.config``
    and ``template`` its pod template (annotations and other containers, for ``fieldRef`` and
    ``resourceFieldRef``).
    """
    name = container.get("name", "?")
    command = [str(part) for part in container.get("command") or []]
    if not command:
        raise ConfigError(
            f"container {name!r} has no command: the local runtime runs `command` (+ `args`), "
            "there is no image entrypoint to fall back to"
        )
    metadata = (template or {}).get("metadata") or {}
    pod_spec = (template or {}).get("spec") or {}
    pod_name = variables.get("POD_NAME", "")
    facts = PodFacts(
        name=pod_name,
        namespace=variables.get("POD_NAMESPACE", ""),
        labels=labels,
        annotations={str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()},
        pod_ip=variables.get("POD_IP", "127.0.0.1"),
        host_ip=variables.get("POD_IP", "127.0.0.1"),
        service_account=str(pod_spec.get("serviceAccountName") or "default"),
        containers=[c for c in pod_spec.get("containers") or [container] if isinstance(c, Mapping)],
    )
    base = base_environment(pod_name) if base_env is None else base_env
    known = container_env(container, pod=facts, config=config or PodConfig(), variables=variables)
    env = {**base, **known}
    python_dir = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join(
        part for part in (python_dir, env.get("PATH", os.defpath)) if part
    )
    args = [str(part) for part in container.get("args") or []]
    argv = tuple(expand(part, known) for part in [*command, *args])
    working_dir = container.get("workingDir")
    cwd = base_dir / str(working_dir) if working_dir else base_dir
    return ContainerConfig(argv=argv, env=env, cwd=cwd)


def find_executable(program: str, *, path: str, cwd: Path) -> str | None:
    """Where ``exec`` would find ``program``: by PATH, or relative to ``cwd`` if it has a ``/``."""
    if "/" in program:
        candidate = cwd / program
        ok = candidate.is_file() and os.access(candidate, os.X_OK)
        return str(candidate) if ok else None
    return shutil.which(program, path=path)
