"""Podman pods outlive the daemon: what it records for its successor, and the adoption.

A stopping daemon (``detach``) leaves its podman containers running; a killed one leaves them
too. Each pod's record (``<state>/podman/pods/<ns>/<pod>.json``, 0600, written at every
container start and Ready change) holds what a successor needs to take the pod over as it
was: the spec (template, owner, config), the podman pod's name and ID, the host ports, and per
container the current and previous podman container (ID and name), its start time, restart
count and last Ready state. At ``start`` a pod is adopted only when podman still has that pod
ID under that name, with our labels naming this state directory, and every recorded current
container under its ID in that pod, started no later than recorded (a container started
again since has a later start). What does not verify is removed (``pod_not_adopted``), as is
anything else carrying our state-id label. ``stop_all`` is ``reconciler down``'s podman part.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from reconciler.errors import ReconcilerError
from reconciler.runtime import ContainerState, PodConfig, PodSpec, PodStatus
from reconciler.runtime.container import Pod
from reconciler.runtime.isolation.volumes import remove_volumes
from reconciler.runtime.layout import read_json
from reconciler.runtime.podman import volumes
from reconciler.runtime.podman.env import with_exec_via_podman
from reconciler.runtime.podman.host import podman_dir
from reconciler.runtime.podman.records import remove_record
from reconciler.runtime.podman.translate import LABEL_CONTAINER, LABEL_POD, LABEL_STATE_ID

if TYPE_CHECKING:
    from reconciler.runtime.podman.runtime import PodmanPod, PodmanRuntime

log = structlog.get_logger(component="runtime", runtime="podman")

START_SLACK = 2.0  # seconds: podman's start time vs ours, taken just after ``run`` returned
RUN_WINDOW = 180.0  # a recorded start is at most this long after podman's (``run`` timeout)


def _b64(data: dict[str, dict[str, bytes]]) -> dict[str, dict[str, str]]:
    return {
        name: {key: base64.b64encode(value).decode() for key, value in items.items()}
        for name, items in data.items()
    }


def _unb64(data: Any) -> dict[str, dict[str, bytes]]:
    if not isinstance(data, dict):
        return {}
    return {
        str(name): {str(k): base64.b64decode(v) for k, v in items.items()}
        for name, items in data.items()
        if isinstance(items, dict)
    }


def spec_record(spec: PodSpec) -> dict[str, Any]:
    config = spec.config
    return {
        "name": spec.name,
        "namespace": spec.namespace,
        "owner": spec.owner,
        "labels": dict(spec.labels),
        "template": spec.template,
        "base_dir": str(spec.base_dir),
        "config_maps": _b64({k: dict(v) for k, v in config.config_maps.items()}),
        "secrets": _b64({k: dict(v) for k, v in config.secrets.items()}),
        "services": dict(config.services),
    }


def spec_of(record: dict[str, Any]) -> PodSpec:
    return PodSpec(
        name=str(record["name"]),
        namespace=str(record["namespace"]),
        owner=str(record["owner"]),
        labels=dict(record.get("labels") or {}),
        template=dict(record["template"]),
        base_dir=Path(str(record["base_dir"])),
        config=PodConfig(
            config_maps=_unb64(record.get("config_maps")),
            secrets=_unb64(record.get("secrets")),
            services=dict(record.get("services") or {}),
        ),
    )


def pod_record(entry: PodmanPod) -> dict[str, Any]:
    """Everything a successor needs to adopt ``entry``."""
    containers: dict[str, dict[str, Any]] = {}
    for container in entry.pod.containers:
        current = entry.current.get(container.name)
        if current is None:
            continue
        previous = entry.previous.get(container.name)
        containers[container.name] = {
            "id": current.id,
            "name": current.name,
            "image_id": current.image_id,
            "previous": previous.id if previous is not None else "",
            "previous_name": previous.name if previous is not None else "",
            "instances": container.instances,
            "restarts": container.restart_count,
            "started_at": container.started_at,
            "ready": container.ready,
            "started": container.started,
            "last_exit_code": container.last_exit_code,
            "last_reason": container.last_reason,
        }
    return {
        "pod": entry.name,
        "pod_id": entry.pod_id,
        "ip": entry.ip,
        "ports": dict(entry.pod.ports),
        "created_at": entry.pod.created_at,
        "spec": spec_record(entry.pod.spec),
        "containers": containers,
    }


def _started_at(value: object) -> float | None:
    """podman ps's ``StartedAt`` (unix seconds) or inspect's RFC 3339 time."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _verify(record: dict[str, Any], pods: dict[str, str], ps: dict[str, dict[str, Any]]) -> str:
    """Why ``record`` cannot be adopted ("" when it can)."""
    if pods.get(str(record.get("pod"))) != record.get("pod_id") or not record.get("pod_id"):
        return "its podman pod is gone or is another one"
    spec = record.get("spec") or {}
    for name, item in (record.get("containers") or {}).items():
        found = ps.get(str(item.get("id")))
        if found is None:
            return f"container {name}'s podman container is gone"
        labels = found.get("Labels") or {}
        if found.get("Pod") != record["pod_id"] or labels.get(LABEL_CONTAINER) != name:
            return f"container {name}'s podman container is another one"
        if labels.get(LABEL_POD) != spec.get("name"):
            return f"container {name}'s podman container is another pod's"
        podman_start = _started_at(found.get("StartedAt"))
        ours = item.get("started_at")
        if podman_start is None or not isinstance(ours, int | float):
            return f"container {name} has no start time"
        if not (podman_start - START_SLACK <= ours <= podman_start + RUN_WINDOW):
            return f"container {name} was started again since"
    return ""


