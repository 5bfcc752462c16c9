"""Isolation for the process runtime: volumes at their mountPath, limits through cgroups.

A pod here shares the host's root filesystem, so isolation is done with what Linux offers a
root daemon: a private mount namespace per container (``enter``, the exec wrapper the runtime
puts in front of the container's command), cgroups per container (``cgroups``, v1 and v2), the
volumes materialized under the state directory (``volumes``) and a one-node scheduler that
checks ``requests`` against the host (``schedule``). ``pods`` ties them to one pod's life;
``capabilities`` says, once at daemon start, what this host allows, so ``validate`` and
``describe`` can warn where a field cannot be honoured.

This module imports nothing: the exec wrapper imports the package on every container start.
"""

from __future__ import annotations

__all__: list[str] = []
