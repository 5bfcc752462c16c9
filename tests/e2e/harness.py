"""A real daemon in a child process, a real folder, and ways to wait for what it does.

Tests start ``python -m reconciler run DIR`` exactly as a user does, edit files in DIR, and
read the outcome through the store (as the CLI does) or by running the CLI itself. Waiting is
always for a condition with a deadline, never a bare sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from reconciler.objects import Kind, ObjectRef
from reconciler.proxy.control import Status
from reconciler.proxy.dataplane import stop_dataplane
from reconciler.runtime import PodStatus
from reconciler.store import Store
from reconciler.store.records import pod_from_dict
from tests.polling import wait_for

T = TypeVar("T")


ROLLING_SURGE_ONE = """
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}"""


def deployment_yaml(
    name: str,
    *,
    image: str = "demo:1",
    replicas: int = 2,
    strategy: str = "",
    port_name: str = "http",
    extra_spec: str = "",
    command: str = '["python3", "-m", "reconciler.demoapp"]',
    env: str = "",
    readiness: bool = True,
) -> str:
    probe = (
        f"""
          readinessProbe:
            httpGet: {{path: /healthz, port: {port_name}}}
            periodSeconds: 0.2"""
        if readiness
        else ""
    )
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}{strategy}{extra_spec}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: app
          image: {image}
          command: {command}{env}
          ports:
            - {{name: {port_name}, containerPort: 8080}}{probe}
"""


class DaemonProcess:
    """``reconciler run`` as a child process with its own state directory."""

    def __init__(self, manifests: Path, state: Path, *args: str) -> None:
        self.manifests = manifests
        self.state = state
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = state.parent / f"daemon-{state.name}.log"

    def start(self) -> DaemonProcess:
        self.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {**os.environ, "RECONCILER_STATE_DIR": os.fspath(self.state)}
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "reconciler",
                    "run",
                    os.fspath(self.manifests),
                    "--log-format",
                    "json",
                    "--backoff-initial",
                    "0.5",
                    "--backoff-max",
                    "2",
                    # many daemons run at once: no dashboard port unless the test asks for one
                    *(() if any(a.startswith("--http") for a in self.args) else ("--http", "off")),
                    *self.args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

        # the log is appended to across restarts: only this run's lines count
        def started() -> bool:
            with open(self.log, "rb") as log:
                log.seek(offset)
                return b"daemon_started" in log.read()

        wait_for(
            lambda: self.proc is not None and (self.proc.poll() is not None or started()),
            timeout=20,
            what="daemon start",
        )
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        return self

    def http_url(self) -> str:
        """Where the daemon's HTTP server listens (started with ``--http 127.0.0.1:0``)."""
        path = self.state / "http-address"
        return wait_for(
            lambda: path.exists() and path.read_text().strip(), timeout=10, what="http-address"
        )

    def http_token(self) -> str:
        return (self.state / "http-token").read_text().strip()

    def stop(self, timeout: float = 30) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # a stuck graceful stop: the second signal forces it, and the daemon's log says
            # ("shutdown_forced") which tasks it was waiting on
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(15)
            tail = self.log.read_text()[-3000:]
            raise AssertionError(f"daemon ignored SIGTERM: {tail}") from None

    def dataplane_pid(self) -> int | None:
        """The pid of the live data plane of this state directory, else None."""
        status = Status.load(self.state)
        return status.pid if status is not None and status.alive() else None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def down(self, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``reconciler down``: the daemon (if running), the data plane and every pod stopped.

        The data plane is stopped here as well should ``down`` fail or time out: a failed test
        must not leak one (``stop_dataplane`` does nothing when none runs)."""
        try:
            result = self.cli("down", timeout=timeout)
        finally:
            if self.proc is not None and self.proc.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(5)  # `down` signalled it: reap it
            stop_dataplane(self.state, drain=2.0)
        return result

    # -- reading what it did ----------------------------------------------------------------

    def store(self) -> Store:
        return Store.open(self.state)

    def read(self, fn: Callable[[Store], T]) -> T:
        store = self.store()
        try:
            return fn(store)
        finally:
            store.close()

    def status(self, name: str, namespace: str = "default") -> dict[str, Any]:
        def get(store: Store) -> dict[str, Any]:
            obj = store.get_object(ObjectRef(Kind.DEPLOYMENT, namespace, name))
            return dict(obj.status) if obj else {}

        return self.read(get)

    def pods(self, namespace: str = "default") -> list[PodStatus]:
        return self.read(lambda s: [pod_from_dict(r.status) for r in s.list_pods(namespace)])

    def replicasets(self, name: str, namespace: str = "default") -> list[Any]:
        return self.read(lambda s: s.list_replicasets(ObjectRef(Kind.DEPLOYMENT, namespace, name)))

    def cli(
        self, *args: str, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "RECONCILER_STATE_DIR": os.fspath(self.state)}
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            input=input,
            cwd=self.manifests.parent,
        )

    def get_json(self, *args: str) -> Any:
        result = self.cli("get", *args, "-o", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else None


def complete(daemon: DaemonProcess, name: str, replicas: int) -> Callable[[], bool]:
    """A predicate: the deployment's rollout is complete with ``replicas`` available."""

    def check() -> bool:
        status = daemon.status(name)
        conditions = {c["type"]: c for c in status.get("conditions", [])}
        progressing = conditions.get("Progressing", {})
        return (
            status.get("updatedReplicas") == replicas
            and status.get("availableReplicas") == replicas
            and status.get("replicas") == replicas
            and progressing.get("reason") == "NewReplicaSetAvailable"
        )

    return check


def http_get(port: int, path: str = "/", timeout: float = 2.0) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
        return response.read().decode()


def processes_with(token: str) -> list[int]:
    """Pids of live processes whose command line or environment mentions ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if stat.split(")")[-1].split()[0] == "Z":
            continue  # a zombie is already dead
        if token.encode() in cmdline or token.encode() in environ:
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def sampling(observe: Callable[[], T], *, every: float = 0.02) -> Iterator[list[T]]:
    """Call ``observe`` every ``every`` seconds in a thread for the block's duration; the list
    of observations fills while the block runs (at least one is taken)."""
    samples: list[T] = []
    stop = threading.Event()

    def run() -> None:
        while True:
            samples.append(observe())
            if stop.wait(every):
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
