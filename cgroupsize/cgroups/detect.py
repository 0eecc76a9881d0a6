"""Files -> Limits: find our cgroup for each controller and read its limits.

The steps, each its own module:

1. :mod:`~cgroupsize.cgroups.locate`: where the memory, cpu and cpuset
   controllers live (v1 or v2, the mount point, our directory under it);
2. :mod:`~cgroupsize.cgroups.v1` or :mod:`~cgroupsize.cgroups.v2`, one
   interface: the tightest limit from our cgroup up to and including the
   mount point (JDK-8322420, automemlimit#31, golang/go#81180), the leaf
   included (JDK-8384138), each value with its file and level;
3. here: the host ceiling ("no limit" spelled as anything at or above host
   memory, JDK-8292083) and the states (limited / unlimited / unknown);
4. for reports only, :mod:`~cgroupsize.cgroups.diagnostics`: usage, peak,
   OOM kills, weight, throttling and the rest, from the level that sets the
   limit.
"""
from __future__ import annotations

import posixpath

from cgroupsize import host
from cgroupsize.cgroups.locate import Location, locate, relative
from cgroupsize.files import Files, parse_cpu_list
from cgroupsize.model import (CGROUP_FILE, CPU_QUOTA_COVERS_MACHINE, LIMITED, MEMORY_HIGH_BINDS, NO_CGROUP,
                              UNKNOWN, UNLIMITED, CpuLimits, Limits, MemoryLimits, Value)

__all__ = ["Location", "locate", "read_limits", "reader", "relative"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType



def reader(version: str) -> ModuleType:
    """The module reading a ``version`` hierarchy (:mod:`~cgroupsize.cgroups.v1` or ``v2``; one
    interface); only the one a host uses is imported."""
    return __import__(f"cgroupsize.cgroups.{version}", fromlist=["memory"])


def read_limits(root: str = "/", diagnostics: bool = True) -> Limits:
    """Memory and CPU limits of this process's cgroup, read through ``root``.

    Never raises on what it finds in /proc or /sys: problems become notices
    and "unknown" figures. ``diagnostics`` (usage, peak, OOM kills, weight,
    throttling, breakdown, events, pressure: a dozen more files, whose read
    problems go to ``limits.diagnostics.notices``) is for reports; the
    entrypoint path, which only needs the limits, skips them.
    """
    limits = Limits()
    files = Files(root, limits.notices)
    limits.memory.host = host.memory(files)
    limits.cpu.host = host.online_cpus(files)
    limits.cpu.affinity = host.affinity(files)
    locations = locate(files)
    _memory(files, limits.memory, locations["memory"])
    _cpu(files, limits.cpu, locations["cpu"])
    _cpuset(files, limits.cpu, locations["cpuset"])
    if diagnostics:
        from cgroupsize.cgroups import diagnostics as diag  # reports only: never on the entrypoint path

        limits.diagnostics = diag.for_limits(files, limits, locations)
    return limits


def _memory(files: Files, part: MemoryLimits, loc: Location | None) -> None:
    if loc is None:
        files.notice(NO_CGROUP, "no memory cgroup is visible: memory limit unknown", "memory")
        return
    part.version, part.dir, part.approximate = loc.version, loc.dir, loc.approximate
    found = reader(loc.version).memory(files, loc)
    part.high, part.swap = found.high, found.swap
    part.set_limit(found.limit.best, files.notices)
    if part.state == UNKNOWN and not found.limit.doubt:
        part.state = UNLIMITED
    _high(files, part)
    hard, memsw = part.limit, found.memsw
    if memsw.value is not None and hard.value is not None:
        # v1 counts memory+swap together; swap is what memsw allows beyond the
        # (kept) memory limit, so it is computed after a covering limit is dropped.
        part.swap = Value(max(0, memsw.value - hard.value), memsw.source, memsw.raw, memsw.level, memsw.origin)


def _high(files: Files, part: MemoryLimits) -> None:
    """``memory.high`` at or above host memory is none; below the hard limit it is the budget."""
    high = part.high
    if high.value is not None and part.host.value and high.value >= part.host.value:
        part.high = Value(None, high.source, high.raw, high.level, high.origin)
    elif part.high_binds:
        files.notice(MEMORY_HIGH_BINDS, f"memory.high {high.value} in {high.source} is below the hard limit: "
                     "the kernel throttles and reclaims above it, so plans size for it", "memory")


def _cpu(files: Files, part: CpuLimits, loc: Location | None) -> None:
    if loc is None:
        files.notice(NO_CGROUP, "no cpu cgroup is visible: CPU quota unknown", "cpu")
        return
    part.version, part.dir, part.approximate = loc.version, loc.dir, loc.approximate
    read = reader(loc.version)
    doubt = False
    for d in loc.chain():
        level = files.scoped()
        quota, period = read.quota(level, d)
        doubt = doubt or bool(level.notices)  # an unreadable level may hold the quota
        files.notices.extend(level.notices)
        if quota.value is not None and (part.quota.value is None or quota.value < part.quota.value):
            part.quota, part.period = quota, period
    best = part.quota
    part.state = LIMITED if best.value is not None else UNKNOWN if doubt else UNLIMITED
    if best.value is not None and part.host.value and best.value >= part.host.value:
        files.notice(CPU_QUOTA_COVERS_MACHINE, f"CPU quota {best.value:g} in {best.source} is at or above "
                     f"the host's {part.host.value} CPUs", "cpu")


def _cpuset(files: Files, part: CpuLimits, loc: Location | None) -> None:
    """CPUs in our cgroup's effective cpuset (the kernel also applies it to affinity)."""
    if loc is None:
        return
    for name in reader(loc.version).CPUSET:
        inside = posixpath.join(loc.dir, name)
        raw = files.read_line(inside)
        if raw is None:
            continue
        cpus = parse_cpu_list(raw)
        if cpus:
            part.cpuset = Value(len(cpus), inside, raw, loc.dir, CGROUP_FILE)
            return
        if cpus is None:
            files.malformed(inside, raw, "a CPU list like 0-3,8")
