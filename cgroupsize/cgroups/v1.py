"""cgroup v1 (Documentation/admin-guide/cgroup-v1/memory.rst, scheduler/sched-bwc.rst).

``memory.limit_in_bytes`` with no limit is LONG_MAX rounded down to the page
size (9223372036854771712 with 4 KiB pages, ...710272 with 64 KiB pages), so
anything this large is no limit whatever the page size (libuv#3753).
``memory.stat``'s ``hierarchical_memory_limit`` (with ``use_hierarchy``)
sees limits set above the mount root, which a container cannot walk to
(JDK-8217338). ``cpu.cfs_quota_us`` is -1 for no quota.
"""
from __future__ import annotations

import posixpath

from cgroupsize.cgroups.readers import MemoryReading, flat_keyed, tightest
from cgroupsize.files import Files, parse_uint
from cgroupsize.model import CGROUP_FILE, HIERARCHICAL, NO_CGROUP, Value, tighter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cgroupsize.cgroups.locate import Location

UNLIMITED_FROM = 1 << 62

CPUSET = ("cpuset.effective_cpus", "cpuset.cpus")
USAGE = "memory.usage_in_bytes"
PEAK = "memory.max_usage_in_bytes"
OOM_KILLS = ("memory.oom_control", "oom_kill")
WEIGHT = "cpu.shares"


def size(files: Files, inside: str, text: str) -> int | None:
    """A v1 byte count; the LONG_MAX-per-page-size sentinel means no limit; 0 is refused."""
    n = parse_uint(text)
    if not n:
        files.malformed(inside, text, "a positive byte count")
        return None
    return None if n >= UNLIMITED_FROM else n


def _hierarchical(files: Files, stat: str, text: str | None) -> Value:
    if text is None:
        return Value()
    n = size(files, stat, text)
    return Value(n, stat, text, posixpath.dirname(stat), HIERARCHICAL) if n is not None else Value()


def memory(files: Files, loc: Location) -> MemoryReading:
    hard = tightest(files, loc, "memory.limit_in_bytes", size)
    if not hard.seen:
        # Every v1 memory cgroup has memory.limit_in_bytes: none on the whole
        # walk means we are not looking at a memory cgroup.
        files.notice(NO_CGROUP, f"memory: no memory.limit_in_bytes in {loc.dir} or above it: "
                     "memory limit unknown", "memory")
        hard.doubt = True
    memsw = tightest(files, loc, "memory.memsw.limit_in_bytes", size).best
    if files.read_line(posixpath.join(loc.dir, "memory.use_hierarchy")) == "1":
        stat = posixpath.join(loc.dir, "memory.stat")
        fields = flat_keyed(files.read(stat))
        hard.best = tighter(hard.best, _hierarchical(files, stat, fields.get("hierarchical_memory_limit")))
        memsw = tighter(memsw, _hierarchical(files, stat, fields.get("hierarchical_memsw_limit")))
    return MemoryReading(hard, memsw=memsw)


def quota(files: Files, d: str) -> tuple[Value, Value]:
    """``(quota in CPUs, period)`` from ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` in ``d``."""
    q_inside = posixpath.join(d, "cpu.cfs_quota_us")
    q_text = files.read_line(q_inside)
    if q_text is None:
        return Value(), Value()
    # A signed whole number, -1 for no quota. Not int(): it takes "1_000",
    # "+5" and Unicode digits, and raises past 4300 digits.
    limit = parse_uint(q_text[1:] if q_text.startswith("-") else q_text)
    if limit is None:
        files.malformed(q_inside, q_text, "a whole number of microseconds")
        return Value(), Value()
    if limit == 0 or q_text.startswith("-"):  # -1: no quota (concurrent-ruby#1060)
        return Value(), Value()
    p_inside = posixpath.join(d, "cpu.cfs_period_us")
    p_text = files.read_line(p_inside)
    per = parse_uint(p_text)
    if not per:
        files.malformed(p_inside, p_text or "", "a positive period in microseconds")
        return Value(), Value()
    return (Value(limit / per, q_inside, f"{q_text} / {p_text}", d, CGROUP_FILE),
            Value(per, p_inside, None, d, CGROUP_FILE))
