"""Files -> Limits: find our cgroup for each controller and read its limits.

The algorithm (research/detection.md §5) accounts for:

- v1, v2 and hybrid hosts, decided per controller: a controller bound to a v1
  hierarchy is v1 (the kernel binds each controller to one hierarchy only);
  otherwise v2 if a ``cgroup2`` mount lists it in ``cgroup.controllers``.
  Not ``statfs``: fixture trees must work, and a hybrid host's controller-less
  unified mount must not be taken for v2 (JDK-8245543, proclimits).
- mount points from mountinfo, never assumed; duplicate mounts resolved in
  favour of the one under ``/sys/fs/cgroup`` (JDK-8293472).
- the cgroup path made relative to the mount's root on component boundaries
  (moby#34584, envoy#47321); outside the root or with ``..`` it falls back to
  the mount point and says the figure is approximate (JDK-8343191).
- the tightest limit from the process's cgroup up to and including the mount
  point (JDK-8322420, automemlimit#31, golang/go#81180), the leaf included
  (JDK-8384138); v1 ``hierarchical_memory_limit`` also sees above the mount.
- "no limit" spelled ``max``, as the v1 sentinel for any page size
  (libuv#3753), or as anything at or above host memory (JDK-8292083).
"""
from __future__ import annotations

import posixpath

from cgroupsize import host
from cgroupsize.cgroups import mountinfo, proccgroup
from cgroupsize.cgroups.files import Files, parse_cpu_list, parse_uint
from cgroupsize.limits import (
    APPROXIMATE_PATH,
    CPU_QUOTA_COVERS_MACHINE,
    LIMITED,
    MEMORY_COVERS_MACHINE,
    NO_CGROUP,
    UNLIMITED,
    UNKNOWN,
    Limits,
    Value,
)

MOUNTINFO = "/proc/self/mountinfo"
PROC_CGROUP = "/proc/self/cgroup"

# v1 memory.limit_in_bytes with no limit is LONG_MAX rounded down to the page
# size: 9223372036854771712 with 4 KiB pages, ...710272 with 64 KiB pages.
# Anything this large is no limit whatever the page size (libuv#3753).
V1_UNLIMITED = 1 << 62
DEFAULT_PERIOD = 100000  # cpu.max with one field: the kernel's default period

_V1_RELEVANT = ("memory", "cpu", "cpuacct", "cpuset")
PREFERRED = "/sys/fs/cgroup"


class Location:
    """Where one controller lives: version, mount point and our directory under it."""

    __slots__ = ("version", "mount_point", "dir")

    def __init__(self, version, mount_point, directory):
        self.version = version
        self.mount_point = mount_point
        self.dir = directory

    def chain(self):
        """Directories from ours up to and including the mount point."""
        d = self.dir
        # rstrip: with a mount point of "" or "/" (a malformed mountinfo line),
        # ``mount_point + "/"`` used to be "/" or "//": the first never stops
        # matching and dirname("/") is "/" -- an endless walk (issue 6).
        prefix = self.mount_point.rstrip("/") + "/"
        while d != self.mount_point and d.startswith(prefix):
            yield d
            parent = posixpath.dirname(d)
            if parent == d:
                break
            d = parent
        yield self.mount_point


def read_limits(root: str = "/", diagnostics: bool = True) -> Limits:
    """Memory and CPU limits of this process's cgroup, read through ``root``.

    Never raises on what it finds in /proc or /sys: problems become notices
    and "unknown" figures (DESIGN.md principle 1). ``diagnostics`` (usage,
    peak, OOM kills, weight, throttling: five more files) is for reports; the
    entrypoint path, which only needs the limits, skips them.
    """
    limits = Limits()
    files = Files(root, limits.notices)
    limits.host_memory = host.memory(files)
    limits.host_cpus = host.online_cpus(files)
    limits.affinity = host.affinity(files)

    locations = locate(files)
    for controller, loc in locations.items():
        if loc is not None:
            limits.cgroup_dirs[controller] = loc.dir
    _memory(files, limits, locations.get("memory"))
    _cpu(files, limits, locations.get("cpu"))
    _cpuset(files, limits, locations.get("cpuset"))
    if diagnostics:
        _memory_diagnostics(files, limits, locations.get("memory"))
        _cpu_diagnostics(files, limits, locations.get("cpu"))
    return limits


