"""The daemon: one event loop that keeps the host equal to the folder (``loop``)."""
