"""From a container spec to podman's words: image references, pull policy, names, labels, flags.

Pure functions, so the mapping is tested without podman. Kubernetes' rules, as the kubelet
applies them:

- an image without a registry is Docker Hub's (``httpd`` → ``docker.io/library/httpd:latest``),
  as containerd normalises it: podman's own short-name resolution would prompt, or refuse
  without a terminal;
- ``imagePullPolicy`` defaults to ``Always`` for ``:latest`` or no tag, else ``IfNotPresent``;
- ``command`` replaces the image's ENTRYPOINT (and drops its CMD), ``args`` replaces CMD;
- ``resources.limits.memory`` → ``--memory`` (and no extra swap), ``limits.cpu`` → ``--cpus``.

>>> normalize_image("httpd"), normalize_image("nginx:1.16.1")
('docker.io/library/httpd:latest', 'docker.io/library/nginx:1.16.1')
>>> normalize_image("127.0.0.1:5000/demo"), normalize_image("quay.io/x/y@sha256:ab")
('127.0.0.1:5000/demo:latest', 'quay.io/x/y@sha256:ab')
>>> pull_policy({"image": "web"}), pull_policy({"image": "web:2"})
('Always', 'IfNotPresent')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.runtime.isolation.quantity import memory_bytes, parse_quantity

LABEL_STATE_DIR = "io.reconciler.state-dir"
LABEL_STATE_ID = "io.reconciler.state-id"
LABEL_POD = "io.reconciler.pod"
LABEL_NAMESPACE = "io.reconciler.namespace"
LABEL_REPLICASET = "io.reconciler.replicaset"
LABEL_CONTAINER = "io.reconciler.container"


def _has_registry(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost"


def normalize_image(image: str) -> str:
    """The fully qualified reference podman pulls (see the module docstring)."""
    name, at, digest = image.partition("@")
    parts = name.split("/")
    if len(parts) == 1 or not _has_registry(parts[0]):
        if len(parts) == 1:
            parts = ["library", *parts]
        parts = ["docker.io", *parts]
    name = "/".join(parts)
    if not at and ":" not in parts[-1]:
        name += ":latest"
    return name + at + digest


def pull_policy(container: Mapping[str, Any]) -> str:
    """``imagePullPolicy``, or Kubernetes' default for the image's tag."""
    given = container.get("imagePullPolicy")
    if given in ("Always", "IfNotPresent", "Never"):
        return str(given)
    image = str(container.get("image") or "")
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def pod_name(state: str, namespace: str, pod: str) -> str:
    """The podman pod's name: unique per state directory, readable in ``podman pod ps``.

    >>> pod_name("0123456789", "default", "web-5d4f8-abcde")
    'rc-0123456789-default-web-5d4f8-abcde'
    """
    return f"rc-{state}-{namespace}-{pod}"


def container_name(pod: str, container: str, instance: int) -> str:
    """One container instance: a restart is a new container, as the kubelet makes one."""
    return f"{pod}-{container}-{instance}"


def labels(*, state_dir: str, state: str, namespace: str, pod: str, owner: str) -> list[str]:
    """``--label`` flags naming whose a podman object is (cleanup goes by these only)."""
    values = {
        LABEL_STATE_DIR: state_dir,
        LABEL_STATE_ID: state,
        LABEL_NAMESPACE: namespace,
        LABEL_POD: pod,
        LABEL_REPLICASET: owner,
    }
    out: list[str] = []
    for key, value in values.items():
        out += ["--label", f"{key}={value}"]
    return out


def limit_flags(container: Mapping[str, Any]) -> list[str]:
    """``--memory``/``--memory-swap``/``--cpus`` from ``resources.limits``.

    >>> limit_flags({"resources": {"limits": {"memory": "64Mi", "cpu": "250m"}}})
    ['--memory', '67108864', '--memory-swap', '67108864', '--cpus', '0.25']
    """
    limits = (container.get("resources") or {}).get("limits") or {}
    out: list[str] = []
    if limits.get("memory") is not None:
        memory = str(memory_bytes(limits["memory"]))
        out += ["--memory", memory, "--memory-swap", memory]  # no swap beyond the limit
    if limits.get("cpu") is not None:
        out += ["--cpus", f"{float(parse_quantity(limits['cpu'])):g}"]
    return out


def create_args(
    container: Mapping[str, Any],
    *,
    image: str,
    env: Mapping[str, str],
    command: Sequence[str],
    args: Sequence[str],
) -> list[str]:
    """The part of ``podman create`` that comes from the container spec (after ``create``)."""
    out: list[str] = []
    for key, value in env.items():
        out += ["--env", f"{key}={value}"]
    if container.get("workingDir"):
        out += ["--workdir", str(container["workingDir"])]
    if command:
        out += ["--entrypoint", json.dumps(list(command))]
    out += limit_flags(container)
    if container.get("tty"):
        out.append("--tty")
    if container.get("stdin"):
        out.append("--interactive")
    out.append(image)
    out += list(args)
    return out


__all__ = [
    "LABEL_CONTAINER",
    "LABEL_NAMESPACE",
    "LABEL_POD",
    "LABEL_REPLICASET",
    "LABEL_STATE_DIR",
    "LABEL_STATE_ID",
    "container_name",
    "create_args",
    "labels",
    "limit_flags",
    "normalize_image",
    "pod_name",
    "pull_policy",
]
