"""A repository written for a cluster runs as it is: the daemon runs what it can, ignores rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import DaemonProcess, complete, deployment_yaml, wait_for
from tests.e2e.test_walkthrough import env_token, write

CLUSTER = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {LOG_LEVEL: info}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: report, image: "busybox:1.36"}]
"""
WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: gadget}\nspec: {size: 3}\n"

pytestmark = [pytest.mark.e2e]


def test_daemon_runs_the_deployment_of_a_cluster_repository_and_ignores_other_kinds(
    folder: Path, daemon: DaemonProcess, token: str
) -> None:
    """Ingress, HPA, CronJob, ConfigMap and a CRD's resource next to a Deployment: no error."""
    write(folder, "cluster", CLUSTER)
    write(folder, "widget", WIDGET)
    write(folder, "web", deployment_yaml("web", replicas=1, env=env_token(token)))
    daemon.start()
    wait_for(complete(daemon, "web", 1), timeout=30, what="web rolled out")
    log = daemon.log.read_text()
    assert "manifest_problem" not in log and "manifest_invalid" not in log, log[-3000:]
    assert "Unsupported value" not in log
    listed = daemon.cli("get", "deployments")
    assert listed.returncode == 0 and "web" in listed.stdout
