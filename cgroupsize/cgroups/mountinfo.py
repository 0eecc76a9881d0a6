"""``/proc/self/mountinfo`` (proc(5)): which cgroup filesystems are mounted where.

Accounts for: several optional fields (automemlimit#26), hyphens in paths
(dotnet/coreclr#13488: search for " - ", not "-"), spaces in super options
(WSL 9p mounts, automaxprocs#72), octal escapes in root and mount point
(golang/go cgroup_test "v2-escaped"), and lines that are too short to parse
(skipped: an odd unrelated mount must not abort detection, golang/go#81864).
"""
from __future__ import annotations

PREFERRED = "/sys/fs/cgroup"
_V1_RELEVANT = ("memory", "cpu", "cpuacct", "cpuset")
MAX_LINE = 1 << 16  # far above any real line (two paths of PATH_MAX and the options)


class Mount:
    __slots__ = ("root", "mount_point", "fstype", "super_options")

    def __init__(self, root: str, mount_point: str, fstype: str, super_options: list[str]) -> None:
        self.root = root
        self.mount_point = mount_point
        self.fstype = fstype
        self.super_options = super_options

    def __repr__(self) -> str:
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


def parse(text: str, cgroup_only: bool = True, under: str | None = None) -> list[Mount]:
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


def _cgroup_lines(text: str) -> list[str]:
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


class Relevant:
    """Keeps, line by line, only the mountinfo lines detection can use: bounded memory on any input.

    Detection takes, per filesystem type and controller, the first mount under
    /sys/fs/cgroup or else the first one at all (cgroups/locate.py, JDK-8293472):
    later lines of a kind already seen twice cannot change the answer. 300,000
    cgroup mounts (another namespace's, a hostile file) then cost a dozen kept
    lines, not 300,000 parsed ones. Lines longer than :data:`MAX_LINE` are dropped.
    """

    __slots__ = ("kept", "seen", "done")

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.seen: set[tuple[str, bool]] = set()
        self.done: set[str] = set()  # fstypes whose every key is taken: skipped unparsed

    def feed(self, line: str) -> None:
        """Look at one line (without its newline)."""
        pos = line.find(" - cgroup")
        if pos == -1 or len(line) > MAX_LINE:
            return
        fstype = "cgroup2" if line.startswith(" - cgroup2 ", pos) else "cgroup"
        if fstype in self.done:
            return
        if fstype == "cgroup2":
            first = ("cgroup2", False) not in self.seen
        else:  # cheap: a controller's name anywhere in the line, before parsing it
            first = any((c, False) not in self.seen for c in _V1_RELEVANT if c in line)
        if not first and " " + PREFERRED not in line:  # only a mount under /sys/fs/cgroup can still count
            return
        mounts = parse(line)
        if not mounts:
            return
        m = mounts[0]
        preferred = m.mount_point == PREFERRED or m.mount_point.startswith(PREFERRED + "/")
        kinds = ["cgroup2"] if m.fstype == "cgroup2" else [c for c in _V1_RELEVANT if c in m.super_options]
        keys = [(k, p) for k in kinds for p in ((False, True) if preferred else (False,))]
        if any(key not in self.seen for key in keys):
            self.seen.update(keys)
            self.kept.append(line)
        wanted = [("cgroup2",)] if fstype == "cgroup2" else [(c,) for c in _V1_RELEVANT]
        if all((k[0], p) in self.seen for k in wanted for p in (False, True)):
            self.done.add(fstype)

    def text(self) -> str:
        return "".join(line + "\n" for line in self.kept)
