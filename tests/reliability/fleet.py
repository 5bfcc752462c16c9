"""A small fleet, one Deployment per strategy, each behind a Service: the crash tests' subject.

The CI-sized crash test and the soak in ``bench/soak/`` share it, so the soak runs the same
checks, only more often. Every pod carries an env token so a test can find the processes that
belong to it (and only those) in ``/proc``; each pod also has ``POD_NAME`` in its environment,
which is how a leftover process is tied to the pod (and so to the daemon) that started it.
"""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import DaemonProcess, deployment_yaml, processes_with
from tests.e2e.load import fetch_version

STRATEGIES = {
    "rolling": """
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}""",
    "recreate": """
  strategy:
    type: Recreate""",
    "bluegreen": """
  strategy:
    type: BlueGreen
    blueGreen:
      activeService: bluegreen
      autoPromotionEnabled: true
      scaleDownDelaySeconds: 0""",
    "canary": """
  strategy:
    type: Canary
    canary:
      steps:
        - setWeight: 50
        - pause: {duration: 0.3}""",
}


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    port: int


def service_yaml(name: str, port: int) -> str:
    return f"""---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
    - {{name: http, port: {port}, targetPort: http}}
"""


def manifest(member: Member, *, version: int, token: str, replicas: int = 2) -> str:
    env = f"""
          env:
            - {{name: E2E_TOKEN, value: "{token}"}}"""
    return deployment_yaml(
        member.name,
        image=f"demo:{version}",
        replicas=replicas,
        strategy=STRATEGIES[member.name],
        # history cleanup (default limit 10) deletes old revisions on purpose; keep them all so
        # that any revision missing after a crash is a lost one
        extra_spec="\n  revisionHistoryLimit: 1000",
        env=env,
    ) + service_yaml(member.name, member.port)


def write_atomically(path: Path, text: str) -> None:
    """Write as editors and ``git checkout`` do: a temporary file renamed over the original."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_fleet(
    folder: Path, members: Iterable[Member], *, version: int, token: str, replicas: int = 2
) -> None:
    for member in members:
        write_atomically(
            folder / f"{member.name}.yaml",
            manifest(member, version=version, token=token, replicas=replicas),
        )


def pod_processes(token: str) -> dict[int, str]:
    """Live processes carrying ``token``, by pid, with the POD_NAME in their environment."""
    found: dict[int, str] = {}
    for pid in processes_with(token):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        names = [e[len(b"POD_NAME=") :] for e in environ if e.startswith(b"POD_NAME=")]
        found[pid] = os.fsdecode(names[0]) if names else ""
    return found


def revisions(daemon: DaemonProcess, members: Iterable[Member]) -> set[tuple[str, int, str]]:
    """(deployment, revision, ReplicaSet name) of every recorded revision."""
    return {(m.name, rs.revision, rs.name) for m in members for rs in daemon.replicasets(m.name)}


def settled(daemon: DaemonProcess, member: Member, *, version: int, replicas: int = 2) -> bool:
    """The rollout of ``demo:<version>`` is complete and the Service serves that version."""
    status = daemon.status(member.name)
    if status.get("updatedReplicas") != replicas or status.get("availableReplicas") != replicas:
        return False
    if status.get("replicas") != replicas:
        return False
    phase = status.get("rollout", {}).get("phase")
    if phase not in (None, "Healthy"):
        return False
    pods = [p for p in daemon.pods() if p.labels.get("app") == member.name]
    if len(pods) != replicas or any(p.terminating or not p.ready for p in pods):
        return False
    if {c.image for p in pods for c in p.containers} != {f"demo:{version}"}:
        return False
    try:
        return fetch_version(member.port) == str(version)
    except (OSError, http.client.HTTPException):
        # nothing listening yet; HTTPException too: a connect to a free port in the ephemeral
        # range can, rarely, connect the socket to itself and read back its own request
        return False


def processes_match_pods(daemon: DaemonProcess, token: str) -> str:
    """ "" when each live pod has exactly one process and no process lacks a live pod."""
    processes = pod_processes(token)
    pods = {p.name for p in daemon.pods()}
    names = list(processes.values())
    duplicated = sorted({n for n in names if names.count(n) > 1})
    orphaned = sorted(set(names) - pods)
    missing = sorted(pods - set(names))
    if duplicated or orphaned or missing:
        return f"duplicated={duplicated} orphaned={orphaned} missing={missing}"
    return ""


def restart(daemon: DaemonProcess, *, attempt: int) -> None:
    """Start the daemon again on the same state (the old log kept as ``.<attempt>``)."""
    if daemon.log.exists():
        daemon.log.rename(daemon.log.with_name(f"{daemon.log.name}.{attempt}"))
    daemon.start()


def wait_settled(
    daemon: DaemonProcess,
    members: Iterable[Member],
    *,
    version: int,
    timeout: float = 40.0,
    what: str = "",
    replicas: int = 2,
) -> None:
    """Wait until every member is settled on ``demo:<version>``; name the ones that are not."""
    members = list(members)
    deadline = time.monotonic() + timeout
    pending = members
    while time.monotonic() < deadline:
        pending = [m for m in pending if not settled(daemon, m, version=version, replicas=replicas)]
        if not pending:
            return
        time.sleep(0.05)
    statuses = {m.name: daemon.status(m.name) for m in pending}
    raise AssertionError(f"not settled on demo:{version} {what}: {statuses}")
