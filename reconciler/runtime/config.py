"""From a defaulted pod template to what ``exec`` needs: argv, environment, working dir.

The environment is the daemon's own (so tools on PATH keep working), then the pod's variables
(``PORT``, ``PORT_<NAME>``, ``POD_NAME``, ``POD_NAMESPACE``, ``POD_IP``, ``IMAGE``,
``IMAGE_NAME``, ``IMAGE_TAG``), then the container's ``env`` in order with ``$(VAR)``
expansion against the pod's variables and earlier entries (Kubernetes does not expand against
the node's environment, and neither do we). Finally the directory of the running Python is put
first on PATH, so ``python3`` in a manifest means the reconciler's interpreter.

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

from reconciler.runtime.expand import expand


class ConfigError(Exception):
    """The container cannot be created from its spec (``CreateContainerConfigError``)."""


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


def _field_ref(path: str, *, variables: Mapping[str, str], labels: Mapping[str, str]) -> str:
    simple = {
        "metadata.name": "POD_NAME",
        "metadata.namespace": "POD_NAMESPACE",
        "status.podIP": "POD_IP",
        "status.hostIP": "POD_IP",
    }
    if path in simple:
        return variables[simple[path]]
    if path.startswith("metadata.labels['") and path.endswith("']"):
        return labels.get(path[len("metadata.labels['") : -2], "")
    raise ConfigError(f"unsupported fieldRef {path!r}")


def container_config(
    container: Mapping[str, Any],
    *,
    variables: Mapping[str, str],
    labels: Mapping[str, str],
    base_dir: Path,
    base_env: Mapping[str, str] | None = None,
) -> ContainerConfig:
    """Argv, env and working dir of one container; ConfigError when it cannot be built."""
    name = container.get("name", "?")
    command = [str(part) for part in container.get("command") or []]
    if not command:
        raise ConfigError(
            f"container {name!r} has no command: the local runtime runs `command` (+ `args`), "
            "there is no image entrypoint to fall back to"
        )
    known = dict(variables)
    env = dict(os.environ if base_env is None else base_env)
    env.update(variables)
    for item in container.get("env") or []:
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        key = str(item["name"])
        if "valueFrom" in item:
            source = item["valueFrom"] or {}
            field = source.get("fieldRef") if isinstance(source, Mapping) else None
            if not isinstance(field, Mapping):
                kinds = ", ".join(sorted(source)) if isinstance(source, Mapping) else "valueFrom"
                raise ConfigError(f"env {key}: {kinds} is not available on the local runtime")
            value = _field_ref(str(field.get("fieldPath", "")), variables=known, labels=labels)
        else:
            value = expand(str(item.get("value", "")), known)
        env[key] = value
        known[key] = value
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