# -- locating our cgroup -------------------------------------------------------


def locate(files: Files) -> dict:
    """``{controller: Location | None}`` for memory, cpu and cpuset.

    Mounts under /sys/fs/cgroup win over others (JDK-8293472), so those are
    parsed first; the whole of a 10,000-line mountinfo (a Kubernetes node
    lists every container's cgroup mounts) is parsed only when that subset
    leaves a question open (issue 5: cost must not grow with the host).
    """
    text = files.read(MOUNTINFO)
    if text is None:
        files.notice(NO_CGROUP, f"cannot read {MOUNTINFO}: cgroup limits unknown")
        return {"memory": None, "cpu": None, "cpuset": None}
    cg_text = files.read(PROC_CGROUP)
    if cg_text is None:
        files.notice(NO_CGROUP, f"cannot read {PROC_CGROUP}: using the cgroup mount roots")
        cg_text = ""
    paths = proccgroup.parse(cg_text)
    mark = len(files.notices)
    result = _resolve(files, mountinfo.parse(text, under=PREFERRED), paths)
    if result is None:
        del files.notices[mark:]
        result = _resolve(files, mountinfo.parse(text), paths, complete=True)
    return result


def _resolve(files: Files, mounts: list, paths, complete: bool = False):
    """Locations from ``mounts``; None when an incomplete list cannot answer for sure."""
    unified_path, v1_paths = paths
    v1_mounted = any(m.fstype == "cgroup" and set(m.super_options) & set(_V1_RELEVANT) for m in mounts)
    unified = _prefer([m for m in mounts if m.fstype == "cgroup2"])
    unified_controllers = None
    if unified is not None:
        line = files.read_line(posixpath.join(unified.mount_point, "cgroup.controllers"))
        if line is None and not v1_mounted and not complete:
            return None  # whether v1 is mounted elsewhere decides: look at every mount
        # Without cgroup.controllers, a host with no v1 controllers is pure v2.
        unified_controllers = set(line.split()) if line is not None else (None if v1_mounted else "all")

    result = {}
    for controller in ("memory", "cpu", "cpuset"):
        v1 = _prefer([m for m in mounts if m.fstype == "cgroup" and controller in m.super_options])
        if v1 is not None:
            result[controller] = _map(files, "v1", v1, v1_paths.get(controller), controller)
        elif unified is not None and (unified_controllers == "all" or
                                      (unified_controllers and controller in unified_controllers)):
            result[controller] = _map(files, "v2", unified, unified_path, controller)
        elif not complete:
            return None  # it may be mounted outside /sys/fs/cgroup
        else:
            result[controller] = None
    return result


def _prefer(candidates):
    """The mount under /sys/fs/cgroup if there is one, else the first (JDK-8293472)."""
    for m in candidates:
        if m.mount_point == PREFERRED or m.mount_point.startswith(PREFERRED + "/"):
            return m
    return candidates[0] if candidates else None


def _map(files: Files, version: str, mount, path, controller: str) -> Location | None:
    rel = relative(path, mount.root) if path is not None else None
    if rel is None:
        files.notice(
            APPROXIMATE_PATH,
            f"{controller}: our cgroup {path!r} is not visible under the {version} mount "
            f"{mount.mount_point} (root {mount.root!r}); read the mount point instead, "
            "so the figure is approximate",
        )
        rel = "/"
    directory = mount.mount_point if rel == "/" else posixpath.join(mount.mount_point, rel.lstrip("/"))
    # Issue 6: the directory can be gone by the time we read it (the process
    # was moved and its old cgroup removed), or a mountinfo line can name a
    # mount point the root does not have. Without this check every limit file
    # is "missing", which reads as "no limit at this level" and the answer
    # would be a confident "unlimited". Our own directory missing: read the
    # mount point instead, as for a path outside the mount (JDK-8343191).
    # The mount point missing too: this controller is unknown. (One stat in
    # the usual case: our directory existing implies its mount point does.)
    if directory != mount.mount_point:
        if files.is_dir(directory):
            return Location(version, mount.mount_point, directory)
        files.notice(
            APPROXIMATE_PATH,
            f"{controller}: our cgroup directory {directory} does not exist (any more); "
            f"read the mount point {mount.mount_point} instead, so the figure is approximate",
        )
        directory = mount.mount_point
    if not files.is_dir(mount.mount_point):
        files.notice(NO_CGROUP, f"{controller}: the {version} mount point {mount.mount_point} "
                     "listed in mountinfo is not a readable directory")
        return None
    return Location(version, mount.mount_point, directory)


