"""The dashboard's buttons: exactly the CLI's commands, run as the CLI.

``POST /api/v1/namespaces/NS/deployments/NAME/ACTION`` runs ``reconciler rollout ACTION ...``
in a child process, with this daemon's state directory: pause, resume and undo edit the
manifest (the folder stays the truth, the change cause names the command), promote, abort,
retry and restart write the same intents. Running the CLI itself, rather than calling its
functions here, keeps one implementation, its refusals and messages word for word, and keeps a
file edit (which may wait on a slow disk or a lock) off the daemon's loop and out of its
process: the call is asynchronous and bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Action", "ActionResult", "run_action"]

TIMEOUT = 30.0


class Action(enum.StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    PROMOTE = "promote"
    ABORT = "abort"
    RETRY = "retry"
    RESTART = "restart"
    UNDO = "undo"


@dataclass(frozen=True, slots=True)
class ActionResult:
    code: int  # the CLI's exit code
    output: str  # what it printed on stdout (kubectl's confirmation)
    error: str  # what it printed on stderr (its refusal or warning)

    @property
    def http_status(self) -> int:
        """200 done; 404 no such deployment; 400 a bad argument; 409 refused in this state."""
        if self.code == 0:
            return 200
        if "(NotFound)" in self.error or "not found" in self.error:
            return 404
        return 400 if self.code == 2 else 409


def command(action: Action, name: str, options: Mapping[str, Any]) -> list[str]:
    """The CLI words for ``action`` (``options``: ``full`` for promote, ``toRevision`` for undo).

    >>> command(Action.PROMOTE, "web", {"full": True})
    ['rollout', 'promote', 'web', '--full']
    >>> command(Action.UNDO, "web", {"toRevision": 2})
    ['rollout', 'undo', 'deployment/web', '--to-revision=2']
    """
    if action in (Action.PROMOTE, Action.ABORT, Action.RETRY):
        words = ["rollout", str(action), name]
    else:
        words = ["rollout", str(action), f"deployment/{name}"]
    if action is Action.PROMOTE and options.get("full"):
        words.append("--full")
    if action is Action.UNDO and options.get("toRevision") is not None:
        words.append(f"--to-revision={int(options['toRevision'])}")
    return words


async def run_action(
    action: Action,
    *,
    namespace: str,
    name: str,
    options: Mapping[str, Any],
    state_dir: Path,
    manifests: Path,
) -> ActionResult:
    """Run the CLI for ``action`` and return what it said (never raises for its failures)."""
    argv = [
        sys.executable,
        "-m",
        "reconciler",
        *command(action, name, options),
        "-n",
        namespace,
        "--state-dir",
        os.fspath(state_dir),
    ]
    env = {**os.environ, "RECONCILER_STATE_DIR": os.fspath(state_dir)}
    env.pop("EDITOR", None)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=os.fspath(manifests.parent if manifests.is_dir() else state_dir),
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    return ActionResult(
        code=proc.returncode if proc.returncode is not None else 1,
        output=out.decode(errors="replace").strip(),
        error=err.decode(errors="replace").strip(),
    )
