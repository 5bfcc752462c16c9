"""structlog set-up: console output on a terminal, JSON lines otherwise.

Event names are short snake_case verbs with bound context
(``log.bind(deployment=key).info("scaled_up", replica_set=rs, from_=2, to=3)``).
Values of keys that look secret (``*PASSWORD*``, ``*TOKEN*``, ``*SECRET*``, ``*_KEY``) are
redacted before anything is rendered.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_NAME = re.compile(r"(PASSWORD|TOKEN|SECRET|_KEY$|^KEY$)", re.IGNORECASE)
REDACTED = "<redacted>"


def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def redact_env(env: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """A copy of a container's ``env`` list with secret-looking values redacted."""
    if not env:
        return env
    out = []
    for item in env:
        if isinstance(item, dict) and looks_secret(str(item.get("name", ""))) and "value" in item:
            item = {**item, "value": REDACTED}
        out.append(item)
    return out


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key != "event" and looks_secret(key):
            event[key] = REDACTED
    return event


def configure(level: str = "info", *, json: bool | None = None, stream: Any = None) -> None:
    stream = stream or sys.stderr
    if json is None:
        json = not stream.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        # plain tracebacks: rich's (used when it is installed) prints every frame's locals,
        # which may hold a Secret's values
        else structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Any:
    return structlog.get_logger(**context)  # stays lazy: configure() later still applies