def relative(path: str, root: str) -> str | None:
    """``path`` relative to the mount ``root`` on a component boundary, or None.

    ``/docker/abc/sub`` under root ``/docker/abc`` is ``/sub``; under root
    ``/docker/ab`` it is not under the root at all.
    """
    if ".." in path.split("/") or ".." in root.split("/"):
        return None
    root = root.rstrip("/")
    if not root:
        return path
    if path == root:
        return "/"
    if path.startswith(root + "/"):
        return path[len(root):]
    return None


# -- memory --------------------------------------------------------------------


def _memory(files: Files, limits: Limits, loc) -> None:
    if loc is None:
        files.notice(NO_CGROUP, "no memory cgroup is visible: memory limit unknown")
        return
    limits.memory_version = loc.version
    memsw = Value()  # v1 only: memory+swap limit
    seen = []  # (file, read and parsed cleanly?) for every level of the walk
    if loc.version == "v2":
        hard = _tightest(files, loc, "memory.max", _limit_size, seen)
        limits.memory_high = _tightest(files, loc, "memory.high", _size)
        limits.swap = _tightest(files, loc, "memory.swap.max", _size)
    else:
        hard = _tightest(files, loc, "memory.limit_in_bytes", _v1_size, seen)
        if not seen:
            # Every v1 memory cgroup has memory.limit_in_bytes: none on the
            # whole walk means we are not looking at a memory cgroup.
            files.notice(NO_CGROUP, f"memory: no memory.limit_in_bytes in {loc.dir} or above it: "
                         "memory limit unknown")
        memsw = _tightest(files, loc, "memory.memsw.limit_in_bytes", _v1_size)
        if files.read_line(posixpath.join(loc.dir, "memory.use_hierarchy")) == "1":
            stat = posixpath.join(loc.dir, "memory.stat")
            fields = _flat_keyed(files.read(stat))
            hard = _min(hard, _v1_value(files, stat, fields.get("hierarchical_memory_limit")))
            memsw = _min(memsw, _v1_value(files, stat, fields.get("hierarchical_memsw_limit")))
    host_mem = limits.host_memory.value
    if hard.value is not None and host_mem and hard.value >= host_mem:
        files.notice(
            MEMORY_COVERS_MACHINE,
            f"memory limit {hard.value} in {hard.source} is at or above host memory "
            f"({host_mem}): treated as no limit",
        )
        hard = Value(None, hard.source, hard.raw)
        limits.memory_state = UNLIMITED
    elif hard.value is not None:
        limits.memory_state = LIMITED
    elif (loc.version == "v1" and not seen) or not all(ok for _, ok in seen):
        # Issue 6 / principle 3: a level we could not read or parse may hold
        # the limit, so "no limit" would be a guess. The notice is already there.
        limits.memory_state = UNKNOWN
    else:
        limits.memory_state = UNLIMITED
    limits.memory = hard
    if memsw.value is not None and hard.value is not None:
        # v1 counts memory+swap together; swap is what memsw allows beyond the
        # (kept) memory limit, so it is computed after a covering limit is dropped.
        limits.swap = Value(max(0, memsw.value - hard.value), memsw.source, memsw.raw)


def _memory_diagnostics(files: Files, limits: Limits, loc) -> None:
    """Usage, peak and OOM kills, from the level that sets the limit (else our own)."""
    if loc is None:
        return
    hard = limits.memory
    where = posixpath.dirname(hard.source) if hard.value is not None and hard.source.endswith(
        ("memory.max", "memory.limit_in_bytes")) else loc.dir
    if loc.version == "v2":
        limits.usage = _int_file(files, where, "memory.current")
        limits.peak = _int_file(files, where, "memory.peak")
        events = posixpath.join(where, "memory.events")
        limits.oom_kills = _keyed_value(files, events, "oom_kill")
    else:
        limits.usage = _int_file(files, where, "memory.usage_in_bytes")
        limits.peak = _int_file(files, where, "memory.max_usage_in_bytes")
        limits.oom_kills = _keyed_value(files, posixpath.join(where, "memory.oom_control"), "oom_kill")


