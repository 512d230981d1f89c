"""Writing report and export files: whole or not at all, and never replacing what is not a file.

Every command that writes ``--out``/``--html``/``--md``/``--latex`` goes through ``write_output``:

- a regular file (new or existing) is written to a temporary file beside it, flushed to disk and
  renamed into place, so a crash or an error part-way leaves the old file (or none);
- a symlink to a regular file: the same, at the file it points to (the link stays a link);
- a character device, FIFO or socket (``/dev/null``, ``/dev/stdout``, a named pipe) and anything
  reached through a descriptor link (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``) is opened
  and written through: the node is never replaced;
- ``-`` is standard output;
- anything else (an empty path, a folder, a missing folder, ``/proc`` or ``/sys``, no permission,
  a read-only or full disk) is a ``UsageError`` naming the problem and the fix, with any temporary
  file removed.
"""
from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile

from ..errors import UsageError
from ..units import shown

_FD_LINKS = ("/dev/fd/", "/proc/self/fd/", "/dev/stdout", "/dev/stderr")
_KERNEL = ("/proc/", "/sys/")

_FIX = {
    errno.ENOSPC: "no space left on the device: free some space or choose another path",
    errno.EDQUOT: "disk quota exceeded: free some space or choose another path",
    errno.EACCES: "permission denied: choose a path you can write",
    errno.EPERM: "not permitted: choose a path you can write",
    errno.EROFS: "read-only file system: choose a path on a writable disk",
    errno.ENOENT: "a folder on the path does not exist: create it first",
    errno.ENOTDIR: "a part of the path is not a folder: check the path",
    errno.EISDIR: "it is a directory: give a file name",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter one",
    errno.ENXIO: "no process reads that pipe or device: start the reader first",
    errno.ELOOP: "too many symbolic links: check the path",
}


def _error(path: str, e: OSError) -> UsageError:
    fix = _FIX.get(e.errno, f"{e.strerror or e}: choose another path")
    return UsageError(f"cannot write {shown(path)}: {fix}")


def _fd_link(path: str) -> bool:
    """True when ``path`` (or a link on its way) is a descriptor link such as /dev/stdout."""
    p = os.path.abspath(path)
    for _ in range(40):
        if p.startswith(_FD_LINKS) or p in ("/dev/stdout", "/dev/stderr", "/dev/stdin"):
            return True
        if not os.path.islink(p):
            return False
        p = os.path.normpath(os.path.join(os.path.dirname(p), os.readlink(p)))
    return False


def _kind(path: str) -> str:
    """'new', 'file' (a regular file, maybe through a symlink) or 'through' (write into the node)."""
    if not path:
        raise UsageError("empty file name: give a path, or '-' for standard output")
    if "\x00" in path:
        raise UsageError(f"cannot write {shown(path)}: a file name cannot hold a NUL character")
    if _fd_link(path):
        return "through"
    real = os.path.realpath(path)
    if (real + "/").startswith(_KERNEL) or (os.path.abspath(path) + "/").startswith(_KERNEL):
        raise UsageError(f"cannot write {shown(path)}: /proc and /sys hold the kernel's files, not "
                         "reports; choose a path on a disk")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "new"
    except OSError as e:
        raise _error(path, e) from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{shown(path)} is a directory: give the name of a file in it")
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISBLK(st.st_mode):
        raise UsageError(f"{shown(path)} is a block device: wattprint does not write disks; give a file name")
    return "through"  # character device, FIFO, socket


def check_writable(path: str) -> None:
    """Fail before any work when ``path`` cannot be written where asked."""
    if path == "-":
        return
    if _kind(path) == "through":
        return
    target = os.path.realpath(path)
    folder = os.path.dirname(target) or "."
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist (create it first)"
        raise UsageError(f"cannot write {shown(path)}: {shown(folder)} {what}")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write {shown(path)}: folder {shown(folder)} is not writable (choose another path)")
    if len(os.path.basename(target).encode()) > 255:
        raise UsageError(f"cannot write {shown(path)}: {_FIX[errno.ENAMETOOLONG]}")


def write_output(path: str, write) -> None:
    """Call ``write(file)`` on a text file that ends up at ``path`` (see the module's rules)."""
    if path == "-":
        write(sys.stdout)
        sys.stdout.flush()
        return
    check_writable(path)
    if _kind(path) == "through":
        try:
            with open(path, "w", encoding="utf-8", newline="") as f:
                write(f)
        except OSError as e:
            raise _error(path, e) from None
        return
    _atomic(os.path.realpath(path), path, write)


def _atomic(target: str, shown_as: str, write) -> None:
    folder = os.path.dirname(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = 0o644
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target)[:100] + ".", suffix=".tmp", dir=folder)
    except OSError as e:
        raise _error(shown_as, e) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise _error(shown_as, e) from None
        raise