async def adopt(runtime: PodmanRuntime) -> None:
    """Take over the pods a previous daemon left running; remove everything else of ours."""
    podman = runtime.podman
    label = f"label={LABEL_STATE_ID}={runtime.state}"
    listed = await podman.json(
        "ps", "-a", "--pod", "--filter", label, "--format", "json", timeout=120
    )
    ps = {str(c["Id"]): c for c in listed or [] if isinstance(c, dict) and c.get("Id")}
    listed_pods = await podman.json("pod", "ps", "--filter", label, "--format", "json")
    pods = {str(p.get("Name")): str(p.get("Id")) for p in listed_pods or [] if isinstance(p, dict)}
    kept_pods: set[str] = set()
    kept_containers: set[str] = set()
    for path in sorted((podman_dir(runtime.state_dir) / "pods").glob("*/*.json")):
        try:
            record = read_json(path)
            why = _verify(record, pods, ps) if isinstance(record, dict) else "unreadable"
            spec = spec_of(record["spec"]) if not why else None
        except (ReconcilerError, KeyError, TypeError, ValueError) as exc:
            why, spec = f"unreadable record: {exc}", None
        if spec is None:
            log.warning("pod_not_adopted", record=str(path), reason=why)
            path.unlink(missing_ok=True)
            continue
        entry = _adopt_pod(runtime, record, spec, ps)
        kept_pods.add(entry.name)
        for instance in [*entry.current.values(), *entry.previous.values()]:
            kept_containers.add(instance.id)
        log.info("pod_adopted", pod=spec.name, namespace=spec.namespace, podman_pod=entry.name)
    await _remove_others(runtime, pods, ps, kept_pods=kept_pods, kept_containers=kept_containers)


def _adopt_pod(
    runtime: PodmanRuntime, record: dict[str, Any], spec: PodSpec, ps: dict[str, dict[str, Any]]
) -> PodmanPod:
    from reconciler.runtime.podman.runtime import Instance, PodmanPod

    record_dir = podman_dir(runtime.state_dir)
    pod = Pod.create(spec, runtime_dir=record_dir, logs_dir=record_dir)
    pod.created_at = float(record.get("created_at") or pod.created_at)
    pod.ports.update({str(k): int(v) for k, v in (record.get("ports") or {}).items()})
    entry = PodmanPod(
        pod=pod,
        name=str(record["pod"]),
        specs={c.name: c.spec for c in pod.containers},
        ip=str(record.get("ip") or ""),
        pod_id=str(record["pod_id"]),
        started=True,
    )
    entry.sandbox = asyncio.ensure_future(_made())
    for container in pod.containers:
        item = (record.get("containers") or {}).get(container.name)
        if not item:
            continue  # never started: its supervisor runs it as usual
        found = ps[str(item["id"])]
        instance = Instance(name=str(item["name"]), id=str(item["id"]))
        instance.image_id = str(item.get("image_id") or "")
        container.instances = int(item.get("instances") or 1)
        container.restart_count = int(item.get("restarts") or 0)
        container.started_at = float(item["started_at"])
        container.last_exit_code = item.get("last_exit_code")
        container.last_reason = str(item.get("last_reason") or "")
        container.spec = with_exec_via_podman(
            entry.specs[container.name], binary=runtime.podman.binary, container_id=instance.id
        )
        if str(found.get("State")) == "running":
            container.state = ContainerState.RUNNING
            container.reason = ""
            container.started = bool(item.get("started"))
            container.ready = bool(item.get("ready"))
            runtime.wait_for_exit(instance)
        else:  # died while no daemon watched: the supervisor reads how, and restarts it
            code = found.get("ExitCode")
            instance.exited.set_result(int(code) if isinstance(code, int) else None)
        entry.current[container.name] = instance
        if item.get("previous"):
            previous = Instance(name=str(item.get("previous_name") or ""), id=str(item["previous"]))
            previous.exited.set_result(None)
            entry.previous[container.name] = previous
        entry.adopted[container.name] = instance
    entry.volumes = volumes.existing(
        spec.template.get("spec") or {},
        state_dir=runtime.state_dir,
        namespace=spec.namespace,
        pod=spec.name,
    )
    pod.update_ready()
    runtime.adopted(entry)
    return entry