def _size(files, inside, text):
    """v2 size: bytes, or ``max`` (no limit)."""
    if text == "max":
        return None
    n = parse_uint(text)
    if n is not None:
        return n
    files.malformed(inside, text, "a byte count or 'max'")
    return None


def _limit_size(files, inside, text):
    """v2 ``memory.max``: as :func:`_size`, but 0 is refused like v1's 0 (a limit is positive).

    ``memory.swap.max`` 0 (no swap) is common and meaningful; a ``memory.max``
    of 0 would leave nothing to run in and would size a runtime to 0 bytes.
    """
    n = _size(files, inside, text)
    if n == 0:
        files.malformed(inside, text, "a positive byte count or 'max'")
        return None
    return n


def _v1_size(files, inside, text):
    value = _v1_value(files, inside, text)
    return value.value


def _v1_value(files, inside, text) -> Value:
    """v1 byte count; the LONG_MAX-per-page-size sentinel means no limit."""
    if text is None:
        return Value()
    n = parse_uint(text)
    if not n:
        files.malformed(inside, text, "a positive byte count")
        return Value()
    return Value(None if n >= V1_UNLIMITED else n, inside, text)


def _tightest(files: Files, loc: Location, name: str, parse, seen=None) -> Value:
    """Smallest finite value of ``name`` over the walk; its file is the source.

    ``seen``, if given, collects ``(file, ok)`` for every level whose file is
    there, ``ok`` False when reading or parsing it added a notice: the caller
    tells "no limit" from "could not tell" with it (DESIGN.md principle 3).
    """
    best = Value()
    for d in loc.chain():
        inside = posixpath.join(d, name)
        before = len(files.notices)
        text = files.read_line(inside)
        if text is None:
            if seen is not None and len(files.notices) > before:
                seen.append((inside, False))  # there but unreadable
            continue
        value = parse(files, inside, text)
        if seen is not None:
            seen.append((inside, len(files.notices) == before))
        if value is not None and (best.value is None or value < best.value):
            best = Value(value, inside, text)
    return best


def _min(a: Value, b: Value) -> Value:
    if b.value is not None and (a.value is None or b.value < a.value):
        return b
    return a


# -- CPU -------------------------------------------------------------------------


def _cpu(files: Files, limits: Limits, loc) -> None:
    if loc is None:
        files.notice(NO_CGROUP, "no cpu cgroup is visible: CPU quota unknown")
        return
    limits.cpu_version = loc.version
    best = Value()
    period = Value()
    before = len(files.notices)
    for d in loc.chain():
        quota, per = (_cpu_max if loc.version == "v2" else _cfs)(files, d)
        if quota.value is not None and (best.value is None or quota.value < best.value):
            best, period = quota, per
    limits.cpu_quota = best
    limits.cpu_period = period
    # A level that could not be read or parsed (it added a notice) may hold
    # the quota: without a quota elsewhere, that is "unknown", not "unlimited".
    doubt = len(files.notices) > before
    limits.cpu_state = LIMITED if best.value is not None else UNKNOWN if doubt else UNLIMITED
    host_cpus = limits.host_cpus.value
    if best.value is not None and host_cpus and best.value >= host_cpus:
        files.notice(
            CPU_QUOTA_COVERS_MACHINE,
            f"CPU quota {best.value:g} in {best.source} is at or above the host's {host_cpus} CPUs",
        )


