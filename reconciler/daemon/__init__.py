"""The daemon: one event loop that keeps the host equal to the folder.

``loop`` is the daemon itself, wiring only; ``compose`` builds it from ``options`` (the real
store, runtimes and data plane for ``reconciler run``, or fakes for unit tests) and ``parts``
is what it wires. Around the loop: the work queue (``queue``), intent routing (``intents``),
the pods' owners and flush (``pods``), invalid manifests and an unwritable store
(``problems``), the words of its events (``events``), background steps and signals
(``tasks``) and the data plane started on demand (``dataplane``).
"""

__all__: list[str] = []  # the modules are the interface: import from them
