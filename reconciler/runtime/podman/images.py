"""Images as the kubelet's image manager handles them: policy, pulls, events, errors.

``IfNotPresent`` uses a local image, ``Always`` asks the registry each time a container starts
(a cheap manifest check when nothing changed), ``Never`` fails with ``ErrImageNeverPull``
when the image is missing. Pulls of one reference are serialised (the kubelet's
``serializeImagePulls``), so three replicas starting together pull once and find it present.
Registry credentials come from the pod's ``imagePullSecrets``
(``kubernetes.io/dockerconfigjson`` Secrets: their ``.dockerconfigjson`` is the same JSON as
podman's auth file), merged into one 0600 file per pod; without them podman's own login
(``podman login``, ``REGISTRY_AUTH_FILE``) applies.

The events are the kubelet's, word for word: ``Pulling image "x"``, ``Successfully pulled
image "x" in 1.234s (1.234s including waiting)``, ``Container image "x" already present on
machine``, ``Failed to pull image "x": <the registry's message>``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.runtime import PodSpec
from reconciler.runtime.container import Pod
from reconciler.runtime.layout import write_private_json
from reconciler.runtime.podman.client import Podman

PULL_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """The image is ready (``error`` empty), or the container waits with ``reason``."""

    reason: str = ""  # ErrImagePull | ErrImageNeverPull
    error: str = ""
    image_id: str = ""  # the local image's ID (``sha256:...``) when ready

    @property
    def ok(self) -> bool:
        return not self.reason


def pull_auth(
    pod_spec: Mapping[str, Any], secrets: Mapping[str, Mapping[str, bytes]]
) -> tuple[dict[str, Any], list[str]]:
    """The merged ``auths`` of the pod's ``imagePullSecrets``, and the names not found.

    >>> secret = {".dockerconfigjson": b'{"auths": {"r.io": {"auth": "dTpw"}}}'}
    >>> pull_auth({"imagePullSecrets": [{"name": "reg"}, {"name": "gone"}]}, {"reg": secret})
    ({'auths': {'r.io': {'auth': 'dTpw'}}}, ['gone'])
    """
    auths: dict[str, Any] = {}
    missing: list[str] = []
    for ref in pod_spec.get("imagePullSecrets") or []:
        name = str(ref.get("name", "")) if isinstance(ref, Mapping) else ""
        data = secrets.get(name, {})
        raw = data.get(".dockerconfigjson") or data.get(".dockercfg")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            missing.append(name)
            continue
        entries = parsed.get("auths", parsed)  # .dockercfg is the bare map
        if isinstance(entries, dict):
            auths.update(entries)
    return {"auths": auths}, missing


def write_auth_file(path: Path, pod: PodSpec) -> tuple[Path | None, list[str]]:
    """Write the pod's pull credentials to ``path`` (0600); (the file or None, missing names)."""
    pod_spec = pod.template.get("spec") or {}
    if not pod_spec.get("imagePullSecrets"):
        return None, []
    auths, missing = pull_auth(pod_spec, pod.config.secrets)
    if not auths["auths"]:
        return None, missing
    write_private_json(path, auths)
    return path, missing


class Puller:
    def __init__(self, event: Callable[[Pod, str, str, str], None]) -> None:
        self._event = event
        self._locks: dict[str, asyncio.Lock] = {}

    async def ensure(
        self,
        podman: Podman,
        pod: Pod,
        *,
        image: str,
        ref: str,
        policy: str,
        auth_file: Path | None = None,
    ) -> Outcome:
        """Make ``ref`` present per ``policy``; ``image`` is the name as written (for events);
        ``auth_file``: the pod's ``imagePullSecrets`` as a podman auth file."""
        lock = self._locks.setdefault(ref, asyncio.Lock())
        waited = time.monotonic()
        async with lock:
            found = await podman.run("image", "inspect", "--format", "{{.Id}}", ref, timeout=60)
            present = found.ok and bool(found.stdout.strip())
            image_id = f"sha256:{found.stdout.strip()}" if present else ""
            if policy == "Never" and not present:
                message = f'Container image "{image}" is not present with pull policy of Never'
                self._event(pod, "Warning", "ErrImageNeverPull", message)
                return Outcome("ErrImageNeverPull", message)
            if policy == "Never" or (present and policy == "IfNotPresent"):
                self._event(
                    pod, "Normal", "Pulled", f'Container image "{image}" already present on machine'
                )
                return Outcome(image_id=image_id)
            self._event(pod, "Normal", "Pulling", f'Pulling image "{image}"')
            started = time.monotonic()
            auth = ["--authfile", str(auth_file)] if auth_file is not None else []
            result = await podman.run("pull", "--quiet", *auth, ref, timeout=PULL_TIMEOUT)
        if not result.ok:
            error = result.error()
            self._event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {error}')
            self._event(pod, "Warning", "Failed", "Error: ErrImagePull")
            return Outcome("ErrImagePull", f'failed to pull image "{image}": {error}')
        done = time.monotonic()
        self._event(
            pod,
            "Normal",
            "Pulled",
            f'Successfully pulled image "{image}" in {done - started:.3f}s '
            f"({done - waited:.3f}s including waiting)",
        )
        pulled = result.stdout.strip().splitlines()  # ``pull --quiet`` prints the image's ID
        return Outcome(image_id=f"sha256:{pulled[-1]}" if pulled else "")


__all__ = ["Outcome", "Puller", "pull_auth", "write_auth_file"]
