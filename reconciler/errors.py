"""Problems: the one vocabulary for everything that is wrong with input.

The validator, the loader, the daemon and the CLI all report a ``Problem``: where it is
(file, line, column), what field, what is wrong, and which rule said so. A Problem renders
as ``manifests/web.yaml:14:7: error: spec.replicas: 'three' is not of type 'integer' (schema)``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one place of the input."""

    file: str
    line: int
    column: int
    severity: Severity
    message: str
    rule: str
    field: str = ""

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {self.severity}: {field}{self.message} ({self.rule})"

    def with_severity(self, severity: Severity) -> Problem:
        return Problem(
            file=self.file,
            line=self.line,
            column=self.column,
            severity=severity,
            message=self.message,
            rule=self.rule,
            field=self.field,
        )


class ReconcilerError(Exception):
    """An error with a message meant for the user (no traceback needed)."""


class UsageError(ReconcilerError):
    """Wrong command-line usage: exit code 2 (kubectl: exit 1 for most, we follow diff's 2)."""


class NotFoundError(ReconcilerError):
    """A named object does not exist."""


class StateDirError(ReconcilerError):
    """The state directory cannot be used (owned by someone else, locked, unwritable)."""
