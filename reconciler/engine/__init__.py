"""The reconcile engine: a guard ladder and one pure planner per strategy.

``dispatch.plan(view, now=...)`` turns a ``model.DeploymentView`` into a ``model.Plan``; the
executor (the only module here with effects) applies it. See ``model`` for the contract.
"""

__all__: list[str] = []  # the modules are the interface: import from them
