"""Canary analysis: periodic HTTP checks against the canary pods, the proxy's own count of
failed connections to them, and metrics of the canary's real requests (``analysis.metrics``).

Only deployments that are in the middle of a canary with ``canary.analysis`` are checked; the
daemon tells this module after every pass (``track``), so an idle host with hundreds of
deployments costs nothing here. Failures are counted per (deployment, canary template hash) and
handed to the engine, which compares them with ``failureLimit`` and aborts.

Metrics (``successRate``, ``latencyP99``) judge the requests the proxy booked to the canary's
revision over each metric's window (``services/traffic.py`` samples the proxy's counters; the
window never reaches back before the canary was first checked, so a retried canary starts
afresh). A failed measurement counts as one failure, and its measured values
(``success-rate 0.90 < 0.95 over 212 requests in 10s``) become the abort message
(``verdict``); the latest measurements are kept for the dashboard (``measurements``).
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
from reconciler.services.traffic import Sample, TrafficSampler
from reconciler.services.verdicts import Measurement, Phase, measure, window_of
from reconciler.store import Store
from reconciler.store.traffic import record_traffic
from reconciler.units import parse_duration

STORE_EVERY = 5.0  # seconds between writes of the sampled traffic to the store

log = get_logger(component="analysis")


@dataclass(frozen=True, slots=True)
class _Target:
    rs_hash: str
    analysis: Mapping[str, Any]
    canary_service: str | None
    since: float = 0.0  # when this canary was first tracked: no window reaches before it


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
        self,
        *,
        runtime: Runtime,
        proxy: Proxy,
        on_failure: Callable[[ObjectRef], None],
        store: Store | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.runtime = runtime
        self.proxy = proxy
        self.on_failure = on_failure
        self.store = store
        self.now = now
        self._pending: list[Sample] = []
        self.traffic = TrafficSampler(
            proxy, now=now, on_samples=self._pending.extend if store is not None else None
        )
        self._stored_at = now()
        self._targets: dict[ObjectRef, _Target] = {}
        self._failures: dict[tuple[ObjectRef, str], int] = {}
        self._verdicts: dict[tuple[ObjectRef, str], str] = {}
        self._measured: dict[ObjectRef, tuple[Measurement, ...]] = {}
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
            known = self._targets.get(ref)
            current = rollout.current_pod_hash
            since = known.since if known and known.rs_hash == current else self.now()
            self._targets[ref] = _Target(
                current, canary["analysis"], canary.get("canaryService"), since
            )
        else:
            self._targets.pop(ref, None)
            self._measured.pop(ref, None)
        self.traffic.watched = frozenset(
            (r.namespace, t.rs_hash) for r, t in self._targets.items() if t.analysis.get("metrics")
        )

    def failures(self, ref: ObjectRef, rs_hash: str) -> int:
        """Failed checks and failed proxied connections against this canary so far."""
        counted = self._failures.get((ref, rs_hash), 0)
        target = self._targets.get(ref)
        if target is not None and target.canary_service and target.rs_hash == rs_hash:
            service = namespaced_name(ref.namespace, target.canary_service)
            counted += self.proxy.connection_failures(service, "canary")
        return counted

    def verdict(self, ref: ObjectRef, rs_hash: str) -> str:
        """The measured values of this canary's latest failed check ("" if it was not a
        metric): the engine's abort message."""
        return self._verdicts.get((ref, rs_hash), "")

    def measurements(self, ref: ObjectRef) -> tuple[Measurement, ...]:
        """The latest measurement of each metric of the deployment's running canary."""
        return self._measured.get(ref, ())

    async def check_due(self) -> None:
        now = self.now()
        if self.traffic.due():
            self.traffic.sample()
        self._store_traffic(now)
        for ref, target in list(self._targets.items()):
            if now - self._checked_at.get(ref, 0.0) < _interval(target.analysis):
                continue
            self._checked_at[ref] = now
            failed = await self._check(target) if "httpGet" in target.analysis else 0
            key = (ref, target.rs_hash)
            measured = self._measure(ref, target, now)
            bad = [m for m in measured if m.phase is Phase.FAILED]
            if failed or bad:
                failed += len(bad)
                self._failures[key] = self._failures.get(key, 0) + failed
                self._verdicts[key] = (
                    f'Metric "{bad[0].metric}" assessed Failed: {bad[0].text()}' if bad else ""
                )
                log.warning(
                    "analysis_failed",
                    deployment=ref.key,
                    failures=failed,
                    measured=[m.text() for m in bad],
                )
                self.on_failure(ref)

    def _measure(self, ref: ObjectRef, target: _Target, now: float) -> tuple[Measurement, ...]:
        out = []
        for metric in target.analysis.get("metrics") or []:
            window = window_of(metric)
            since = max(now - window, target.since)
            counts = self.traffic.window(ref.namespace, target.rs_hash, since=since)
            out.append(measure(metric, counts, window=min(window, now - target.since)))
        self._measured[ref] = tuple(out)
        return self._measured[ref]

    def _store_traffic(self, now: float) -> None:
        """Write the sampled periods to the store every ``STORE_EVERY`` seconds (if any)."""
        if self.store is None or not self._pending or now - self._stored_at < STORE_EVERY:
            return
        self._stored_at = now
        batch, self._pending[:] = list(self._pending), []
        try:
            record_traffic(self.store, batch, now=now)
        except Exception as exc:  # a full disk must not stop the analysis; the rows are lost
            log.warning("traffic_not_stored", error=str(exc), samples=len(batch))

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
