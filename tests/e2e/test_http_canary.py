"""HTTP Services in a canary (#20), real daemon, pods and sockets: the success-rate analysis
aborts a canary that answers 10 % 500s within its window while no request to stable fails,
and a header route sends the matching requests (only those by the route) to the canary."""

from __future__ import annotations

import http.client
import importlib.util
import re
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from reconciler.objects import Kind, ObjectRef
from tests.e2e.conftest import free_port
from tests.e2e.harness import DaemonProcess, deployment_yaml, wait_for
from tests.e2e.test_walkthrough import env_token, write

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("reconciler.proxy.http") is None,
        reason="needs the HTTP proxy (#20, helper F)",
    ),
]


def http_service(name: str, port: int) -> str:
    return f"""---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
    - {{name: http, port: {port}, targetPort: http, appProtocol: http}}
"""


def rollout(daemon: DaemonProcess, name: str) -> dict:
    return dict(daemon.status(name).get("rollout", {}))


def ask(port: int, headers: dict[str, str] | None = None) -> tuple[str, int]:
    """One request on a new connection: (version, status)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/", headers=headers or {})
        response = conn.getresponse()
        return response.read().decode().split()[1], response.status
    finally:
        conn.close()


class Traffic:
    """Keep-alive clients at a steady rate, counting (version, status) of every answer."""

    def __init__(self, port: int, *, workers: int = 4, rate: float = 200.0) -> None:
        self.port, self.workers, self.interval = port, workers, workers / rate
        self.seen: Counter[tuple[str, int]] = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        while not self._stop.is_set():
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                version = response.read().decode().split()[1]
                with self._lock:
                    self.seen[(version, response.status)] += 1
            except (OSError, http.client.HTTPException, IndexError) as exc:
                with self._lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            self._stop.wait(self.interval)
        conn.close()

    def count(self, version: str, *, failed: bool) -> int:
        with self._lock:
            return sum(
                n for (v, s), n in self.seen.items() if v == version and (s >= 500) == failed
            )


ANALYSED = """
  autoRollback: true
  strategy:
    type: Canary
    canary:
      analysis:
        interval: 0.5s
        metrics:
          - name: success-rate
            successRate: {min: 0.95}
            minRequests: 50
            window: 10s
      steps:
        - setWeight: 25
        - pause: {duration: 120s}"""


def test_canary_with_ten_percent_errors_is_aborted_by_its_success_rate(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """A canary answering 10 % 500s is aborted within its 10 s window, the event and describe
    carry the measured values, traffic returns to stable, and 0 requests to stable fail."""
    port = free_port()

    def manifest(image: str, error_rate: str) -> str:
        env = env_token(token) + f'\n            - {{name: ERROR_RATE, value: "{error_rate}"}}'
        return deployment_yaml(
            "hc", image=image, replicas=4, strategy="", extra_spec=ANALYSED, env=env
        ) + http_service("hc", port)

    write(folder, "hc", manifest("demo:1", "0"))
    daemon.start()
    wait_for(lambda: rollout(daemon, "hc").get("phase") == "Healthy", what="v1 healthy")
    with Traffic(port) as traffic:
        wait_for(lambda: traffic.count("1", failed=False) > 50, what="traffic on v1")
        write(folder, "hc", manifest("demo:2", "0.1"))
        wait_for(lambda: traffic.count("2", failed=False) > 0, timeout=30, what="canary serves")
        canary_from = time.monotonic()
        wait_for(lambda: rollout(daemon, "hc").get("abort") is True, timeout=20, what="abort")
        assert time.monotonic() - canary_from < 10.0
        wait_for(lambda: {ask(port)[0] for _ in range(20)} == {"1"}, what="all on stable")
    assert traffic.count("1", failed=True) == 0
    assert traffic.count("2", failed=True) > 0
    assert traffic.errors == []

    ref = ObjectRef(Kind.DEPLOYMENT, "default", "hc")
    events = daemon.read(lambda s: s.list_events(ref))
    [failed] = [e for e in events if e.reason == "AnalysisRunFailed"]
    measured = re.compile(
        r'Metric "success-rate" assessed Failed: success-rate 0\.\d\d < 0\.95 '
        r"over \d+ requests in \d+(\.\d+)?(ms|s|m)"
    )
    assert failed.type == "Warning"
    assert measured.fullmatch(failed.message), failed.message
    described = daemon.cli("describe", "deployment", "hc")
    assert described.returncode == 0, described.stderr
    assert failed.message in described.stdout
    tree = daemon.cli("get", "rollout", "hc")
    assert tree.returncode == 0, tree.stderr
    assert failed.message in tree.stdout


ROUTED = """
  strategy:
    type: Canary
    canary:
      steps:
        - setWeight: 20
        - setHeaderRoute:
            name: beta
            match:
              - headerName: X-Beta
                headerValue: {exact: "yes"}
        - pause: {}"""


def test_header_route_sends_the_matching_requests_to_the_canary(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """With the route set, every request with X-Beta: yes reaches v2; requests without it (or
    with another value) keep the 80/20 split."""
    port = free_port()

    def manifest(image: str) -> str:
        return deployment_yaml(
            "hr", image=image, replicas=5, strategy=ROUTED, env=env_token(token)
        ) + http_service("hr", port)

    write(folder, "hr", manifest("demo:1"))
    daemon.start()
    wait_for(lambda: rollout(daemon, "hr").get("phase") == "Healthy", what="v1 healthy")
    write(folder, "hr", manifest("demo:2"))
    wait_for(
        lambda: (
            rollout(daemon, "hr").get("phase") == "Paused"
            and rollout(daemon, "hr").get("currentStepIndex") == 2
            and rollout(daemon, "hr").get("actualWeight") == 20
        ),
        timeout=30,
        what="paused after the route step",
    )
    wait_for(lambda: ask(port, {"X-Beta": "yes"})[0] == "2", what="the route is served")
    assert {ask(port, {"X-Beta": "yes"}) for _ in range(40)} == {("2", 200)}
    others = [ask(port, {"X-Beta": "no"})[0] for _ in range(100)]
    others += [ask(port)[0] for _ in range(100)]
    assert 0.1 <= others.count("2") / len(others) <= 0.3, Counter(others)
    full = daemon.cli("rollout", "promote", "hr", "--full")
    assert full.returncode == 0, full.stderr
    wait_for(lambda: rollout(daemon, "hr").get("phase") == "Healthy", timeout=60, what="promoted")
    assert {ask(port)[0] for _ in range(20)} == {"2"}
