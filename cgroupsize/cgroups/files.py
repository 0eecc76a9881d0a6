"""The root seam: every file cgroupsize reads goes through :class:`Files`.

Paths are written as they are seen inside the root (``/proc/self/cgroup``)
and joined onto it here, so a fixture directory fully determines the answer
(DESIGN.md, "The root seam"). Reading never raises: a missing file is
``None``; an unreadable one is ``None`` plus an ``UNREADABLE`` notice.
"""
from __future__ import annotations

import errno
import os

from cgroupsize.limits import MALFORMED, UNREADABLE

# cgroup and /proc files are small; mountinfo on a busy host is a few MiB.
# Anything past this is not a real file of the kind we read.
MAX_READ = 32 << 20

# "No such file" in all its shapes: the file, or a directory on its path, is
# missing or is not a directory (a fixture or a kernel without the controller).
_ABSENT = (errno.ENOENT, errno.ENOTDIR)


class Files:
    """Reads files under ``root`` and records what went wrong in ``notices``."""

    __slots__ = ("root", "notices", "is_host")

    def __init__(self, root: str = "/", notices=None):
        self.root = os.path.abspath(root or "/")
        self.is_host = self.root == "/"
        self.notices = notices if notices is not None else []

    def path(self, inside: str) -> str:
        """The real path of ``inside`` (an absolute path as seen inside the root)."""
        return inside if self.is_host else self.root + "/" + inside.lstrip("/")

    def read(self, inside: str) -> str | None:
        """Text of a file (undecodable bytes kept by surrogateescape), or None."""
        try:
            with open(self.path(inside), "rb") as f:
                data = f.read(MAX_READ)
        except OSError as exc:
            if exc.errno not in _ABSENT:
                self.notice(UNREADABLE, f"cannot read {inside}: {exc.strerror or exc}")
            return None
        except ValueError:  # a NUL byte in a path taken from mountinfo
            self.notice(MALFORMED, f"cannot open {inside!r}: the path contains a NUL byte")
            return None
        return data.decode("utf-8", "surrogateescape")

    def read_line(self, inside: str) -> str | None:
        """First line of a file, stripped, or None."""
        text = self.read(inside)
        return None if text is None else text.split("\n", 1)[0].strip()

    def notice(self, code: str, message: str) -> None:
        from cgroupsize.limits import Notice

        self.notices.append(Notice(code, message))

    def malformed(self, inside: str, text: str, expects: str) -> None:
        self.notice(MALFORMED, f"ignored {inside}: {_show(text)} is not {expects}")


def _show(text: str, limit: int = 40) -> str:
    """A short, printable rendering of file content for a notice."""
    t = text.strip()
    if len(t) > limit:
        t = t[:limit] + "..."
    return repr(t.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace"))


def parse_cpu_list(text: str) -> set | None:
    """CPUs in a kernel cpu list such as ``0-3,8,10-11`` (cpuset(7) "List format").

    None when the text is not a list; an empty list is an empty set.
    """
    cpus = set()
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        hi, _, stride = hi.partition(":")  # "0-7:2" strides (cpuset(7))
        if not lo.isdigit() or (sep and not hi.isdigit()) or (stride and not stride.isdigit()):
            return None
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first or last - first > 1 << 16:
            return None
        cpus.update(range(first, last + 1, int(stride) if stride and int(stride) > 0 else 1))
    return cpus
