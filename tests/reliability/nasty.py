"""Hostile manifest files, by name: each one a way a folder can go wrong."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import deployment_yaml

GOOD = deployment_yaml("good", replicas=1)


def _write(text: str | bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)

    return make


def _fifty_megabytes(path: Path) -> None:
    line = b"# " + b"x" * 1021 + b"\n"
    with open(path, "wb") as handle:
        handle.write(GOOD.encode())
        for _ in range(50 * 1024):
            handle.write(line)


def _symlink_loop(path: Path) -> None:
    other = path.with_name("loop-b.yaml")
    path.symlink_to(other.name)
    other.symlink_to(path.name)


def _directory_loop(path: Path) -> None:
    folder = path.with_suffix("")
    folder.mkdir()
    (folder / "again").symlink_to("..")
    (folder / "inner.yaml").write_text(GOOD.replace("name: good", "name: inner"))


def _fifo(path: Path) -> None:
    os.mkfifo(path)


ALIAS_BOMB = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
    f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
    f"*{chr(97 + i)}]\n"
    for i in range(8)
)

NASTY: dict[str, Callable[[Path], None]] = {
    "wrong types": _write(
        GOOD.replace("replicas: 1", "replicas: [1, 2]").replace("image: demo:1", "image: {a: 1}")
    ),
    "huge values": _write(
        GOOD.replace("replicas: 1", "replicas: " + "9" * 5000).replace(
            "name: good", "name: " + "a" * 100_000
        )
    ),
    "huge float": _write(GOOD.replace("periodSeconds: 0.2", "periodSeconds: 1e400")),
    "deep nesting": _write("a: " + "[" * 50_000 + "]" * 50_000 + "\n"),
    "deep mapping": _write(
        "".join("  " * i + f"k{i}:\n" for i in range(3000)) + "  " * 3000 + "v\n"
    ),
    "invalid utf-8": _write(GOOD.encode().replace(b"good", b"go\xff\xfeod", 1)),
    "utf-16 bom": _write(GOOD.encode("utf-16")),
    "nul bytes": _write(GOOD.encode().replace(b"\n", b"\n\0", 3)),
    "duplicate keys": _write(GOOD.replace("replicas: 1", "replicas: 1\n  replicas: 3")),
    "alias bomb": _write(ALIAS_BOMB),
    "python tags": _write("!!python/object/apply:os.system ['touch /tmp/pwned-by-yaml']\n"),
    "custom tag": _write(GOOD.replace("replicas: 1", "replicas: !!binary aGVsbG8=")),
    "not a mapping": _write("- just\n- a\n- list\n"),
    "empty": _write(""),
    "only a separator": _write("---\n---\n...\n"),
    "tabs": _write(GOOD.replace("  ", "\t")),
    "path traversal name": _write(GOOD.replace("name: good", "name: ../../x")),
    "50 MB": _fifty_megabytes,
    "symlink loop": _symlink_loop,
    "directory symlink loop": _directory_loop,
    "fifo": _fifo,
}
