"""The reconcile engine: a guard ladder and one pure planner per strategy.

``dispatch.plan(view, now=...)`` turns a ``model.DeploymentView`` into a ``model.Plan``; the
executor (the only module here with effects) applies it. See ``model`` for the contract.
``dispatch.plan`` is a script of named phases over a ``script.Pass`` (the first ones, intents
and analysis, in ``intents``); each strategy (``rolling``, ``recreate``, ``bluegreen``,
``canary``) is a script of its own, and both blue-green and canary pause through ``pause``.
What the engine remembers between passes is the typed ``state.RolloutState``; ``serialize``
is the one place it becomes the store's ``status["rollout"]`` dict and back.
"""

__all__: list[str] = []  # the modules are the interface: import from them
