"""Manifests: from YAML bytes to checked objects, the first stage of the pipeline.

``load`` reads YAML with positions into ``Document``s: ``files`` reads the bytes (bounded, never
blocking on a FIFO), ``nodes`` is the careful constructor (duplicate keys, alias bombs, depth),
``fastyaml`` the fast path when it reads a file exactly alike. ``schema`` and ``upstream`` hold
the JSON schemas; ``rules`` (with ``names`` for names and labels, ``strategyrules`` for the
strategies), ``crossrules``, ``configrules``, ``envrules``, ``podrules`` and ``configrefs`` are
the API server's own rules; ``validate`` is the one gate everything downstream passes through;
``lint`` and ``lintstrategy`` are the best-practice checks of ``validate --lint``. ``podenv`` and
``expand`` say what a pod spec means to the kubelet (its environment, ``$(VAR)`` expansion),
shared by every runtime and the engine. Nothing here reads the store or the engine.
"""

__all__: list[str] = []  # the modules are the interface: import from them
