"""A /proc file read often and cheaply, for the modelled meters' every-poll reads.

At 1 s sampling, opening /proc/stat and /proc/meminfo and parsing them through psutil was most
of what a sleeping job paid for being measured. The file stays open instead (close-on-exec), and
each ``read()`` is one pread() at offset 0, which makes the kernel generate the content afresh.
"""
from __future__ import annotations

import os


class ProcFile:
    def __init__(self, path: str, size: int = 4096):
        self.path, self.size = path, size
        self._fd = os.open(path, os.O_RDONLY)

    def read(self) -> bytes:
        """The file's first ``size`` bytes, as of now."""
        return os.pread(self._fd, self.size, 0)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
