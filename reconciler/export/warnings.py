"""The warnings of one object's translation, each pinned to the field it is about.

Every translation step that changes or loses meaning says so here, so nothing is dropped
silently; the warning points at the field's own line and column when the source object can
tell (a ``position(path)`` of its own or of its ``document``), else at the nearest parent, else
at the object's first line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.errors import Problem, Severity
from reconciler.export.objects import SourceObject

__all__ = ["RULE", "Path", "Warnings", "render_path"]

RULE = "kubernetes"

Path = tuple[str | int, ...]


def render_path(path: Path) -> str:
    """``("spec", "containers", 0, "env")`` -> ``spec.containers[0].env``.

    >>> render_path(("spec", "containers", 0, "env"))
    'spec.containers[0].env'
    """
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(slots=True)
class Warnings:
    """One object's translation warnings, collected as the translation goes."""

    item: SourceObject
    problems: list[Problem] = field(default_factory=list)

    def warn(self, path: Path, message: str) -> None:
        line, column = self._position(path)
        self.problems.append(
            Problem(
                file=self.item.source,
                line=line,
                column=column,
                severity=Severity.WARNING,
                message=message,
                rule=RULE,
                field=render_path(path),
            )
        )

    def _position(self, path: Path) -> tuple[int, int]:
        # The most precise place known: the field itself, else the nearest parent, else the
        # object's first line.
        locate = getattr(self.item, "position", None)
        if locate is None:
            locate = getattr(getattr(self.item, "document", None), "position", None)
        if callable(locate):
            for end in range(len(path), -1, -1):
                try:
                    found = locate(path[:end])
                except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                    continue
                if found:
                    return int(found[0]), int(found[1])
        return self.item.line, 1
