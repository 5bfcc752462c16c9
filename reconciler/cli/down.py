"""``reconciler down``: stop everything a state directory runs, daemon or not.

Stopping the daemon (SIGTERM, Ctrl-C, ``systemctl stop``) leaves its pods running so that a
restart or an upgrade is no outage; this is the command that really stops them. In order:

1. the daemon, if one runs: it gets SIGTERM (it leaves its pods running, as always) and ``down``
   waits for it to exit, then holds the daemon lock until it is done, so that no daemon can
   start in between and bring pods back (under systemd, ``systemctl stop`` the unit first:
   ``Restart=always`` would start it again after this command);
2. the data plane (``reconciler.proxy.dataplane``), which serves the Services while no daemon
   runs: it stops accepting, lets open connections finish (a bounded drain) and exits. It goes
   after the daemon (a running daemon would start it again, as after a crash) and before the
   pods, so that no new connection reaches a pod that is stopping;
3. every pod the state directory's records show (process and podman pods), adopted exactly as a
   starting daemon adopts them (what does not verify is not touched), then stopped as
   ``delete pod`` stops one:
   preStop, SIGTERM, SIGKILL after ``terminationGracePeriodSeconds``. A signal to ``down``
   (Ctrl-C) while it waits SIGKILLs what is left at once and exits 1.

``get pods`` shows no pod afterwards; Deployments, revisions and history stay in the store, and
the next ``reconciler run`` starts the pods again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from reconciler.cli.common import common_options, state_dir
from reconciler.errors import ReconcilerError, StateDirError

DAEMON_EXIT_TIMEOUT = 60.0  # its own shutdown is quick: pods are not stopped by it

__all__ = ["register"]


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "down",
        parents=[common_options()],
        help="stop the daemon and every pod of the state directory",
        description=(
            "Stop everything the state directory runs: the daemon (if one runs), then every "
            "pod, gracefully (preStop, SIGTERM, SIGKILL after the grace period)."
        ),
    )
    parser.set_defaults(func=down)


def down(args: argparse.Namespace) -> int:
    from reconciler.proxy.dataplane import is_running, stop_dataplane
    from reconciler.store import DB_NAME, Store

    path = state_dir(args, create=False)
    if not (path / DB_NAME).exists() and not (path / "runtime").is_dir() and not is_running(path):
        print(f"nothing runs from {path}")
        return 0
    store = Store.open(path)
    try:
        _stop_daemon(store)
        # with the daemon lock held: no daemon can start (and restart the data plane) meanwhile
        if stop_dataplane(path):
            print("stopped the data plane (the Service listeners)", flush=True)
        code = asyncio.run(_stop_pods(path))
        store.replace_pods([])
    finally:
        store.close()
    print(f"everything in {path} is stopped")
    return code


def _stop_daemon(store: Any) -> None:
    """Take the daemon lock, asking a running daemon to exit first."""
    try:
        store.lock_daemon()
        return
    except StateDirError:
        pid = store.daemon_pid()
    if pid is None:  # it exited between the two looks
        store.lock_daemon()
        return
    print(f"stopping the daemon (pid {pid}) first", flush=True)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it exited meanwhile: the lock is free
    except PermissionError:
        raise ReconcilerError(
            f"error: the daemon (pid {pid}) on this state directory belongs to another user; "
            "nothing was stopped"
        ) from None
    deadline = time.monotonic() + DAEMON_EXIT_TIMEOUT
    while True:
        try:
            store.lock_daemon()
            return
        except StateDirError:
            if time.monotonic() > deadline:
                raise ReconcilerError(
                    f"error: the daemon (pid {pid}) did not exit within "
                    f"{DAEMON_EXIT_TIMEOUT:.0f}s of SIGTERM; nothing else was stopped"
                ) from None
            time.sleep(0.05)


async def _stop_pods(path: Path) -> int:
    """Adopt every pod, stop them all; 1 if a signal forced it."""
    from reconciler import log
    from reconciler.runtime.process import ProcessRuntime

    log.configure("warning", json=False)  # the runtime's own lines only when something is wrong
    runtime = ProcessRuntime(path)
    await runtime.start()
    pods = runtime.pods()
    if pods:
        plural = "s" if len(pods) != 1 else ""
        print(f"stopping {len(pods)} pod{plural} gracefully (Ctrl-C: kill at once)", flush=True)
    forced = asyncio.Event()
    loop = asyncio.get_running_loop()

    def force() -> None:
        if not forced.is_set():
            print("forced: killing what is left", flush=True)
            forced.set()
            runtime.kill_all()

    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, force)
    try:
        await runtime.close()
        podman_pods = await _stop_podman_pods(path)
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
    for pod in sorted([*pods, *podman_pods], key=lambda p: (p.namespace, p.name)):
        print(f'pod "{pod.name}" deleted')
    return 1 if forced.is_set() else 0


async def _stop_podman_pods(path: Path) -> list[Any]:
    """The podman pods of the state directory, adopted and stopped gracefully (nothing to do,
    and no podman needed, where it never ran one)."""
    from reconciler.runtime.podman import PodmanUnavailable, stop_all

    try:
        return list(await stop_all(path))
    except PodmanUnavailable as exc:
        raise ReconcilerError(
            f"error: podman pods of {path} are recorded but podman cannot run them: {exc}; "
            "the process pods were stopped"
        ) from None
