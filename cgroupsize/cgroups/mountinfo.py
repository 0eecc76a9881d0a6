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
    than the rest of the entrypoint path together.
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


def parse(text: str, cgroup_only: bool = True, under: str | None = None) -> list:
    """Mounts in file order; with ``cgroup_only`` just ``cgroup`` and ``cgroup2``;
    with ``under``, just those mounted at or below that directory."""
    mounts = []
    lines = _cgroup_lines(text) if cgroup_only else text.split("\n")
    if under is not None:
        lines = [line for line in lines if " " + under in line]  # cheap pre-filter, checked below
    for line in lines:
        head, sep, tail = line.partition(" - ")
        if not sep:
            continue
        fstype, _, rest = tail.partition(" ")  # fstype, source, super options (may hold spaces)
        if cgroup_only and fstype not in ("cgroup", "cgroup2"):
            continue
        fields = head.split(" ", 5)  # only root and mount point are needed: don't split the rest
        if len(fields) < 6:
            continue
        mount_point = unescape(fields[4])
        if under is not None and mount_point != under and not mount_point.startswith(under.rstrip("/") + "/"):
            continue
        options = rest.partition(" ")[2].rstrip()
        mounts.append(Mount(unescape(fields[3]), mount_point, fstype, options.split(",")))
    return mounts


def _cgroup_lines(text: str) -> list:
    """The lines whose filesystem type may be cgroup or cgroup2.

    Found with ``str.find`` rather than by splitting the whole file: a busy
    host has 10,000 mounts and only a dozen cgroup ones (the scale
    target). Spaces in the fields before the separator are escaped
    (``\\040``), so " - cgroup" can only start the filesystem type or sit in
    super options, which ``parse`` then rejects.
    """
    lines = []
    pos = text.find(" - cgroup")
    while pos != -1:
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        if end == -1:
            end = len(text)
        lines.append(text[start:end])
        pos = text.find(" - cgroup", end)
    return lines
