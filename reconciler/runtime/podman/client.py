"""podman's CLI as asyncio subprocesses, and one ``podman events`` stream for every container.

Why the CLI and not the REST API (``podman system service``; podman-py, aiodocker): measured on
the 2-core Debian 12 bench host, one ``podman container inspect`` costs 60–140 ms wall and
~40 ms CPU, the same call over the service's socket 10–40 ms; but the service is one more
long-lived process of ~39 MB RSS to start, supervise and version-match, and a client library
to depend on. The runtime calls podman only when something happens — about five calls to start
a container, one ``inspect`` when one dies, two to delete a pod — and never per probe period:
httpGet and tcpSocket probes go straight to the published host port, and one ``podman events``
process reports every start and death of our containers (filtered by our state-id label) as a
JSON line the loop reads without blocking. So the steady state costs no podman call at all, and
the CLI's extra tens of milliseconds land only on starts and deaths, off the loop (every call
is an ``asyncio`` subprocess with a timeout). Only ``exec`` probes pay a ``podman exec`` per
period, as they do in Kubernetes with the CRI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(component="podman")

DEFAULT_TIMEOUT = 120.0  # a pull of a large image can take this long; everything else is fast


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def error(self) -> str:
        """podman's own message: its last ``Error: ...`` line, else the last line of stderr."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for line in reversed(lines):
            if line.startswith("Error: "):
                return line[len("Error: ") :]
        return lines[-1] if lines else f"podman exited with code {self.code}"


class Podman:
    """Runs ``podman ARGS`` with this state directory's environment (its containers.conf)."""

    def __init__(self, binary: str, env: Mapping[str, str], *, cwd: str | None = None) -> None:
        self.binary = binary
        self.env = dict(env)
        # conmon, which podman starts, writes an ``oom`` marker file into its working
        # directory on some hosts (cgroup v1 with runc): never into the daemon's own
        self.cwd = cwd

    async def run(
        self, *args: str, timeout: float = DEFAULT_TIMEOUT, stdin: bytes | None = None
    ) -> Result:
        began = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                self.binary,
                *args,
                env=self.env,
                cwd=self.cwd,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return Result(127, "", f"Error: cannot run {self.binary}: {exc}")
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            return Result(124, "", f"Error: podman {args[0]} timed out after {timeout:g}s")
        finally:
            if process.returncode is None:  # cancelled: never leave a podman call behind
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        code = process.returncode if process.returncode is not None else -1
        log.debug(
            "podman_called",
            verb=" ".join(args[:2]),
            code=code,
            seconds=round(time.monotonic() - began, 3),
        )
        return Result(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    async def json(self, *args: str, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """``podman ARGS`` whose stdout is JSON; None when it failed or printed nothing."""
        result = await self.run(*args, timeout=timeout)
        if not result.ok or not result.stdout.strip():
            return None
        try:
            return json.loads(result.stdout)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Event:
    """One line of ``podman events --format json`` about a container."""

    id: str
    name: str
    status: str  # create, init, start, died, cleanup, remove, ...
    exit_code: int | None
    attributes: Mapping[str, str]

    @classmethod
    def parse(cls, line: bytes) -> Event | None:
        try:
            raw = json.loads(line)
        except ValueError:
            return None
        if not isinstance(raw, dict) or raw.get("Type") != "container":
            return None
        code = raw.get("ContainerExitCode")
        return cls(
            id=str(raw.get("ID", "")),
            name=str(raw.get("Name", "")),
            status=str(raw.get("Status", "")),
            exit_code=int(code) if isinstance(code, int) else None,
            attributes={str(k): str(v) for k, v in (raw.get("Attributes") or {}).items()},
        )


class EventStream:
    """One ``podman events`` process for all our containers; restarted if it ever ends.

    ``on_event`` gets every parsed event; ``on_restart`` is called after the stream was
    (re)started, so the owner can re-check what it may have missed meanwhile.
    """

    def __init__(
        self,
        podman: Podman,
        *,
        filters: Sequence[str],
        on_event: Callable[[Event], None],
        on_restart: Callable[[], None],
    ) -> None:
        self._podman = podman
        self._filters = list(filters)
        self._on_event = on_event
        self._on_restart = on_restart
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None
        self.ready = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="podman/events")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()

    async def _run(self) -> None:
        delay = 0.5
        first = True
        while True:
            args = ["events", "--format", "json"]
            for item in self._filters:
                args += ["--filter", item]
            try:
                self._process = await asyncio.create_subprocess_exec(
                    self._podman.binary,
                    *args,
                    env=self._podman.env,
                    cwd=self._podman.cwd,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as exc:
                log.error("events_failed", error=str(exc))
            else:
                assert self._process.stdout is not None
                # podman subscribes before it prints anything; give it a moment to do so
                await asyncio.sleep(0.2 if first else 0)
                self.ready.set()
                if not first:
                    self._on_restart()
                first = False
                await self._read(self._process.stdout)
                await self._process.wait()
                log.warning("events_stream_ended", code=self._process.returncode)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue  # an absurdly long line: not one of ours
            if not line:
                return
            event = Event.parse(line)
            if event is not None:
                try:
                    self._on_event(event)
                except Exception:
                    log.exception("event_handler_failed", event=event.status, name=event.name)


def podman_exec_argv(binary: str, container_id: str, argv: Sequence[str]) -> list[str]:
    """``podman exec CONTAINER ARGV`` (exec probes and preStop hooks)."""
    return [binary, "exec", container_id, *argv]


__all__ = ["Event", "EventStream", "Podman", "Result", "podman_exec_argv"]
