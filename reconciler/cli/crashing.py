"""What ``rollout status`` says about the new revision's pods while it waits (issue 18 §5).

kubectl's status viewer only counts replicas ("1 out of 3 new replicas have been updated..."),
so a crash loop shows as a count that does not move until the progress deadline. Here the
viewer also looks at the pods of the revision being rolled out:

- a container that exited with an error, or was restarted, is reported at once, one line per
  change: ``pod "web-7d4b9-abcde" is crashing: exit code 1, 2 restarts``;
- a pod waiting in ``CrashLoopBackOff`` ends the wait (exit 1) as soon as Kubernetes would call
  it that: the first back-off, not three back-offs (~30 s) later. ``--wait-for-deadline``
  keeps waiting, as kubectl does, until the progress deadline (or ``--timeout``).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.runtime import ContainerState, ContainerStatus, PodStatus

__all__ = ["CRASH_LOOP", "crash_loop", "crash_notes"]

CRASH_LOOP = "CrashLoopBackOff"


def _restarts(n: int) -> str:
    return f"{n} restart" if n == 1 else f"{n} restarts"


def _exit(container: ContainerStatus) -> str:
    terminated = container.state == ContainerState.TERMINATED
    code = container.exit_code if terminated else container.last_exit_code
    reason = container.reason if terminated else container.last_reason
    if reason and reason not in ("Error", "Completed"):
        return f"{reason} (exit code {code})" if code is not None else reason
    return f"exit code {code}" if code is not None else "exited"


def _crashed(container: ContainerStatus) -> bool:
    if container.state == ContainerState.TERMINATED and container.exit_code not in (None, 0):
        return True
    return container.restart_count > 0 and container.last_exit_code not in (None, 0)


def crash_notes(pods: Sequence[PodStatus]) -> list[str]:
    """One line per crashing container of ``pods``.

    >>> from reconciler.runtime import PodPhase
    >>> c = ContainerStatus("app", "demo:2", ContainerState.WAITING, reason=CRASH_LOOP,
    ...                     restart_count=2, last_exit_code=1, last_reason="Error")
    >>> pod = PodStatus("web-1-a", "default", "web-1", {}, PodPhase.RUNNING, 0.0, (c,))
    >>> crash_notes([pod])
    ['pod "web-1-a" is crashing: exit code 1, 2 restarts']
    """
    notes = []
    for pod in sorted(pods, key=lambda p: (p.created_at, p.name)):
        if pod.terminating:
            continue
        for container in pod.containers:
            if not _crashed(container):
                continue
            which = f" (container {container.name})" if len(pod.containers) > 1 else ""
            notes.append(
                f'pod "{pod.name}"{which} is crashing: {_exit(container)}, '
                f"{_restarts(container.restart_count)}"
            )
    return notes


def crash_loop(pods: Sequence[PodStatus]) -> str | None:
    """The failure message for the first pod waiting in CrashLoopBackOff, else None."""
    for pod in sorted(pods, key=lambda p: (p.created_at, p.name)):
        if pod.terminating:
            continue
        for container in pod.containers:
            if container.state == ContainerState.WAITING and container.reason == CRASH_LOOP:
                return (
                    f'pod "{pod.name}" is in {CRASH_LOOP}: {_exit(container)}, '
                    f"{_restarts(container.restart_count)}"
                )
    return None
