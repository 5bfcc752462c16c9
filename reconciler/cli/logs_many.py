"""``logs -l SELECTOR``, ``--all-containers`` and ``--prefix``: the output of several containers.

As kubectl does it: without ``-f`` each stream is printed whole, one after the other (pods by
name, containers in the pod's order); with ``-f`` they are followed together, line by line as
they come, and more streams than ``--max-log-requests`` (default 5) is kubectl's error rather
than a silent cut. With a selector ``--tail`` defaults to 10 lines per stream, as in kubectl.
``--prefix`` puts ``[pod/NAME/CONTAINER] `` before every line.
"""

from __future__ import annotations

import argparse
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.cli.logs import container_of
from reconciler.errors import ReconcilerError
from reconciler.runtime import PodStatus

__all__ = ["Stream", "print_streams", "streams_of"]

SELECTOR_TAIL = 10
"""kubectl's ``--tail`` default when a selector is given (-1 otherwise)."""


@dataclass(frozen=True, slots=True)
class Stream:
    pod: PodStatus
    container: str

    @property
    def prefix(self) -> str:
        return f"[pod/{self.pod.name}/{self.container}] "


def streams_of(
    pods: Sequence[PodStatus], *, container: str | None, all_containers: bool
) -> list[Stream]:
    """One stream per pod (its ``-c`` container, or its only one), or per container of each."""
    out: list[Stream] = []
    for pod in pods:
        if all_containers:
            out += [Stream(pod, c.name) for c in pod.containers]
        else:
            out.append(Stream(pod, container_of(pod, container)))
    return out


def _podman_lines(
    root: Path, stream: Stream, *, tail: int | None, follow: bool, previous: bool
) -> Iterator[str] | None:
    from reconciler.runtime.podman.records import logs_args, podman_target

    target = podman_target(
        root, stream.pod.namespace, stream.pod.name, stream.container, previous=previous, logs=True
    )
    if target is None:
        return None
    argv = target.argv("logs", *logs_args(target, follow=follow and not previous, tail=tail))

    def lines() -> Iterator[str]:
        with subprocess.Popen(
            argv, env=target.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            assert process.stdout is not None
            try:
                yield from process.stdout
            finally:
                process.kill()

    return lines()


def _lines(
    root: Path, stream: Stream, *, tail: int | None, follow: bool, previous: bool
) -> Iterator[str]:
    from reconciler.runtime.logs import follow_log, read_log

    podman = _podman_lines(root, stream, tail=tail, follow=follow, previous=previous)
    if podman is not None:
        return podman
    pod = stream.pod
    if follow and not previous:
        return follow_log(root, pod.namespace, pod.name, stream.container, tail=tail)
    text = read_log(root, pod.namespace, pod.name, stream.container, tail=tail, previous=previous)
    return iter(text.splitlines(keepends=True))


def _write(line: str, prefix: str) -> None:
    sys.stdout.write(prefix + (line if line.endswith("\n") else line + "\n"))


def print_streams(root: Path, streams: Sequence[Stream], args: argparse.Namespace) -> int:
    """Print ``streams`` as ``kubectl logs`` does (see the module docstring)."""
    tail = args.tail if args.tail is not None and args.tail >= 0 else None
    if tail is None and args.selector:
        tail = SELECTOR_TAIL
    follow = bool(args.follow) and not args.previous
    if follow and len(streams) > args.max_log_requests:
        raise ReconcilerError(
            f"error: you are attempting to follow {len(streams)} log streams, but maximum "
            f"allowed concurrency is {args.max_log_requests}, use --max-log-requests to "
            "increase the limit"
        )
    options = {"tail": tail, "follow": follow, "previous": bool(args.previous)}
    if not follow:
        for stream in streams:
            prefix = stream.prefix if args.prefix else ""
            for line in _lines(root, stream, **options):  # type: ignore[arg-type]
                _write(line, prefix)
        return 0
    lines: queue.Queue[tuple[str, str] | None] = queue.Queue()

    def pump(stream: Stream) -> None:
        try:
            for line in _lines(root, stream, **options):  # type: ignore[arg-type]
                lines.put((stream.prefix if args.prefix else "", line))
        except ReconcilerError as exc:
            lines.put(("", f"error: {exc}\n"))
        finally:
            lines.put(None)

    for stream in streams:
        threading.Thread(target=pump, args=(stream,), daemon=True).start()
    running = len(streams)
    while running:
        item = lines.get()
        if item is None:
            running -= 1
            continue
        _write(item[1], item[0])
        sys.stdout.flush()
    return 0
