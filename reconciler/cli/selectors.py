"""The one place the new verbs (``describe -l``, ``logs -l``, ``wait -l``, ``top -l``) match labels.

kubectl's full selector grammar (``!=``, ``in``, ``notin``, ``key``, ``!key``) is
``reconciler.labels``, written alongside; until it is merged this module understands the
equality forms (``k=v``, ``k==v``, comma = and) and refuses anything else with a clear error
rather than ignoring it, so a selector is never silently dropped. At the merge, ``matcher``
becomes ``reconciler.labels``' parser and nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from reconciler.errors import UsageError

__all__ = ["matcher"]


def matcher(selector: str) -> Callable[[Mapping[str, str]], bool]:
    """A predicate over a label set for ``selector``.

    >>> match = matcher("app=web,tier==front")
    >>> match({"app": "web", "tier": "front", "x": "1"}), match({"app": "web"})
    (True, False)
    >>> matcher("")({"a": "b"})
    True
    """
    wanted: dict[str, str] = {}
    for term in (t.strip() for t in selector.split(",")):
        if not term:
            continue
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if not op or not key.strip() or "!" in key or " " in key.strip():
            raise UsageError(
                f'error: unable to parse requirement: "{term}": only key=value terms are '
                "understood here (comma = and)"
            )
        wanted[key.strip()] = value.strip()

    def match(labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in wanted.items())

    return match
