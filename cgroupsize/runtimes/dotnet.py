""".NET: a GC heap hard limit and a processor count, where the runtime would miss the limit.

.NET reads cgroups itself (v1 since Core 2.1, v2 since 5, ancestors since 8:
dotnet/runtime#93611): with a memory limit its GC heap hard limit is
``max(20MB, 75%)`` of it, and ``Environment.ProcessorCount`` is the quota
rounded up (dotnet/runtime#93611, the GC docs). Setting the same figures again gains
nothing and a wrong one hurts, so by default (``CGROUPSIZE_DOTNET=auto``) the
plan sets them only where our detection sees a limit the runtime would miss:
one on an ancestor cgroup (before .NET 8), one given by
``CGROUPSIZE_MEMORY_LIMIT``/``--cpu-limit`` (Kubernetes Downward API), one read
at the mount point because our cgroup is not visible. ``always`` sets them
whenever there is a limit.

* ``DOTNET_GCHeapHardLimit`` = ``CGROUPSIZE_DOTNET_HEAP_RATIO`` (0.75, the
  runtime's own share) x limit, written in **hexadecimal** with ``0x`` as the
  runtime reads it from the environment (a decimal ``50`` would mean 80 bytes).
  Not when any ``DOTNET_``/``COMPlus_`` ``GCHeapHardLimit*`` variable is set.
* ``DOTNET_PROCESSOR_COUNT`` = our CPU count, in decimal (that one is parsed
  base 10: ``CLRConfig ParseIntegerAsBase10``), when the quota binds.
"""
from __future__ import annotations

from cgroupsize.identify import Target
from cgroupsize.model import Limits, Plan
from cgroupsize.runtimes.common import cpu_text, limit_text

RATIO = 0.75  # .NET's own GCHeapHardLimitPercent default in a container
MIN_HEAP = 20 * 1000 * 1000  # .NET's floor: max(20MB, 75%)
_PREFIXES = ("DOTNET_", "COMPlus_", "COMPLUS_")


def _user_heap_limit(p: Plan) -> str | None:
    """The GC heap limit variable the user set (the name only), or None."""
    for name in p.env:
        for prefix in _PREFIXES:
            if name.startswith(prefix + "GCHeapHardLimit") and p.user_set(name):
                return name
    return None


def plan(p: Plan, target: Target, limits: Limits) -> None:
    always = p.settings.dotnet == "always"
    reason = "CGROUPSIZE_DOTNET=always" if always else ".NET would not see this limit itself"
    limit = limits.memory_limit
    if limit is None:
        p.none("DOTNET_GCHeapHardLimit", f"memory limit {limits.memory.state}")
    elif not p.mine("DOTNET_GCHeapHardLimit", _user_heap_limit(p), "the GC heap limit"):
        pass
    elif not always and limits.seen_at_leaf("memory"):
        p.none("DOTNET_GCHeapHardLimit", ".NET reads this limit itself and takes 75% of it")
    else:
        ratio = p.settings.dotnet_heap_ratio or RATIO
        value = max(MIN_HEAP, int(limit * ratio))
        p.set_env("DOTNET_GCHeapHardLimit", f"0x{value:X}",
                  f"{ratio:g} x {limit_text(limits)} = {value} bytes, in hexadecimal as .NET reads it; "
                  f"{reason}", "limit")

    if not limits.cpu.quota_binds:
        p.none("DOTNET_PROCESSOR_COUNT", "no CPU quota binds (.NET sees cpusets and affinity)")
    elif not p.mine("DOTNET_PROCESSOR_COUNT",
                    p.user_set("DOTNET_PROCESSOR_COUNT") or p.user_set("COMPlus_PROCESSOR_COUNT")):
        pass
    elif not always and limits.seen_at_leaf("cpu"):
        p.none("DOTNET_PROCESSOR_COUNT", ".NET reads this quota itself and rounds it up as we do")
    else:
        reason = reason.replace("limit", "quota")
        p.set_env("DOTNET_PROCESSOR_COUNT", str(limits.cpu_count), f"{cpu_text(limits)}; {reason}", "limit")
