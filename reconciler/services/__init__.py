"""Services as the daemon runs them: who stands behind each port, and is the canary healthy.

``router`` keeps each Service's proxy listeners and hands them their backends; ``endpoints``
is the pure arithmetic of which Ready pods serve a port with what weight (and which version,
and a canary's header routes); ``analysis`` checks a running canary and reports failures to the
engine; ``traffic`` books the proxy's request counters to revisions, and ``verdicts`` judges a
canary's metrics from them.
"""

__all__: list[str] = []  # the modules are the interface: import from them
