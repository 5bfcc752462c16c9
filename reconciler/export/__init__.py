"""Translate a folder of local manifests into objects a Kubernetes cluster accepts.

When a folder outgrows one host it should move to a cluster without a rewrite. Plain
``RollingUpdate`` / ``Recreate`` Deployments and Services go as they are; BlueGreen and Canary
Deployments become Argo Rollouts (``argoproj.io/v1alpha1`` ``Rollout``), whose field names the
local extensions already use. What only the local runtime understands is translated, and every
translation that changes or loses meaning is a warning ``Problem`` naming the file, line and
field, so nothing is dropped silently:

* ``$(PORT)`` / ``$(PORT_<NAME>)``: locally every pod gets a free host port. On a cluster each
  pod has its own IP, so the container port itself is the port. The exporter *adds* ``PORT`` and
  ``PORT_<NAME>`` env entries (first, so that later ``$(VAR)`` references expand) with the
  container port values instead of rewriting strings: ``$(PORT)`` in command/args/env keeps
  expanding, and programs that read ``$PORT`` keep working. ``POD_NAME``, ``POD_NAMESPACE``,
  ``POD_IP`` (downward API) and ``IMAGE``, ``IMAGE_NAME``, ``IMAGE_TAG`` are added the same way
  when a ``$(VAR)`` refers to them. No warning: no meaning is lost.
* Fractional or ``"500ms"``-style seconds (probes, grace periods, delays) round *up* to whole
  seconds, with a warning; ``"30s"``/``"5m"`` strings become integers silently.
* A relative ``workingDir`` is relative to the manifest folder here, to the image there: warning.
* ``autoRollback`` is dropped from Deployments (warning: Kubernetes has no such field) and becomes
  ``progressDeadlineAbort: true`` on Rollouts (warning: Argo aborts on the deadline only).
* Canary ``analysis`` has no inline equivalent in Argo Rollouts (it needs an AnalysisTemplate):
  dropped with a warning that says what the template needs.

The package: ``objects`` (what goes in and out, the YAML), ``warnings`` (each pinned to its
field), ``kubernetes`` (pod templates, environment, seconds), ``argo`` (Rollout strategies),
``traffic`` (request weights and header routes as Argo's traffic routing), ``translate`` (one
pass over the folder).

>>> from types import SimpleNamespace
>>> item = SimpleNamespace(source="web.yaml", line=1, obj={
...     "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
...     "spec": {"autoRollback": True, "selector": {"matchLabels": {"app": "web"}},
...              "template": {"metadata": {"labels": {"app": "web"}},
...                           "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}})
>>> result = export_objects([item])
>>> "autoRollback" in result.objects[0].obj["spec"], result.problems[0].field
(False, 'spec.autoRollback')
"""

from __future__ import annotations

from reconciler.export.argo import ROLLOUT_API_VERSION
from reconciler.export.kubernetes import port_variable, variable_references, whole_seconds
from reconciler.export.objects import Exported, ExportedObject, SourceObject, dump_yaml, file_name
from reconciler.export.traffic import TrafficRouter
from reconciler.export.translate import export_objects, portability_problems
from reconciler.export.warnings import RULE, render_path

__all__ = [
    "ROLLOUT_API_VERSION",
    "RULE",
    "Exported",
    "ExportedObject",
    "SourceObject",
    "TrafficRouter",
    "dump_yaml",
    "export_objects",
    "file_name",
    "port_variable",
    "portability_problems",
    "render_path",
    "variable_references",
    "whole_seconds",
]
