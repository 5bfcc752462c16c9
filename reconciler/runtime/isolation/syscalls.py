"""The few Linux system calls isolation needs, through ctypes (Python 3.11 has no ``os.unshare``,
``os.setns`` or ``mount``).

Each wrapper raises ``OSError`` with the errno and the call's arguments, so a failed mount says
which path and why (``EPERM``, ``ENOENT``) instead of a bare -1.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

# pivot_root has no glibc wrapper: the raw system call number per architecture
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

# the interpreter's own symbols include libc's; ctypes.util.find_library would run ldconfig
# (tens of milliseconds on every container start)
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    _check(
        _libc.mount(
            os.fsencode(source),
            os.fsencode(target),
            os.fsencode(fstype) if fstype else None,
            ctypes.c_ulong(flags),
            os.fsencode(data) if data else None,
        ),
        f"mount {source} on {target} ({fstype or 'bind'}, flags {flags:#x})",
    )


def umount(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(os.fsencode(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    machine = os.uname().machine
    number = _SYS_PIVOT_ROOT.get(machine)
    if number is None:
        raise OSError(38, f"pivot_root: unknown system call number on {machine}")
    _check(
        _libc.syscall(ctypes.c_long(number), os.fsencode(new_root), os.fsencode(put_old)),
        f"pivot_root {new_root}",
    )


__all__ = [
    "CLONE_NEWNS",
    "MNT_DETACH",
    "MS_BIND",
    "MS_MOVE",
    "MS_NODEV",
    "MS_NOSUID",
    "MS_PRIVATE",
    "MS_RDONLY",
    "MS_REC",
    "MS_REMOUNT",
    "MS_UNBINDABLE",
    "mount",
    "pivot_root",
    "setns",
    "umount",
    "unshare",
]
