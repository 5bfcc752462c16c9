"""``-l`` for the verbs that take one (``describe``, ``logs``, ``wait``, ``top``): kubectl's full
grammar (``reconciler.labels``), its parse errors as usage errors (exit 2)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from reconciler import labels
from reconciler.errors import UsageError

__all__ = ["matcher"]


def matcher(selector: str) -> Callable[[Mapping[str, str]], bool]:
    """A predicate over a label set for ``selector``.

    >>> match = matcher("app=web,tier in (front,edge),!canary")
    >>> match({"app": "web", "tier": "front", "x": "1"}), match({"app": "web"})
    (True, False)
    >>> matcher("")({"a": "b"})
    True
    """
    try:
        return labels.parse(selector).matches
    except labels.SelectorError as exc:
        raise UsageError(f"error: {exc}") from None
