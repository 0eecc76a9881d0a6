"""``/proc/self/mountinfo`` (proc(5)): which cgroup filesystems are mounted where.

Accounts for: several optional fields (automemlimit#26), hyphens in paths
(dotnet/coreclr#13488: search for " - ", not "-"), spaces in super options
(WSL 9p mounts, automaxprocs#72), octal escapes in root and mount point
(golang/go cgroup_test "v2-escaped"), and lines that are too short to parse
(skipped: an odd unrelated mount must not abort detection, golang/go#81864).
"""
from __future__ import annotations



class Mount:
    __slots__ = ("root", "mount_point", "fstype", "super_options")

    def __init__(self, root, mount_point, fstype, super_options):
        self.root = root
        self.mount_point = mount_point
        self.fstype = fstype
        self.super_options = super_options

    def __repr__(self):
        return f"Mount({self.root!r}, {self.mount_point!r}, {self.fstype!r}, {self.super_options!r})"


def unescape(field: str) -> str:
    """Decode the kernel's 3-digit octal escapes (``\\040`` space, ``\\011`` tab, ...).

    A loop, not a regex: ``re`` (and the ``enum`` it imports) would cost more
    than the rest of the entrypoint path together (issue 5).
    """
    if "\\" not in field:
        return field
    out = []
    i, n = 0, len(field)
    while i < n:
        c = field[i]
        code = field[i + 1:i + 4]
        if c == "\\" and len(code) == 3 and all("0" <= d <= "7" for d in code):
            out.append(_char(int(code, 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _char(n: int) -> str:
    # Bytes >= 0x80 stay raw bytes (surrogateescape), as the path on disk has them.
    return chr(n) if n < 0x80 else chr(0xDC00 + (n & 0xFF))


def parse(text: str, cgroup_only: bool = True) -> list:
    """Mounts in file order; with ``cgroup_only`` just ``cgroup`` and ``cgroup2``."""
    mounts = []
    for line in text.split("\n"):
        if cgroup_only and "cgroup" not in line:
            continue  # cheap pre-filter: hosts can have 10,000 mounts
        head, sep, tail = line.partition(" - ")
        if not sep:
            continue
        fields = head.split(" ")
        if len(fields) < 6:
            continue
        after = tail.split(" ", 2)  # fstype, source, super options (may hold spaces)
        fstype = after[0]
        if cgroup_only and fstype not in ("cgroup", "cgroup2"):
            continue
        options = after[2].rstrip() if len(after) > 2 else ""
        mounts.append(Mount(unescape(fields[3]), unescape(fields[4]), fstype, options.split(",")))
    return mounts