def _cpu_diagnostics(files: Files, limits: Limits, loc) -> None:
    """Weight (shares) and throttling, from the level that sets the quota (else our own)."""
    if loc is None:
        return
    best = limits.cpu_quota
    weight_file = "cpu.weight" if loc.version == "v2" else "cpu.shares"
    limits.cpu_weight = _int_file(files, loc.dir, weight_file)
    stat = posixpath.join(posixpath.dirname(best.source) if best.source else loc.dir, "cpu.stat")
    fields = _flat_keyed(files.read(stat))
    throttled = parse_uint(fields.get("nr_throttled"))
    if throttled is not None:
        limits.throttled = Value(throttled, stat)
    usec = parse_uint(fields.get("throttled_usec"))
    nsec = parse_uint(fields.get("throttled_time"))  # v1 reports nanoseconds
    if usec is not None:
        limits.throttled_usec = Value(usec, stat)
    elif nsec is not None:
        limits.throttled_usec = Value(nsec // 1000, stat)


def _cpu_max(files: Files, d: str):
    """v2 ``cpu.max``: ``"$MAX $PERIOD"``; ``max`` is no limit (cgroup-v2.rst, "cpu.max")."""
    inside = posixpath.join(d, "cpu.max")
    text = files.read_line(inside)
    if text is None:
        return Value(), Value()
    fields = text.split()
    if len(fields) == 1 and parse_uint(fields[0]) is not None:
        fields.append(str(DEFAULT_PERIOD))  # automaxprocs "only-max" fixture
    quota = parse_uint(fields[0]) if len(fields) == 2 else None
    per = parse_uint(fields[1]) if len(fields) == 2 else None
    if per is None or (quota is None and fields[0] != "max"):
        files.malformed(inside, text, "'$MAX $PERIOD' (loky#479)")
        return Value(), Value()
    if fields[0] == "max":
        return Value(), Value(per, inside)
    if quota <= 0 or per <= 0:
        files.malformed(inside, text, "a positive quota and period (automaxprocs d064ede)")
        return Value(), Value()
    return Value(quota / per, inside, text), Value(per, inside)


def _cfs(files: Files, d: str):
    """v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; quota -1 is no limit (sched-bwc.rst)."""
    q_inside = posixpath.join(d, "cpu.cfs_quota_us")
    q_text = files.read_line(q_inside)
    if q_text is None:
        return Value(), Value()
    # A signed whole number, -1 for no quota. Not int(): it takes "1_000",
    # "+5" and Unicode digits, and raises past 4300 digits (issue 6).
    quota = parse_uint(q_text[1:] if q_text.startswith("-") else q_text)
    if quota is None:
        files.malformed(q_inside, q_text, "a whole number of microseconds")
        return Value(), Value()
    if quota == 0 or q_text.startswith("-"):  # -1: no quota (concurrent-ruby#1060)
        return Value(), Value()
    p_inside = posixpath.join(d, "cpu.cfs_period_us")
    p_text = files.read_line(p_inside)
    per = parse_uint(p_text)
    if not per:
        files.malformed(p_inside, p_text or "", "a positive period in microseconds")
        return Value(), Value()
    return Value(quota / per, q_inside, f"{q_text} / {p_text}"), Value(per, p_inside)


def _cpuset(files: Files, limits: Limits, loc) -> None:
    """CPUs in our cgroup's effective cpuset (the kernel also applies it to affinity)."""
    if loc is None:
        return
    names = ("cpuset.cpus.effective",) if loc.version == "v2" else ("cpuset.effective_cpus", "cpuset.cpus")
    for name in names:
        inside = posixpath.join(loc.dir, name)
        raw = files.read_line(inside)
        if raw is None:
            continue
        cpus = parse_cpu_list(raw)
        if cpus:
            limits.cpuset = Value(len(cpus), inside, raw)
            return
        if cpus is None:
            files.malformed(inside, raw, "a CPU list like 0-3,8")


# -- small readers -----------------------------------------------------------------


def _int_file(files: Files, d: str, name: str) -> Value:
    inside = posixpath.join(d, name)
    text = files.read_line(inside)
    n = parse_uint(text)
    return Value() if n is None else Value(n, inside, text)


def _flat_keyed(text) -> dict:
    """``key value`` lines (memory.stat, cpu.stat, memory.events) as a dict of strings."""
    fields = {}
    for line in (text or "").split("\n"):
        parts = line.split()
        if len(parts) == 2:
            fields[parts[0]] = parts[1]
    return fields


def _keyed_value(files: Files, inside: str, key: str) -> Value:
    value = _flat_keyed(files.read(inside)).get(key)
    n = parse_uint(value)
    return Value() if n is None else Value(n, inside, value)
