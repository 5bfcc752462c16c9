"""``reconciler run [DIR]``: the daemon, in the foreground.

Logs go to stderr: a console format on a terminal, JSON lines otherwise. SIGTERM and SIGINT
stop the daemon and leave its pods running (the next ``run`` adopts them), and the Service
listeners stay up in the data plane (``proxy/dataplane.py``); ``reconciler down`` stops
everything. A second signal forces a stuck stop. A second daemon on the same state directory is
refused with the holder's pid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import log
from reconciler.cli.common import common_options, state_dir
from reconciler.errors import ReconcilerError, StateDirError

if TYPE_CHECKING:
    from reconciler.daemon.options import RunOptions


def register(commands: Any, rollout: Any) -> None:
    parser = commands.add_parser(
        "run",
        parents=[common_options()],
        help="run the daemon: watch DIR and keep the host equal to it",
        description="Watch a folder of manifests and keep the host equal to it (foreground).",
    )
    parser.add_argument("dir", nargs="?", default="manifests", help="folder of manifests")
    parser.add_argument(
        "--bind",
        default="127.0.0.1",
        help="address the Service proxies listen on (default: loopback only)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--log-format", choices=["console", "json"], help="default: console on a tty"
    )
    parser.add_argument(
        "--resync", type=float, default=30.0, help="seconds between full resyncs of the folder"
    )
    parser.add_argument(
        "--backoff-initial",
        type=float,
        default=10.0,
        help="first CrashLoopBackOff/ImagePullBackOff delay, seconds (doubles to --backoff-max)",
    )
    parser.add_argument("--backoff-max", type=float, default=300.0)
    parser.add_argument(
        "--http",
        default="127.0.0.1:18070",
        metavar="ADDR:PORT|off",
        help="serve /metrics, the API and the dashboard here (default 127.0.0.1:18070; port 0 "
        "picks a free one, written to <state dir>/http-address; off disables)",
    )
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="POST JSON for every rollout transition to URL (repeatable)",
    )
    parser.add_argument(
        "--runtime",
        choices=["process", "podman"],
        default="process",
        help="what runs pods without spec.template.spec.runtimeClassName (default: process)",
    )
    # reliability tests only: a file whose content makes the store's transactions fail
    parser.add_argument("--fault-file", type=Path, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.daemon.options import DaemonOptions, RunOptions

    manifests = Path(args.dir)
    if not manifests.is_dir():
        raise ReconcilerError(f"error: {args.dir}: no such directory")
    json = None if args.log_format is None else args.log_format == "json"
    log.configure(args.log_level, json=json)
    options = RunOptions(
        daemon=DaemonOptions(manifests=manifests.resolve(), bind=args.bind, resync=args.resync),
        state_dir=state_dir(args),
        default_runtime=args.runtime,
        backoff_initial=args.backoff_initial,
        backoff_max=args.backoff_max,
        fault_file=args.fault_file,
    )
    loop = asyncio.new_event_loop()
    try:
        code = loop.run_until_complete(_serve(options, http=args.http, webhooks=list(args.webhook)))
        _finish_threads(loop)
    finally:
        loop.close()
    return code


def _finish_threads(loop: asyncio.AbstractEventLoop, timeout: float = 10.0) -> None:
    """Wait a bounded time for helper threads (git, HTTP checks); a daemon that has stopped its
    pods must exit even if one is stuck: say where it is stuck, and leave."""
    try:
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_default_executor(), timeout))
    except TimeoutError:
        frames = sys._current_frames()
        stuck = [
            f"{t.name}: {traceback.format_stack(frames[t.ident])[-1].strip()}"
            for t in threading.enumerate()
            if t is not threading.main_thread() and t.ident in frames and not t.daemon
        ]
        log.get_logger(component="daemon").error("threads_stuck_at_exit", threads=stuck)
        sys.stderr.flush()
        os._exit(0)


async def _serve(options: RunOptions, *, http: str = "off", webhooks: list[str]) -> int:
    from reconciler.daemon import compose
    from reconciler.daemon.loop import ForcedStop
    from reconciler.daemon.tasks import install_signal_handlers

    store = compose.open_store(options)
    try:
        # the web server (aiohttp: a third of a second to import) only when it has work to do
        web: Any = None
        if http != "off" or webhooks:
            from reconciler.web import Web

            web = Web(
                http=http,
                webhooks=webhooks,
                state_dir=options.state_dir,
                manifests=options.daemon.manifests,
            )
            web.open()  # a taken port is an error now, before any pod starts
        daemon, dataplane = await compose.build(options, store)
        stop = asyncio.Event()
        remove = install_signal_handlers(stop)
        try:
            if web is not None:
                await web.attach(daemon)
            await daemon.run(stop)
        except ForcedStop:
            # the pods run on under their shims, as after any stop: the next daemon adopts them
            return 1
        except Exception as exc:
            if daemon.synced.is_set():
                raise
            await dataplane.abandon()  # failed at start: no fresh data plane left behind
            if isinstance(exc, sqlite3.Error):
                raise StateDirError(
                    f"error: cannot start: the state database {store.path} cannot be written "
                    f"({exc}); free space or fix its permissions, then run again"
                ) from exc
            raise
        finally:
            remove()
            if web is not None:
                await web.close()
    finally:
        store.close()
    return 0


__all__ = ["register", "run"]
