"""ConfigMaps, Secrets and env from them go to a cluster unchanged, and pass its schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.export import export_objects
from reconciler.manifests.validate import validate_documents
from tests.export.conftest import load_documents

FOLDER = """apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data:
  timeoutSeconds: 1.5s
  log.level: debug
binaryData:
  logo: iVBORw0K
---
apiVersion: v1
kind: Secret
metadata: {name: db}
type: Opaque
stringData:
  password: hunter2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {reconciler.dev/roll-on-config-change: "false"}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: web:1
          command: [web]
          envFrom:
            - configMapRef: {name: app-config}
              prefix: APP_
            - secretRef: {name: db, optional: true}
          env:
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: db, key: password}}
            - name: ME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: MEM
              valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
"""


def test_config_objects_export_unchanged_and_pass_the_cluster_schemas(
    check_schema: Callable[[dict[str, Any]], list[str]],
) -> None:
    """The ConfigMap's data (even a "1.5s" under a *Seconds key) and the Secret are exported as
    written, the env sources too, with no warning; every object passes the strict schemas."""
    report = validate_documents(load_documents(FOLDER))
    assert report.ok and not report.problems, report.problems
    exported = export_objects(report.objects)
    assert exported.problems == ()
    by_kind = {item.kind: item.obj for item in exported.objects}
    assert by_kind["ConfigMap"] == report.objects[0].obj
    assert by_kind["Secret"] == report.objects[1].obj
    container = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"][0] == {"configMapRef": {"name": "app-config"}, "prefix": "APP_"}
    for obj in by_kind.values():
        assert check_schema(obj) == [], obj["kind"]
