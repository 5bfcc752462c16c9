"""Services as the daemon runs them: who stands behind each port, and is the canary healthy.

``router`` keeps each Service's proxy listeners and hands them their backends; ``endpoints``
is the pure arithmetic of which Ready pods serve a port with what weight; ``analysis`` checks a
running canary and reports failures to the engine.
"""

__all__: list[str] = []  # the modules are the interface: import from them
