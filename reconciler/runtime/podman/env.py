"""A container's environment, command and args on podman, from the shared env resolution.

``reconciler.runtime.config.container_config`` resolves ``env`` (``$(VAR)``, ``valueFrom``)
for both runtimes; this module only adapts its result to a container: the environment starts
empty (the image's own ``ENV`` supplies ``PATH`` and the rest, never the daemon's environment),
the pod's variables name *container* ports (inside the pod the app listens on its
``containerPort``; the host port is only the outside of the mapping), and ``command``/``args``
stay apart, because they replace the image's ENTRYPOINT and CMD separately.

>>> spec = {"name": "web", "command": ["httpd", "-p", "$(PORT)"],
...         "env": [{"name": "A", "value": "1"}]}
>>> from reconciler.runtime import PodSpec
>>> from pathlib import Path
>>> pod = PodSpec("web-1", "default", "web-rs", {}, {}, Path("."))
>>> env, command, args = container_env(spec, pod=pod, pod_ip="", ports=[("80", "http")])
>>> command, args, env["PORT"], env["PORT_HTTP"], env["A"], "PATH" in env, "POD_IP" in env
(['httpd', '-p', '80'], [], '80', '80', '1', False, False)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.manifests.expand import expand
from reconciler.runtime import PodSpec
from reconciler.runtime.config import container_config, pod_variables

_IMAGE_VARIABLES = ("IMAGE", "IMAGE_NAME", "IMAGE_TAG")  # the process runtime's stand-ins


def container_env(
    spec: Mapping[str, Any],
    *,
    pod: PodSpec,
    pod_ip: str,
    ports: Sequence[tuple[str, str]],
) -> tuple[dict[str, str], list[str], list[str]]:
    """(env, command, args) with ``$(VAR)`` expanded; ConfigError when env cannot be built."""
    own = [
        int(p["containerPort"])
        for p in spec.get("ports") or []
        if isinstance(p, Mapping) and "containerPort" in p
    ]
    variables = pod_variables(
        pod=pod.name,
        namespace=pod.namespace,
        pod_ip=pod_ip,
        image=str(spec.get("image", "")),
        container_ports=own,
        pod_port_names={name: int(number) for number, name in ports if name},
        first_pod_port=int(ports[0][0]) if ports else None,
    )
    for key in _IMAGE_VARIABLES:
        variables.pop(key, None)
    if not pod_ip:
        variables.pop("POD_IP")  # nothing refers to it (``needs_pod_ip``): not looked up
    # container_config insists on a command (the process runtime has no image to fall back
    # to); here none is fine: the image's ENTRYPOINT runs. Give it one to build the env.
    shaped = {**spec, "command": spec.get("command") or ["-"]}
    built = container_config(
        shaped, variables=variables, labels=pod.labels, base_dir=pod.base_dir, base_env={}
    )
    env = dict(built.env)
    declared = {
        str(item.get("name")) for item in spec.get("env") or [] if isinstance(item, Mapping)
    }
    if "PATH" not in declared:
        env.pop("PATH", None)  # the daemon's interpreter directory means nothing in an image
    command = [expand(str(part), env) for part in spec.get("command") or []]
    args = [expand(str(part), env) for part in spec.get("args") or []]
    return env, command, args


def needs_pod_ip(specs: Iterable[Mapping[str, Any]]) -> bool:
    """Does any container refer to the pod's IP (``$(POD_IP)``, ``status.podIP``)? Only then
    is it looked up (one more podman call before the containers start).

    >>> field = {"fieldRef": {"fieldPath": "status.podIP"}}
    >>> needs_pod_ip([{"env": [{"name": "IP", "valueFrom": field}]}])
    True
    >>> needs_pod_ip([{"command": ["httpd"]}])
    False
    """
    text = json.dumps(list(specs), default=str)
    return any(word in text for word in ("POD_IP", "status.podIP", "status.hostIP"))


def with_exec_via_podman(
    spec: Mapping[str, Any], *, binary: str, container_id: str
) -> dict[str, Any]:
    """The spec with every ``exec`` probe run through ``podman exec`` in the container.

    >>> probe = {"exec": {"command": ["cat", "/tmp/ok"]}, "periodSeconds": 1}
    >>> out = with_exec_via_podman({"readinessProbe": probe}, binary="podman", container_id="c1")
    >>> out["readinessProbe"]["exec"]["command"], out["readinessProbe"]["periodSeconds"]
    (['podman', 'exec', 'c1', 'cat', '/tmp/ok'], 1)
    """
    out = dict(spec)
    for key in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = spec.get(key)
        if isinstance(probe, Mapping) and isinstance(probe.get("exec"), Mapping):
            command = [str(part) for part in probe["exec"].get("command") or []]
            if command:
                command = [binary, "exec", container_id, *command]
            out[key] = {**probe, "exec": {**probe["exec"], "command": command}}
    return out


__all__ = ["container_env", "needs_pod_ip", "with_exec_via_podman"]
