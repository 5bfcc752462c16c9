"""Webhooks: a JSON POST for every rollout transition, to the receivers the operator named.

Receivers are ``run --webhook URL`` (every deployment) and a Deployment's annotation
``notifications.reconciler.dev/webhook: URL`` (that deployment only). Only those URLs are ever
contacted: redirects are not followed, and only ``http``/``https`` URLs are accepted.

Delivery never blocks the engine: ``notify`` only appends to a receiver's queue. One task per
receiver sends its queue in order (a receiver sees a canary's transitions in the order they
happened), retrying a failed POST (connection error, timeout, non-2xx status) with exponential
back-off (1 s, 2 s, 4 s, ... up to 30 s, 6 attempts). A notification that still fails is given
up and counted (``notification_send_error``); each failed attempt is counted per receiver
(``reconciler_webhook_attempt_failures_total``), and a queue that overflows (1,000 pending)
drops its oldest notification, counted too. The body::

    {"event": "paused", "namespace": "default", "deployment": "web", "revision": 3,
     "images": ["web=demo:v2"], "reason": "CanaryPauseStep", "message": "...",
     "phase": "Paused", "strategy": "Canary", "time": "2026-12-01T20:00:00Z"}
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.log import get_logger
from reconciler.objects import ObjectRef
from reconciler.web.metrics import Live

__all__ = ["WEBHOOK_ANNOTATION", "Notifier", "check_url", "receiver_label"]

WEBHOOK_ANNOTATION = "notifications.reconciler.dev/webhook"
QUEUE_LIMIT = 1000

log = get_logger(component="webhooks")


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be a receiver, or None.

    >>> check_url("http://127.0.0.1:9000/hook"), check_url("file:///etc/passwd")
    (None, "scheme 'file' is not http or https")
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not http or https"
    if not parts.hostname:
        return "no host"
    return None


def receiver_label(url: str) -> str:
    """``scheme://host:port``: a metric label that never carries the path (it may be secret).

    >>> receiver_label("https://hooks.example.com/services/T0/B0/secret")
    'https://hooks.example.com:443'
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


@dataclass(slots=True)
class _Receiver:
    url: str
    label: str
    queue: deque[tuple[ObjectRef, dict[str, Any]]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    busy: bool = False


class Notifier:
    """Queues and delivers notifications; ``close()`` ends the delivery tasks."""

    def __init__(
        self,
        urls: Sequence[str],
        live: Live,
        *,
        attempts: int = 6,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        for url in urls:
            problem = check_url(url)
            if problem:
                raise ReconcilerError(f"error: --webhook {url!r}: {problem}")
        self.urls = tuple(dict.fromkeys(urls))
        self.live = live
        self.attempts = attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.timeout = timeout
        self._receivers: dict[str, _Receiver] = {}
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def targets(self, annotations: Mapping[str, Any] | None) -> list[str]:
        """The global receivers plus the deployment's own (if its annotation is a valid URL)."""
        out = list(self.urls)
        own = str((annotations or {}).get(WEBHOOK_ANNOTATION) or "").strip()
        if own and own not in out:
            problem = check_url(own)
            if problem:
                log.warning("webhook_annotation_ignored", problem=problem)
            else:
                out.append(own)
        return out

    def notify(self, ref: ObjectRef, payload: dict[str, Any], targets: Sequence[str]) -> None:
        """Queue ``payload`` for each target; returns at once."""
        if self._closed:
            return
        for url in targets:
            receiver = self._receivers.get(url)
            if receiver is None:
                receiver = self._receivers[url] = _Receiver(url, receiver_label(url))
                receiver.task = asyncio.get_running_loop().create_task(
                    self._deliver_all(receiver), name=f"webhook {receiver.label}"
                )
            if len(receiver.queue) >= QUEUE_LIMIT:
                receiver.queue.popleft()
                self.live.dropped_notification(receiver.label)
            receiver.queue.append((ref, payload))
            receiver.wake.set()

    def idle(self) -> bool:
        """Nothing queued or being sent (tests and shutdown wait for this)."""
        return all(not r.queue and not r.busy for r in self._receivers.values())

    async def _deliver_all(self, receiver: _Receiver) -> None:
        while True:
            if not receiver.queue:
                receiver.wake.clear()
                await receiver.wake.wait()
                continue
            ref, payload = receiver.queue.popleft()
            receiver.busy = True
            try:
                await self._deliver(receiver, ref, payload)
            finally:
                receiver.busy = False

    async def _deliver(self, receiver: _Receiver, ref: ObjectRef, payload: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": f"reconciler/{__version__}"},
            )
        started = time.monotonic()
        delay = self.backoff_initial
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                async with self._session.post(
                    receiver.url, json=payload, allow_redirects=False
                ) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        self.live.notified(
                            ref,
                            reason=str(payload["event"]),
                            ok=True,
                            seconds=time.monotonic() - started,
                            webhook=receiver.label,
                        )
                        return
                    error = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = str(exc) or type(exc).__name__
            self.live.attempt_failed(receiver.label)
            log.warning(
                "webhook_failed",
                webhook=receiver.label,
                deployment=ref.key,
                notification=payload["event"],
                attempt=attempt,
                error=error,
            )
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
        self.live.notified(
            ref,
            reason=str(payload["event"]),
            ok=False,
            seconds=time.monotonic() - started,
            webhook=receiver.label,
        )
        log.error(
            "webhook_given_up",
            webhook=receiver.label,
            deployment=ref.key,
            notification=payload["event"],
            attempts=self.attempts,
            error=error,
        )

    async def close(self, grace: float = 2.0) -> None:
        """Give queued notifications ``grace`` seconds, then stop."""
        self._closed = True
        deadline = time.monotonic() + grace
        while not self.idle() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        tasks = [r.task for r in self._receivers.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
