"""What the daemon is told: the folder, the bind address and every interval, in one value.

Intervals used to be literals scattered through the loop (0.25 s for analysis, 1 s before a
failed pass is retried, 15 s of shutdown slack); an operator tuning one, or a test shortening
one, now changes one frozen value. ``RunOptions`` adds what only a real daemon needs (the state
directory, the runtimes' back-off, the test-only fault file) for ``daemon.compose``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.cli.liveness import HEARTBEAT_SECONDS


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    """The daemon's own knobs; every duration in seconds."""

    manifests: Path
    bind: str = "127.0.0.1"  # where Service listeners bind (``get services`` shows it)
    debounce: float = 0.05  # folder events closer than this are one sync
    resync: float = 30.0  # a full folder sync at least this often
    intent_poll: float = 0.2  # how often CLI intents are looked for
    pods_flush: float = 0.1  # pod changes reach the store (and ``get pods``) this late at most
    analysis_check: float = 0.25  # canary analysis looks at its targets this often
    heartbeat: float = HEARTBEAT_SECONDS  # "observed at", for read commands without a daemon
    retry_failed_pass: float = 1.0  # a pass that raised is tried again after this
    shutdown_slack: float = 15.0  # shutdown may take the longest grace period plus this
    min_grace: float = 30.0  # the shutdown budget's floor (Kubernetes' default grace period)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """``reconciler run``: the daemon's options and what building its real parts needs."""

    daemon: DaemonOptions
    state_dir: Path
    default_runtime: str = "process"  # "process" | "podman": pods without runtimeClassName
    backoff_initial: float = 10.0  # CrashLoopBackOff / ImagePullBackOff first delay
    backoff_max: float = 300.0
    fault_file: Path | None = None  # reliability tests only: see ``store.faults``


__all__ = ["DaemonOptions", "RunOptions"]
