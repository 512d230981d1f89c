"""Where a store file may live: path checks made before SQLite opens it.

SQLite relies on POSIX advisory locks, which network and FUSE filesystems often get wrong; a
store written there can be corrupted silently, so writers refuse them (``check_local``) and
point to PostgreSQL (a ``postgresql://`` store) as the store to share between machines.
"""
from __future__ import annotations

import os
import re

from ..errors import UsageError
from ..fmt import opt

MOUNTINFO = "/proc/self/mountinfo"  # tests point this at a fake table
ALLOW_NETWORK_ENV = "WATTPRINT_STORE_ALLOW_NETWORK_FS"

# Filesystem types (mountinfo's field after " - ") whose locking SQLite cannot trust.
NETWORK_FS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "lustre", "gpfs", "beegfs",
    "ceph", "glusterfs", "orangefs", "pvfs2", "panfs", "wekafs", "fuse", "fuseblk", "vboxsf",
})

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def stores_in(directory: str) -> list[str]:
    """The ``*.sqlite`` store files in ``directory`` and one level below (per-node folders)."""
    import glob

    return sorted(glob.glob(os.path.join(directory, "*.sqlite")) +
                  glob.glob(os.path.join(directory, "*", "*.sqlite")))


def check_not_url(path: str) -> None:
    """A ``scheme://`` path is a server address, never a local file name."""
    m = _URL.match(path)
    if not m:
        return
    raise UsageError(f"unsupported store address {mask(path)!r}: give a local file path or a "
                     f"PostgreSQL server's postgresql://user@host:port/db with {opt('store')} or "
                     "WATTPRINT_STORE")


_PASSWORD = [(re.compile(r"(://[^:/@?#]*:)[^@/?#]*@"), r"\1***@"),
             (re.compile(r"(password\s*=\s*)('[^']*'|[^&\s]*)", re.I), r"\1***")]


def mask(text: str) -> str:
    """``text`` with any password of a connection string in it replaced by ``***``."""
    for pattern, repl in _PASSWORD:
        text = pattern.sub(repl, text)
    return text


def existing_ancestor(path: str) -> str:
    """The nearest part of ``path`` (itself included) that exists."""
    d = os.path.abspath(path)
    while not os.path.lexists(d):
        d = os.path.dirname(d)
    return d


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash in paths as octal escapes
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_of(path: str, mountinfo: str | None = None) -> tuple[str, str] | None:
    """(mount point, filesystem type) holding ``path``, from ``/proc/self/mountinfo``; None
    where there is no such table (not Linux)."""
    try:
        with open(mountinfo or MOUNTINFO, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    real = os.path.realpath(existing_ancestor(path))
    best = None
    for line in lines:
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if not sep or len(fields) < 5 or not rest:
            continue
        point = _unescape(fields[4])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        # a later line for the same point is mounted over the earlier one
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, rest[0])
    return best


def network_fs(path: str, mountinfo: str | None = None) -> tuple[str, str] | None:
    """(mount point, type) when ``path`` lies on a network or FUSE filesystem, else None."""
    m = mount_of(path, mountinfo)
    if m and (m[1] in NETWORK_FS or m[1].startswith("fuse.")):
        return m
    return None


def check_local(path: str, mountinfo: str | None = None) -> None:
    """``UsageError`` when a store to be written lies on a network filesystem, unless
    ``$WATTPRINT_STORE_ALLOW_NETWORK_FS=1``."""
    if os.environ.get(ALLOW_NETWORK_ENV, "") not in ("", "0"):
        return
    m = network_fs(path, mountinfo)
    if m:
        raise UsageError(
            f"the run store {path} is on a {m[1]} filesystem ({m[0]}), where SQLite's file locks "
            f"are not safe and the store can be corrupted: for a store shared by many machines give a "
            f"PostgreSQL server ({opt('store')} or WATTPRINT_STORE=postgresql://user@host/db), or "
            "write it on a local disk and combine stores with 'wattprint store copy', or set "
            f"{ALLOW_NETWORK_ENV}=1 if this filesystem's locks are known to work")


def writable(path: str) -> str | None:
    """None when a store file can be written at ``path`` (created where it is missing), else
    why not. Asks the kernel (``access``), which also knows read-only mounts."""
    if os.path.lexists(path):  # the file, and its directory for the -wal and -shm files
        targets = [path, os.path.dirname(os.path.abspath(path))]
    else:
        targets = [existing_ancestor(path)]
        if not os.path.isdir(targets[0]):
            return f"{targets[0]} is not a directory"
    for target in targets:
        if not os.access(target, os.W_OK):
            what = "file" if target == path else "directory"
            ro = _read_only_mount(target)
            return f"{'read-only filesystem' if ro else 'no write permission'} ({what} {target})"
    return None


def _read_only_mount(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False
