"""Manifests: from YAML bytes to checked objects, the first stage of the pipeline.

``load`` reads YAML with positions (``fastyaml`` first, the careful loader when in doubt);
``schema`` and ``upstream`` hold the JSON schemas; ``rules``, ``crossrules``, ``configrules``,
``envrules``, ``podrules`` and ``configrefs`` are the API server's own rules; ``validate`` is the
one gate everything downstream passes through; ``lint`` and ``lintstrategy`` are the
best-practice checks of ``validate --lint``. Nothing here reads the store or the engine.
"""

__all__: list[str] = []  # the modules are the interface: import from them
