"""The root seam: every file cgroupsize reads goes through :class:`Files`.

Paths are written as they are seen inside the root (``/proc/self/cgroup``)
and joined onto it here, so a fixture directory fully determines the answer
(docs/architecture.rst, "The root seam"). Reading never raises: a missing file is
``None``; an unreadable one is ``None`` plus an ``UNREADABLE`` notice.
"""
from __future__ import annotations

import errno
import os
import posixpath
import stat

from cgroupsize.model import MALFORMED, UNREADABLE, Notice

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

# cgroup and /proc files are small (a cpuset list of 8192 CPUs is 40 KB, /proc/self/cgroup at
# most 17 hierarchies of PATH_MAX): a bigger one is not a real file of the kind we read, and
# reading it whole would cost the memory the tool is there to protect (bounded on any input).
MAX_READ = 256 << 10
# mountinfo on a busy host is a few MiB (the kernel allows 100,000 mounts per namespace,
# fs.mount-max): it is read line by line, keeping only the lines detection can use.
MAX_SCAN = 64 << 20
MOUNTINFO = "/proc/self/mountinfo"

# "No such file" in all its shapes: the file, or a directory on its path, is
# missing or is not a directory (a fixture or a kernel without the controller).
_ABSENT = (errno.ENOENT, errno.ENOTDIR)

# O_NONBLOCK so that opening a FIFO placed where a file should be
# (a fixture, a hostile bind mount) cannot hang the entrypoint waiting for a
# writer; the fstat that follows then refuses anything that is not a regular
# file (FIFO, device, directory). Every file we read in /proc, /sys and the
# cgroupfs is S_IFREG, and O_NONBLOCK changes nothing for regular files.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 16


class Files:
    """Reads files under ``root`` and records what went wrong in ``notices``."""

    __slots__ = ("root", "notices", "is_host")

    def __init__(self, root: str = "/", notices: list[Notice] | None = None) -> None:
        self.root = os.path.abspath(root or "/")
        self.is_host = self.root == "/"
        self.notices = notices if notices is not None else []

    def path(self, inside: str) -> str:
        """The real path of ``inside`` (an absolute path as seen inside the root).

        ``..`` is resolved lexically first, as if ``inside`` started at ``/``:
        a mount point such as ``/../../sys/fs/cgroup`` in a fixture's mountinfo
        must not climb out of the root and read the real machine; symlinks
        under a root resolve inside it (:func:`confined`).
        """
        inside = posixpath.normpath("/" + inside.lstrip("/"))
        return inside if self.is_host else confined(self.root, inside)

    def read(self, inside: str) -> str | None:
        """Text of a regular file (undecodable bytes kept by surrogateescape), or None.

        Absent (ENOENT, ENOTDIR): None, silently. Anything else -- EACCES, EIO,
        ELOOP, a directory, FIFO or device where a file should be: None and an
        ``UNREADABLE`` notice. Never blocks, never raises.
        """
        try:
            if inside == MOUNTINFO:
                return self._scan_mountinfo()
            data = read_regular(self.path(inside), MAX_READ + 1)
        except OSError as exc:
            if exc.errno not in _ABSENT:
                self.notice(UNREADABLE, f"cannot read {inside}: {exc.strerror or exc}")
            return None
        except ValueError as exc:  # a NUL byte (or unencodable text) in a path taken from mountinfo
            self.notice(MALFORMED, f"cannot open {_show(inside)}: {exc}")
            return None
        if data is None:
            self.notice(UNREADABLE, f"cannot read {inside}: not a regular file")
            return None
        if len(data) > MAX_READ:
            self.notice(MALFORMED, f"ignored {inside}: larger than {MAX_READ >> 10} KiB, which no file of "
                        "its kind is")
            return None
        return data.decode("utf-8", "surrogateescape")

    def _scan_mountinfo(self) -> str | None:
        """The lines of mountinfo detection can use (:class:`~cgroupsize.cgroups.mountinfo.Relevant`),
        read in chunks: memory stays bounded whatever the file holds. OSError passes."""
        from cgroupsize.cgroups.mountinfo import MAX_LINE, Relevant

        fd = regular_fd(self.path(MOUNTINFO))
        if fd is None:
            self.notice(UNREADABLE, f"cannot read {MOUNTINFO}: not a regular file")
            return None
        keep, rest, size = Relevant(), b"", 0
        try:
            while size < MAX_SCAN:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                if len(rest) > MAX_LINE:  # a line without end: keep its start, enough to reject it
                    rest = rest[:MAX_LINE + 1]
                for line in lines:
                    keep.feed(line.decode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)
        if rest:
            keep.feed(rest.decode("utf-8", "surrogateescape"))
        if size >= MAX_SCAN:
            self.notice(MALFORMED, f"read only the first {MAX_SCAN >> 20} MiB of {MOUNTINFO}")
        return keep.text()

    def is_dir(self, inside: str) -> bool:
        """Whether ``inside`` is a directory; an error other than "absent" adds a notice."""
        try:
            return stat.S_ISDIR(os.stat(self.path(inside)).st_mode)
        except OSError as exc:
            if exc.errno not in _ABSENT:
                self.notice(UNREADABLE, f"cannot look at {inside}: {exc.strerror or exc}")
            return False
        except ValueError as exc:
            self.notice(MALFORMED, f"cannot look at {_show(inside)}: {exc}")
            return False

    def read_line(self, inside: str) -> str | None:
        """First line of a file, stripped, or None."""
        text = self.read(inside)
        return None if text is None else text.split("\n", 1)[0].strip()

    def scoped(self) -> Files:
        """The same root with a notice list of its own: the caller decides what to keep."""
        return Files(self.root, [])

    def notice(self, code: str, message: str, controller: str | None = None) -> None:
        self.notices.append(Notice(code, message, controller))

    def malformed(self, inside: str, text: str, expects: str) -> None:
        self.notice(MALFORMED, f"ignored {inside}: {_show(text)} is not {expects}")


