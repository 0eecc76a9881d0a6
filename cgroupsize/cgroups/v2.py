"""cgroup v2 (Documentation/admin-guide/cgroup-v2.rst): the unified hierarchy's files.

``memory.max`` and ``memory.high`` hold bytes or ``max``; ``memory.swap.max``
the swap allowed beyond ``memory.max``; ``cpu.max`` is ``"$MAX $PERIOD"`` with
``max`` for no quota; ``cpuset.cpus.effective`` the CPUs really granted.
"""
from __future__ import annotations

import posixpath

from cgroupsize.cgroups.readers import MemoryReading, tightest
from cgroupsize.files import Files, parse_uint
from cgroupsize.model import CGROUP_FILE, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cgroupsize.cgroups.locate import Location

DEFAULT_PERIOD = 100000  # cpu.max with one field: the kernel's default period

CPUSET = ("cpuset.cpus.effective",)
USAGE = "memory.current"
PEAK = "memory.peak"
OOM_KILLS = ("memory.events", "oom_kill")
WEIGHT = "cpu.weight"


def size(files: Files, inside: str, text: str) -> int | None:
    """A v2 size: bytes, or ``max`` (no limit)."""
    if text == "max":
        return None
    n = parse_uint(text)
    if n is not None:
        return n
    files.malformed(inside, text, "a byte count or 'max'")
    return None


def limit_size(files: Files, inside: str, text: str) -> int | None:
    """``memory.max``/``memory.high``: as :func:`size`, but 0 is refused like v1's 0 (a limit is positive).

    ``memory.swap.max`` 0 (no swap) is common and meaningful; a ``memory.max``
    of 0 would leave nothing to run in and would size a runtime to 0 bytes.
    """
    n = size(files, inside, text)
    if n == 0:
        files.malformed(inside, text, "a positive byte count or 'max'")
        return None
    return n


def memory(files: Files, loc: Location) -> MemoryReading:
    return MemoryReading(tightest(files, loc, "memory.max", limit_size),
                         tightest(files, loc, "memory.high", limit_size).best,
                         tightest(files, loc, "memory.swap.max", size).best)


def quota(files: Files, d: str) -> tuple[Value, Value]:
    """``(quota in CPUs, period)`` from ``cpu.max`` in directory ``d``; ``max`` is no quota."""
    inside = posixpath.join(d, "cpu.max")
    text = files.read_line(inside)
    if text is None:
        return Value(), Value()
    fields = text.split()
    if len(fields) == 1 and parse_uint(fields[0]) is not None:
        fields.append(str(DEFAULT_PERIOD))  # a quota alone: the default period (automaxprocs "only-max")
    limit = parse_uint(fields[0]) if len(fields) == 2 else None
    per = parse_uint(fields[1]) if len(fields) == 2 else None
    if per is None or (limit is None and fields[0] != "max"):
        files.malformed(inside, text, "'$MAX $PERIOD' (loky#479)")
        return Value(), Value()
    if limit is None:  # "max"
        return Value(), Value(per, inside, None, d, CGROUP_FILE)
    if limit <= 0 or per <= 0:
        files.malformed(inside, text, "a positive quota and period (automaxprocs d064ede)")
        return Value(), Value()
    return Value(limit / per, inside, text, d, CGROUP_FILE), Value(per, inside, None, d, CGROUP_FILE)
