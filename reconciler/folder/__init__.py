"""The folder: the desired state as files, watched, synced into the store, edited in place.

``files`` is the one rule for which files are manifests (and their atomic writes); ``watch``
turns watchdog events into one coalesced change set; ``sync`` (with ``configsync`` for
ConfigMaps and Secrets) loads, validates, compares with the store and applies or prunes;
``broken`` keeps a broken file's objects running on their last good revision; ``diff`` and
``drift`` compare what runs with what the folder asks; ``documents`` (a file cut into its YAML
documents), ``locate`` and ``edit`` are the one place where commands write manifest files,
keeping comments and layout.
"""

__all__: list[str] = []  # the modules are the interface: import from them