MAX_LINKS = 40  # symlinks followed in one path before ELOOP, as the kernel does (path_resolution(7))


def confined(root: str, inside: str) -> str:
    """``inside`` resolved under ``root`` as after chroot(2) to it: the real path, always in ``root``.

    A symlink under a fixture root (or an image's root filesystem) means what
    it means in the container: an absolute target starts again at ``root``
    and ``..`` stops there, so no link reaches the machine's own /proc or
    /sys. One readlink(2) per component; ELOOP past :data:`MAX_LINKS`.
    """
    todo = [p for p in inside.split("/") if p not in ("", ".")]
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        here = root + "/" + "/".join(done + [part])
        try:
            target = os.readlink(here)
        except (OSError, ValueError):  # not a symlink, absent, a NUL byte: the open that follows says which
            done.append(part)
            continue
        links += 1
        if links > MAX_LINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), inside)
        if target.startswith("/"):
            done = []
        todo[0:0] = [p for p in target.split("/") if p not in ("", ".")]
    return root + "/" + "/".join(done)


def regular_fd(path: str) -> int | None:
    """A read-only descriptor of ``path`` if it is a regular file, else None; OSError as open(2) gives it.

    Opened with O_NONBLOCK, then checked with fstat: a FIFO must neither
    block us (no writer yet) nor be read (its data is the program's: ``java
    @<(echo ...)`` gives java a pipe it must still find full); a directory or
    device is not a file of the kind we read either.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def open_regular(path: str) -> BinaryIO | None:
    """:func:`regular_fd` as a binary file object (for seeking through a binary's headers)."""
    fd = regular_fd(path)
    return None if fd is None else os.fdopen(fd, "rb")


def read_regular(path: str, limit: int) -> bytes | None:
    """At most ``limit`` bytes of a regular file (None: not a regular file); OSError passes."""
    fd = regular_fd(path)
    if fd is None:
        return None
    chunks = []
    size = 0
    try:
        while size < limit:
            chunk = os.read(fd, min(_CHUNK, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


ARGFILE_MAX = 1 << 20  # a java @argfile larger than this is not read (fail open)


def read_text(path: str, limit: int = ARGFILE_MAX) -> str | None:
    """A small regular text file (a java ``@argfile``), or None if missing, unreadable,
    too large or not a regular file (a pipe is left unread for the program)."""
    try:
        data = read_regular(path, limit + 1)
    except (OSError, ValueError):
        return None
    if data is None or len(data) > limit:
        return None
    return data.decode("utf-8", "replace")


def _show(text: str, limit: int = 40) -> str:
    """A short, printable rendering of file content for a notice."""
    t = text.strip()
    if len(t) > limit:
        t = t[:limit] + "..."
    return repr(t.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace"))


def parse_uint(text: str | None, max_digits: int = 20) -> int | None:
    """A whole number written in ASCII digits (at most ``max_digits``), else None.

    Not ``str.isdigit()`` + ``int()``: ``"²".isdigit()`` is True and ``int("²")``
    raises; ``int()`` also takes ``"1_000"``, ``"+5"``, Arabic-Indic digits and,
    past 4300 digits, raises (CPython's int_max_str_digits). The kernel writes
    at most 20 digits (2**64 - 1); anything longer is not a kernel number.
    """
    if text and len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


# CPU numbers the kernel can have (NR_CPUS is at most 8192 on every
# architecture today); bigger numbers, or more CPUs than that in one list
# (``0-65535,0-65535,...`` repeated), are not a real list and would only cost
# time and memory.
MAX_CPUS = 1 << 16


def parse_cpu_list(text: str) -> set[int] | None:
    """CPUs in a kernel cpu list such as ``0-3,8,10-11`` (cpuset(7) "List format").

    None when the text is not a list; an empty list is an empty set.
    """
    cpus: set[int] = set()
    work = 0
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        hi, _, stride = hi.partition(":")  # "0-7:2" strides (cpuset(7))
        first = parse_uint(lo, 6)
        last = parse_uint(hi, 6) if sep else first
        step = parse_uint(stride, 6) if stride else 1
        if first is None or last is None or step is None:
            return None
        if last < first or last >= MAX_CPUS:
            return None
        work += last - first + 1
        if work > MAX_CPUS * 16:
            return None
        cpus.update(range(first, last + 1, step or 1))
    return cpus
