"""See it: ``/metrics``, a JSON API with actions, a live dashboard, and webhooks.

``reconciler run --http ADDR:PORT`` (default ``127.0.0.1:18070``, ``off`` to disable) serves
Prometheus metrics under kube-state-metrics' and Argo Rollouts' names, the objects as
``get -o json`` shows them, an event stream, token-guarded actions that run the CLI's own
commands, and a dashboard made of the static files in ``dashboard/`` (no CDN, no build step).
``--webhook URL`` and the annotation ``notifications.reconciler.dev/webhook`` receive a JSON
POST for every rollout transition. The pieces: ``server`` (wiring), ``api`` (routes), ``auth``,
``metrics``, ``views`` (JSON from the store), ``observer`` (passes and events), ``events``
(the stream), ``transitions`` and ``webhooks`` (notifications), ``actions`` (the buttons).
"""

from __future__ import annotations

from reconciler.web.auth import DEFAULT_HTTP
from reconciler.web.server import Web

__all__ = ["DEFAULT_HTTP", "Web"]
