"""Benchmark of the store (issue 4): revisions, `rollout history` and `diff` at scale.

Builds, in a temporary state directory, one deployment with 10,000 recorded revisions (history
limit raised) and 1,000 more deployments applied from 1,000 manifest files, then times:

- recording one revision durably (its own transaction, synchronous=FULL) on the big deployment;
- `reconciler rollout history deployment/big` (in-process: open the store, read, render);
- `reconciler diff DIR` over the 1,000 unchanged manifests (validation included).

Targets: revision < 5 ms, history < 100 ms, diff < 2 s.

Run: . .venv/bin/activate && python bench/store/bench_store.py
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from reconciler.cli import main
from reconciler.defaults import default_deployment
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store

REVISIONS = 10_000
DEPLOYMENTS = 1_000


def _template(image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "big"}},
        "spec": {
            "containers": [{"name": "app", "image": image, "command": ["python3", "-m", "x"]}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    }


def _manifest(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "demo:v1",
                            "command": ["python3", "-m", "reconciler.demoapp"],
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


def _timed(fn: Any, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _summary(name: str, ms: list[float], target: float) -> str:
    ms = sorted(ms)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    ok = "ok" if statistics.median(ms) < target else "MISSED"
    return (
        f"{name:<42} median {statistics.median(ms):8.2f} ms  p95 {p95:8.2f} ms  "
        f"max {ms[-1]:8.2f} ms  (target < {target:g} ms: {ok})"
    )


def main_bench() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        folder = Path(tmp) / "manifests"
        folder.mkdir()
        big = ObjectRef(Kind.DEPLOYMENT, "default", "big")
        t0 = time.perf_counter()
        with Store.open(state) as store:
            with store.transaction():
                manifest = _manifest("big")
                manifest["spec"]["revisionHistoryLimit"] = REVISIONS * 2
                (folder / "big.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
                store.put_object(
                    ref=big,
                    manifest=manifest,
                    spec=default_deployment(manifest),
                    source="big.yaml",
                    line=1,
                    digest="d",
                    now=0.0,
                )
                for n in range(REVISIONS):
                    store.record_revision(
                        big, _template(f"demo:{n}"), change_cause=f"commit {n}", now=float(n)
                    )
            with store.transaction():
                for i in range(DEPLOYMENTS):
                    name = f"app-{i:04d}"
                    obj = _manifest(name)
                    path = folder / f"{name}.yaml"
                    path.write_text(yaml.safe_dump(obj, sort_keys=False))
                    spec = default_deployment(obj)
                    store.put_object(
                        ref=ObjectRef(Kind.DEPLOYMENT, "default", name),
                        manifest=obj,
                        spec=spec,
                        source=os.fspath(path),
                        line=1,
                        digest="d",
                        now=1.0,
                    )
                    store.record_revision(
                        ObjectRef(Kind.DEPLOYMENT, "default", name),
                        spec["spec"]["template"],
                        change_cause="",
                        now=1.0,
                    )
            setup = time.perf_counter() - t0
            counter = iter(range(REVISIONS, REVISIONS * 10))

            def record() -> None:
                n = next(counter)
                store.record_revision(big, _template(f"demo:{n}"), change_cause="c", now=float(n))

            revision_ms = _timed(record, 200)

            def rollback() -> None:  # reuse of an old RS: the bump path
                n = next(counter) - REVISIONS
                store.record_revision(big, _template(f"demo:{n}"), change_cause="u", now=1.0)

            rollback_ms = _timed(rollback, 200)
            size = (state / "state.db").stat().st_size

        def history() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(["rollout", "history", "deployment/big", "--state-dir", str(state)])
            assert code == 0

        history_ms = _timed(history, 20)

        def diff() -> None:
            with contextlib.redirect_stdout(io.StringIO()) as out:
                code = main(["diff", str(folder), "--state-dir", str(state)])
            assert code == 0, out.getvalue()[:2000]

        diff_ms = _timed(diff, 5)

        def history_process() -> None:  # what a user waits for, interpreter start included
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "reconciler",
                    "rollout",
                    "history",
                    "deployment/big",
                    "--state-dir",
                    str(state),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )

        process_ms = _timed(history_process, 5)

    print(
        f"setup: {REVISIONS} revisions + {DEPLOYMENTS} deployments in {setup:.1f} s, "
        f"state.db {size / 1e6:.1f} MB; python {sys.version.split()[0]}"
    )
    print(_summary("record_revision (new template, durable)", revision_ms, 5))
    print(_summary("record_revision (rollback: reuse + bump)", rollback_ms, 5))
    print(_summary("rollout history (10,000+ revisions)", history_ms, 100))
    print(_summary("diff (1,000 unchanged manifests)", diff_ms, 2000))
    print(_summary("rollout history as a new process (info)", process_ms, 1000))


if __name__ == "__main__":
    main_bench()
