"""Is what a command reads live? (DESIGN decision 11: never confidently wrong.)

The CLI reads the store, so ``get`` and ``rollout status`` answer while no daemon runs: useful,
but what they show is then a record, not the present. Every read command says so on stderr:

    warning: no reconciler daemon is running for /srv/app/.reconciler; showing the state as
    of 14:02:11

(the time of the daemon's last recorded observation: it notes the time in the store every few
seconds while it runs). Whether a daemon runs is seen through its lock (``store.lock.holder``),
without taking it.

Where there is no state directory at all, nothing was ever observed: "No resources found" or
NotFound would be confidently wrong, as kubectl's ``The connection to the server
localhost:8080 was refused - did you specify the right host or port?`` is the truth for a
kubectl with no cluster. Commands that need the store say ``no_state_message`` and exit 1.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.store import Store

__all__ = [
    "HEARTBEAT_SECONDS",
    "OBSERVED_META",
    "NoStateDir",
    "last_observation",
    "no_state_message",
    "stale_warning",
    "warn_if_stale",
]

OBSERVED_META = "observed_at"  # epoch seconds of the daemon's last look at the world
HEARTBEAT_SECONDS = 2.0


class NoStateDir(ReconcilerError):
    """No state directory (or no state database in it): no daemon ever ran there."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(no_state_message(state_dir))


def no_state_message(state_dir: Path) -> str:
    """What a command that needs the store says where there is none (kubectl's refused
    connection, in this tool's terms)."""
    return (
        f"error: no reconciler state at {state_dir}: no daemon has run here - did you mean "
        "another --state-dir (or $RECONCILER_STATE_DIR), or start one with "
        "'reconciler run DIR'?"
    )


def last_observation(store: Store) -> float | None:
    """When the daemon last recorded what it saw: its heartbeat, else its newest record."""
    noted = store.get_meta(OBSERVED_META)
    if noted:
        try:
            return float(noted)
        except ValueError:
            pass
    times = [p.updated_at for p in store.list_pods()]
    times += [o.updated_at for o in store.list_objects()]
    times += [e.last_seen for e in store.list_events()]
    return max(times, default=None)


def _clock(at: float, *, now: float) -> str:
    """``14:02:11`` today, ``2026-11-30 14:02:11`` on another day (local time)."""
    then, today = time.localtime(at), time.localtime(now)
    if then[:3] == today[:3]:
        return time.strftime("%H:%M:%S", then)
    return time.strftime("%Y-%m-%d %H:%M:%S", then)


def stale_warning(store: Store, *, now: float | None = None) -> str | None:
    """The warning line when no daemon holds the store's state directory, else None."""
    if store.daemon_pid() is not None:
        return None
    at = last_observation(store)
    when = _clock(at, now=time.time() if now is None else now) if at else "an unknown time"
    return (
        f"warning: no reconciler daemon is running for {store.state_dir}; "
        f"showing the state as of {when}"
    )


def warn_if_stale(store: Store) -> None:
    warning = stale_warning(store)
    if warning is not None:
        print(warning, file=sys.stderr)
