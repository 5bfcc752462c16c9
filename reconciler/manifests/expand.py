"""Kubernetes ``$(VAR)`` expansion for ``command``, ``args`` and ``env`` values.

Same rules as ``third_party/forked/golang/expansion``: ``$(NAME)`` is replaced when NAME is
defined, left as written when it is not; ``$$`` is an escaped ``$``; any other ``$`` stays.

>>> expand("http://$(HOST):$(PORT)/ $$(PORT) $(NOPE) $", {"HOST": "a", "PORT": "80"})
'http://a:80/ $(PORT) $(NOPE) $'
"""

from __future__ import annotations

from collections.abc import Mapping


def expand(text: str, variables: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char != "$" or i + 1 >= n:
            out.append(char)
            i += 1
            continue
        following = text[i + 1]
        if following == "$":
            out.append("$")
            i += 2
        elif following == "(":
            close = text.find(")", i + 2)
            if close == -1:
                out.append(text[i:])
                break
            name = text[i + 2 : close]
            out.append(variables[name] if name in variables else text[i : close + 1])
            i = close + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)
