"""The daemon: one event loop that keeps the host equal to the folder (``loop``)."""

__all__: list[str] = []  # the modules are the interface: import from them
