"""reconciler: Kubernetes Deployments and Services, reconciled onto one host.

The folder of manifests is the desired state; a daemon watches it, validates every change,
records revisions in SQLite and rolls them out onto real processes behind real TCP proxies.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
