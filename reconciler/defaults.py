"""Kubernetes' API defaults, applied to a copy of a manifest.

Defaults make two spellings of one intent equal: a manifest that writes
``revisionHistoryLimit: 10`` is the same object as one that leaves it out. The diff, the
revision hash and the engine all work on defaulted objects (``SetDefaults_Deployment``,
``SetDefaults_Probe``, ``SetDefaults_Service``; Argo Rollouts' defaults for the two extension
strategies).
"""

from __future__ import annotations

import copy
from typing import Any

PROBE_DEFAULTS: dict[str, Any] = {
    "initialDelaySeconds": 0,
    "periodSeconds": 10,
    "timeoutSeconds": 1,
    "successThreshold": 1,
    "failureThreshold": 3,
}

ROLLING_DEFAULTS: dict[str, Any] = {"maxSurge": "25%", "maxUnavailable": "25%"}

BLUE_GREEN_DEFAULTS: dict[str, Any] = {
    "autoPromotionEnabled": True,
    "scaleDownDelaySeconds": 30,
    "abortScaleDownDelaySeconds": 30,
}

CANARY_DEFAULTS: dict[str, Any] = {
    "maxSurge": "25%",
    "maxUnavailable": "25%",
    "steps": [],
    "abortScaleDownDelaySeconds": 30,
}

CLIENT_IP_TIMEOUT_DEFAULT = 10800


def _probe(probe: dict[str, Any]) -> None:
    for key, value in PROBE_DEFAULTS.items():
        probe.setdefault(key, value)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def default_pod_template(template: dict[str, Any]) -> dict[str, Any]:
    """Defaults of a pod template, in place; returns it for chaining."""
    template.setdefault("metadata", {})
    spec = template.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for container in spec.get("containers") or []:
        if not isinstance(container, dict):
            continue
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
        for name in ("readinessProbe", "livenessProbe", "startupProbe"):
            if isinstance(container.get(name), dict):
                _probe(container[name])
    return template


def default_deployment(obj: dict[str, Any]) -> dict[str, Any]:
    """A defaulted deep copy of a Deployment manifest."""
    out = copy.deepcopy(obj)
    metadata = out.setdefault("metadata", {})
    metadata.setdefault("namespace", "default")
    spec = out.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault("minReadySeconds", 0)
    spec.setdefault("paused", False)
    spec.setdefault("autoRollback", False)
    strategy = spec.setdefault("strategy", {})
    kind = strategy.setdefault("type", "RollingUpdate")
    if kind == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        for key, value in ROLLING_DEFAULTS.items():
            rolling.setdefault(key, value)
    elif kind == "BlueGreen":
        blue_green = strategy.setdefault("blueGreen", {})
        for key, value in BLUE_GREEN_DEFAULTS.items():
            blue_green.setdefault(key, value)
    elif kind == "Canary":
        canary = strategy.setdefault("canary", {})
        for key, value in CANARY_DEFAULTS.items():
            canary.setdefault(key, copy.deepcopy(value))
    default_pod_template(spec.setdefault("template", {}))
    return out


def default_service(obj: dict[str, Any]) -> dict[str, Any]:
    """A defaulted deep copy of a Service manifest."""
    out = copy.deepcopy(obj)
    out.setdefault("metadata", {}).setdefault("namespace", "default")
    spec = out.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "ClientIP":
        config = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
        config.setdefault("timeoutSeconds", CLIENT_IP_TIMEOUT_DEFAULT)
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    return out
