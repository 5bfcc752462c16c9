"""The one way tests pick a TCP port for a server another process will bind.

``bind(0)``, close, hand the number on is racy twice over: until the child binds it, any
outgoing connection on the host may take it as its local port (the kernel picks those from the
same ephemeral range), and so may another test, on this machine shared by several agents'
suites. Ports here come from *above* the ephemeral range (``ip_local_port_range``: 32768-60999
by default, so 61000-65535), where no outgoing connection lands and the daemons' pod allocator
(below the range) never looks; each is claimed with an exclusive ``flock`` on a file named after
it, held until this test process exits (the kernel drops it even on SIGKILL), so two test
processes never get the same port; and it must bind now. Where nothing lies above the ephemeral
range, the ports below it are used the same way.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

from reconciler.runtime.ports import ephemeral_range

__all__ = ["free_port"]

CLAIMS = Path(tempfile.gettempdir()) / "reconciler-test-ports"
_held: dict[int, int] = {}  # port -> the claim's file descriptor, kept open for the process


def _candidates() -> range:
    low, high = ephemeral_range() or (32768, 60999)
    if 65535 - high >= 1_000:
        return range(high + 1, 65536)
    return range(max(10_000, low - 12_000), low)


def _claim(port: int) -> bool:
    CLAIMS.mkdir(mode=0o777, exist_ok=True)
    fd = os.open(CLAIMS / f"{port}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _held[port] = fd
    return True


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that no other test process is given and that binds right now."""
    ports = _candidates()
    start = random.randrange(len(ports))
    for offset in range(len(ports)):
        port = ports[(start + offset) % len(ports)]
        if port in _held or not _claim(port):
            continue
        if _bindable(port):
            return port
    raise OSError("no free test port: every candidate is claimed or bound")
