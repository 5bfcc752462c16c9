"""Canary analysis: periodic HTTP checks against the canary pods, plus the proxy's own count of
failed connections to them.

Only deployments that are in the middle of a canary with ``canary.analysis`` are checked; the
daemon tells this module after every pass (``track``), so an idle host with hundreds of
deployments costs nothing here. Failures are counted per (deployment, canary template hash) and
handed to the engine, which compares them with ``failureLimit`` and aborts.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.engine.serialize import rollout_of
from reconciler.log import get_logger
from reconciler.objects import ObjectRef, namespaced_name
from reconciler.proxy import Proxy
from reconciler.runtime import Runtime
from reconciler.units import parse_duration

log = get_logger(component="analysis")


@dataclass(frozen=True, slots=True)
class _Target:
    rs_hash: str
    analysis: Mapping[str, Any]
    canary_service: str | None


def _http_status(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def _interval(analysis: Mapping[str, Any]) -> float:
    try:
        return parse_duration(analysis.get("interval", "5s"))
    except ValueError:
        return 5.0


class CanaryAnalysis:
    def __init__(
        self, *, runtime: Runtime, proxy: Proxy, on_failure: Callable[[ObjectRef], None]
    ) -> None:
        self.runtime = runtime
        self.proxy = proxy
        self.on_failure = on_failure
        self._targets: dict[ObjectRef, _Target] = {}
        self._failures: dict[tuple[ObjectRef, str], int] = {}
        self._checked_at: dict[ObjectRef, float] = {}

    def track(
        self, ref: ObjectRef, spec: Mapping[str, Any] | None, status: Mapping[str, Any]
    ) -> None:
        """After a pass: check this deployment while its canary is running, else forget it."""
        strategy = (spec or {}).get("strategy", {})
        canary = strategy.get("canary") or {}
        rollout = rollout_of(status)
        running = (
            strategy.get("type") == "Canary"
            and canary.get("analysis")
            and rollout.updating
            and not rollout.aborted
        )
        if running:
            self._targets[ref] = _Target(
                rollout.current_pod_hash, canary["analysis"], canary.get("canaryService")
            )
        else:
            self._targets.pop(ref, None)

    def failures(self, ref: ObjectRef, rs_hash: str) -> int:
        """Failed checks and failed proxied connections against this canary so far."""
        counted = self._failures.get((ref, rs_hash), 0)
        target = self._targets.get(ref)
        if target is not None and target.canary_service and target.rs_hash == rs_hash:
            service = namespaced_name(ref.namespace, target.canary_service)
            counted += self.proxy.connection_failures(service, "canary")
        return counted

    async def check_due(self) -> None:
        now = time.monotonic()
        for ref, target in list(self._targets.items()):
            if now - self._checked_at.get(ref, 0.0) < _interval(target.analysis):
                continue
            self._checked_at[ref] = now
            failed = await self._check(target)
            if failed:
                key = (ref, target.rs_hash)
                self._failures[key] = self._failures.get(key, 0) + failed
                log.warning("analysis_failed", deployment=ref.key, failures=failed)
                self.on_failure(ref)

    async def _check(self, target: _Target) -> int:
        analysis = target.analysis
        http = analysis.get("httpGet") or {}
        path = http.get("path", "/")
        port = str(http.get("port", ""))
        expected = int(analysis.get("expectedStatus", 200))
        timeout = float(analysis.get("timeoutSeconds", 1))
        failed = 0
        for pod in self.runtime.pods():
            if (
                pod.labels.get("pod-template-hash") != target.rs_hash
                or not pod.ready
                or pod.terminating
            ):
                continue
            host_port = pod.ports.get(port) or next(iter(pod.ports.values()), None)
            if host_port is None:
                continue
            status = await asyncio.to_thread(
                _http_status, f"http://{pod.ip}:{host_port}{path}", timeout
            )
            if status != expected:
                failed += 1
        return failed