async def _made() -> bool:
    return True


def _infra_of(container: dict[str, Any], pods: set[str]) -> bool:
    """Whether ``container`` is the infra container of one of ``pods`` (``--infra-name``)."""
    pod = str(container.get("PodName") or "")
    names = container.get("Names") or []
    return pod in pods and (bool(container.get("IsInfra")) or f"{pod}-infra" in names)


async def _remove_others(
    runtime: PodmanRuntime,
    pods: dict[str, str],
    ps: dict[str, dict[str, Any]],
    *,
    kept_pods: set[str],
    kept_containers: set[str],
) -> None:
    podman = runtime.podman
    gone_pods = sorted(name for name in pods if name not in kept_pods)
    gone_pods += sorted(
        {
            str(c.get("PodName"))
            for c in ps.values()
            if c.get("PodName") and c.get("PodName") not in kept_pods
        }
        - set(gone_pods)
    )
    if gone_pods:
        await podman.run("pod", "rm", "-f", "--time", "0", *gone_pods, timeout=120)
    stray = [
        cid
        for cid, c in ps.items()
        if cid not in kept_containers
        and c.get("PodName") not in gone_pods
        and not _infra_of(c, kept_pods)
    ]
    if stray:
        await podman.run("rm", "-f", "--time", "0", *stray, timeout=120)
    if gone_pods or stray:
        names = sorted(str((ps[cid].get("Names") or [cid])[0]) for cid in stray)
        log.warning("leftovers_removed", pods=gone_pods, containers=names)
    base = podman_dir(runtime.state_dir)
    for path in (base / "auth").glob("*.json"):
        if path.name.removesuffix(".json") not in kept_pods:
            path.unlink(missing_ok=True)
    kept = {(e.pod.spec.namespace, e.pod.spec.name) for e in runtime.entries()}
    for path in (base / "volumes").glob("*/*"):
        if (path.parent.name, path.name) not in kept:
            remove_volumes([], pod_dir=path)
    for path in (base / "pods").glob("*/*.json"):
        record = None
        with contextlib.suppress(ReconcilerError):
            record = read_json(path)
        if not isinstance(record, dict) or record.get("pod") not in kept_pods:
            path.unlink(missing_ok=True)


async def stop_all(state_dir: Path) -> list[PodStatus]:
    """``reconciler down``'s podman part: adopt every podman pod of ``state_dir`` as a daemon
    would (what does not verify is removed), then stop them all as ``delete pod`` stops one
    (preStop, the image's stop signal, SIGKILL after the grace period); the pods stopped.

    Nothing to do (and podman not needed) when the state directory never ran a podman pod.
    """
    from reconciler.runtime.podman.runtime import PodmanRuntime

    if not (podman_dir(Path(state_dir)) / "pods").is_dir():
        return []
    runtime = PodmanRuntime(Path(state_dir))
    await runtime.start()
    pods = runtime.pods()
    await runtime.close()
    return pods


def has_pods(state_dir: Path) -> bool:
    """Whether a previous daemon left records of podman pods here (to adopt at start)."""
    return any((podman_dir(Path(state_dir)) / "pods").glob("*/*.json"))


__all__ = ["adopt", "has_pods", "pod_record", "remove_record", "spec_of", "stop_all"]
