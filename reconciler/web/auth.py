"""Who may do what over HTTP: the token, the bind address, and the checks on each request.

The rules (README, "Web"):

- ``<state dir>/http-token`` (0600, created at the daemon's first start with ``--http``) holds
  one random token. An action (``POST``) needs ``Authorization: Bearer TOKEN``, always.
- Reads (``GET``: the API, the event stream, ``/metrics``) need the token too when the server
  listens on an address that is not loopback. On loopback they are open, but only to a ``Host``
  that names loopback: a web page cannot read the API through DNS rebinding (its requests carry
  the attacker's host name).
- No cookie is ever read, so a cross-site form or script cannot act with the user's rights
  (no CSRF); a ``POST`` whose ``Origin`` is another site is refused all the same. Nothing acts
  on ``GET``, and the server sends no redirects at all (so none is open).
- ``/healthz`` and ``/readyz`` answer anyone: they say only whether the daemon is up.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ReconcilerError

TOKEN_FILE = "http-token"
ADDRESS_FILE = "http-address"
DEFAULT_HTTP = "127.0.0.1:18070"

__all__ = [
    "ADDRESS_FILE",
    "DEFAULT_HTTP",
    "TOKEN_FILE",
    "HttpAddress",
    "bearer_matches",
    "host_is_loopback",
    "load_or_create_token",
    "parse_http",
    "same_origin",
]


@dataclass(frozen=True, slots=True)
class HttpAddress:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        return host_is_loopback(self.host)

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}"


def parse_http(value: str) -> HttpAddress | None:
    """``--http``: ``ADDR:PORT``, ``[v6]:PORT``, ``PORT`` (loopback), or ``off`` (None).

    >>> parse_http("127.0.0.1:18070"), parse_http("off"), parse_http("0")
    (HttpAddress(host='127.0.0.1', port=18070), None, HttpAddress(host='127.0.0.1', port=0))
    >>> parse_http("[::1]:9000")
    HttpAddress(host='::1', port=9000)
    """
    text = value.strip()
    if text.lower() in ("off", "false", "no", "none", ""):
        return None
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or not 0 <= int(port) <= 65535 or not host:
        raise ReconcilerError(
            f"error: --http {value!r}: expected ADDR:PORT (e.g. 127.0.0.1:18070, 0.0.0.0:8080, "
            "[::1]:18070), a port, or off"
        )
    return HttpAddress(host, int(port))


def host_is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost`` and ``*.localhost`` (RFC 6761) are loopback."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def load_or_create_token(state_dir: Path) -> str:
    """The token in ``<state dir>/http-token``, created (0600) with 256 random bits if absent."""
    path = state_dir / TOKEN_FILE
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ReconcilerError(f"error: cannot create {path}: {exc.strerror}") from exc
    else:
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        return token
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as source:
            existing = source.read().strip()
        if os.stat(path).st_mode & 0o077:
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)
    except OSError as exc:
        raise ReconcilerError(
            f"error: cannot read {path}: {exc.strerror} (delete it to get a new token)"
        ) from exc
    if len(existing) < 16 or any(c.isspace() for c in existing):
        raise ReconcilerError(
            f"error: {path} does not hold a usable token (at least 16 characters, no spaces); "
            "delete it and restart the daemon to get a new one"
        )
    return existing


def bearer_matches(header: str | None, token: str) -> bool:
    """``Authorization: Bearer TOKEN``, compared in constant time."""
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def same_origin(origin: str | None, *, scheme: str, host: str) -> bool:
    """No ``Origin`` (curl, scripts) or the server's own one; anything else is cross-site."""
    if origin is None:
        return True
    return origin.rstrip("/").lower() == f"{scheme}://{host}".lower()
