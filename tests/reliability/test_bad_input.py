"""Bad input: hostile and mutated manifests, at ``reconciler validate`` and at a running daemon.

The validator only ever reports problems (exit 0, 1 or 2; never a traceback); the daemon never
dies and the last good revision keeps running (its pod's name does not change).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from tests.e2e.harness import DaemonProcess, deployment_yaml, wait_for
from tests.reliability.nasty import GOOD, NASTY

OK_EXIT = {0, 1, 2}


def validate(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", sorted(NASTY))
def test_validate_reports_hostile_files_without_a_traceback(tmp_path: Path, name: str) -> None:
    """Each hostile file: a problem report and exit 0/1/2, never a traceback, never a hang."""
    (tmp_path / "good.yaml").write_text(GOOD)
    NASTY[name](tmp_path / "bad.yaml")
    result = validate(tmp_path)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in OK_EXIT, (result.returncode, result.stderr[-500:])


def _run_validate(path: Path) -> int:
    try:
        return main(["validate", str(path), "-o", "json"])
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


GOOD_OBJECT = yaml.safe_load(GOOD)
GOOD_PATHS = _paths(GOOD_OBJECT)

FAST = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FAST
@given(
    mutations=st.lists(st.tuples(st.sampled_from(GOOD_PATHS), JSON_VALUE), min_size=1, max_size=4)
)
def test_structurally_mutated_manifests_give_problems_not_tracebacks(
    tmp_path: Path, mutations: list[tuple[tuple[Any, ...], Any]]
) -> None:
    """Any field of a good Deployment replaced by any JSON value: exit 0/1/2, no exception."""
    obj = GOOD_OBJECT
    for path, value in mutations:
        try:
            obj = _replace(obj, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed that path
    path = tmp_path / "mutated.yaml"
    path.write_text(yaml.safe_dump(obj, allow_unicode=True))
    assert _run_validate(path) in OK_EXIT


@FAST
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(GOOD)), st.binary(max_size=8)),
        min_size=1,
        max_size=6,
    ),
    cut=st.integers(min_value=0, max_value=len(GOOD)),
)
def test_byte_mutated_manifests_give_problems_not_tracebacks(
    tmp_path: Path, edits: list[tuple[int, bytes]], cut: int
) -> None:
    """Random bytes spliced into (and a tail cut off) a good manifest: exit 0/1/2, no exception."""
    data = GOOD.encode()
    for at, chunk in edits:
        data = data[:at] + chunk + data[at + len(chunk) :]
    path = tmp_path / "mutated.yaml"
    path.write_bytes(data[: max(cut, len(data) // 2)])
    assert _run_validate(path) in OK_EXIT


def test_validate_while_the_file_is_replaced(tmp_path: Path) -> None:
    """A file renamed over, truncated and rewritten while validate reads it: never a traceback."""
    path = tmp_path / "flip.yaml"
    path.write_text(GOOD)
    stop = threading.Event()

    def flip() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            tmp = tmp_path / f".flip-{n % 2}.tmp"
            tmp.write_text(GOOD if n % 2 else "kind: [broken\n")
            tmp.replace(path)
            with open(path, "w") as handle:  # truncate-and-write in place, as some editors do
                handle.write(GOOD[: n % len(GOOD)])

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        codes = {_run_validate(tmp_path) for _ in range(40)}
    finally:
        stop.set()
        flipper.join()
    assert codes <= OK_EXIT


@pytest.mark.e2e
@pytest.mark.slow
def test_daemon_survives_hostile_files_and_keeps_the_last_good_revision(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """Every hostile file and bad edit in a watched folder: the daemon lives, the pod stays."""
    env = f"""
          env:
            - {{name: E2E_TOKEN, value: "{token}"}}"""
    good = deployment_yaml("good", replicas=1, env=env)
    (folder / "good.yaml").write_text(good)
    daemon.start()

    def pod_names() -> set[str]:
        return {
            p.name
            for p in daemon.pods()
            if p.ready and not p.terminating and p.owner.startswith("good-")
        }

    pods = wait_for(pod_names, what="the good pod")

    def synced(marker: int) -> None:
        """Wait until a sync that started after the last change has finished."""
        (folder / "marker.yaml").write_text(
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: marker-{marker}}}\n"
            f"spec:\n  selector: {{app: nobody}}\n  ports: [{{port: {20000 + marker}}}]\n"
        )
        wait_for(
            lambda: any(
                o.ref.name == f"marker-{marker}" for o in daemon.read(lambda s: s.list_objects())
            ),
            timeout=30,
            what=f"sync {marker}",
        )

    for index, name in enumerate(sorted(NASTY)):
        NASTY[name](folder / f"bad-{index}.yaml")
        synced(index)
        assert daemon.proc is not None and daemon.proc.poll() is None, name
        assert pod_names() == pods, name
    # bad edits of the good file itself: it keeps its last good spec
    bad_edits = [
        good.replace("replicas: 1", "replicas: -1"),
        good.replace("image: demo:1", "image: 12"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: good}\nspec: [",
        good.encode().replace(b"demo", b"d\xffmo").decode("latin-1"),
    ]
    for offset, text in enumerate(bad_edits, start=100):
        (folder / "good.yaml").write_text(text)
        synced(offset)
        assert pod_names() == pods, text
    # replaced while being read: flips between the good content and garbage, ending good
    stop = threading.Event()

    def flip() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            tmp = folder / ".good.yaml.tmp"
            tmp.write_text(good if n % 2 else good[: n % len(good)])
            tmp.replace(folder / "good.yaml")

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        synced(200)
        synced(201)
    finally:
        stop.set()
        flipper.join()
    (folder / "good.yaml").write_text(good)
    synced(202)
    assert daemon.proc is not None and daemon.proc.poll() is None
    assert pod_names() == pods
    assert [rs.revision for rs in daemon.replicasets("good")] == [1]


def test_a_fifo_named_as_a_manifest_is_refused_not_read(tmp_path: Path) -> None:
    """Regression: reading a FIFO blocked the validator (and the daemon's loop) forever."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = validate(fifo)
    assert result.returncode == 2
    assert "not a regular file" in result.stdout + result.stderr


def test_an_integer_too_long_to_convert_is_a_problem(tmp_path: Path) -> None:
    """Regression: a 5000-digit integer raised ValueError out of the loader (a traceback)."""
    (tmp_path / "big.yaml").write_text(GOOD.replace("replicas: 1", "replicas: " + "9" * 5000))
    result = validate(tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1  # an invalid manifest (exit 2 is for unreadable files)
    assert "too large" in result.stdout
