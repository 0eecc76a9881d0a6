"""Where the memory goes, what was killed, whether the CPU quota binds, who waits.

Reads only through a :class:`~cgroupsize.files.Files` object, given
where the memory and cpu cgroups are (anything with ``version``,
``mount_point``, ``dir`` and ``chain()``). Every figure is a
:class:`~cgroupsize.model.Value` with the file it came from; a missing,
unreadable or garbled file gives ``Value()`` (unknown) and a notice, never
an exception. It accounts for:

- the ``memory.stat`` breakdown under one set of keys for both versions
  (cgroup-v2.rst "memory.stat"; cgroup-v1/memory.rst 5.2 and 2.7):

  ======  ===========================================  ==============================================
  key     v2                                           v1
  ======  ===========================================  ==============================================
  anon    ``anon``                                     ``total_rss`` (includes ``rss_huge``: THP)
  file    ``file`` (page cache, tmpfs/shmem included)  ``total_cache`` (tmpfs/shmem included)
  kernel  ``kernel``; before 5.18 the sum of           ``memory.kmem.usage_in_bytes``
          ``kernel_stack pagetables percpu slab``
  sock    ``sock``                                     ``memory.kmem.tcp.usage_in_bytes`` (TCP only;
                                                       charged only once a tcp limit was written)
  shmem   ``shmem``                                    ``total_shmem``
  ======  ===========================================  ==============================================

  v1 ``total_*`` counters include child cgroups, as ``memory.usage_in_bytes``
  does (hierarchy is always on since 5.x); a kernel without them gives the
  local counters (``rss``, ``cache``, ``shmem``). Page cache the kernel can
  drop before it OOM-kills is ``file - shmem``: tmpfs pages only leave memory
  for swap.
- swap in use: v2 ``memory.swap.current``; v1 ``total_swap`` in memory.stat.
- ``memory.events`` ``low high max oom oom_kill`` (v2; hierarchical since
  5.2 unless mounted with ``memory_localevents``); v1 mapped: ``max`` from
  ``memory.failcnt`` ("the number of times that a usage counter hit its
  limit"), ``oom_kill`` from ``memory.oom_control`` (4.13+), plus its
  ``under_oom``; v1 has no ``low``/``high``/``oom`` counters (None).
- OOM kills recorded by every visible level above the one read. v2 counts
  a kill at every level up to the root, so in a Kubernetes pod seen from
  the host namespace the pod's cgroup keeps counting kills of containers
  that were replaced; v1 counts a kill only in the killed process's own
  cgroup (mm/memcontrol.c ``memcg_memory_event``), and a removed child's
  count is gone with it. ``memory.failcnt`` stayed 0 through an OOM kill on
  a 6.18 kernel here: v1 ``max`` is a lower bound.
- pressure stall information (Documentation/accounting/psi.rst): the
  cgroup's ``memory.pressure``, ``cpu.pressure``, ``io.pressure`` (v2), else
  ``/proc/pressure/*`` for the whole machine; none when the kernel has no
  PSI (built without it, or booted with ``psi=0``).
- CPU throttling from ``cpu.stat``: ``nr_periods``, ``nr_throttled`` and
  ``throttled_usec`` (v2) or ``throttled_time`` in nanoseconds (v1,
  sched-bwc.rst).

Figures are read from the level that sets the limit or quota (``where``), as
the usage and peak are: that is where the kernel reclaims and OOM-kills.
"""
from __future__ import annotations

import posixpath

from cgroupsize.cgroups.detect import reader
from cgroupsize.cgroups.readers import figure, flat_keyed, int_file, keyed_number, keyed_value
from cgroupsize.files import Files, parse_uint
from cgroupsize.model import CGROUP_FILE, Notice, Value
from cgroupsize.units import fmt_size

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import on the --print path; only mypy needs it
    from collections.abc import Iterable, Mapping
    from typing import Protocol

    from cgroupsize.model import Limits

    class Where(Protocol):
        """Where one controller lives (``detect.Location`` has these)."""

        version: str
        mount_point: str
        dir: str

        def chain(self) -> Iterable[str]: ...


STAT_KEYS = ("anon", "file", "kernel", "sock", "shmem")
EVENT_KEYS = ("low", "high", "max", "oom", "oom_kill")
PRESSURE_KEYS = ("memory", "cpu", "io")
PROC_PRESSURE = "/proc/pressure"

# Stable notice codes of the interpretations.
PAGE_CACHE = "PAGE_CACHE"  # reclaimable page cache is a large share of usage
SHMEM = "SHMEM"  # tmpfs / shared memory holds a large share (not reclaimable without swap)
KERNEL_MEMORY = "KERNEL_MEMORY"  # slab, stacks, page tables hold a large share
SOCKET_MEMORY = "SOCKET_MEMORY"  # network buffers hold a large share
OOM_KILLS = "OOM_KILLS"  # processes of this cgroup were OOM-killed
ANCESTOR_OOM_KILLS = "ANCESTOR_OOM_KILLS"  # a level above counted kills outside this cgroup
LIMIT_HIT = "LIMIT_HIT"  # usage reached the hard limit (reclaimed, or OOM)
HIGH_HIT = "HIGH_HIT"  # v2 memory.high throttled allocations
UNDER_OOM = "UNDER_OOM"  # v1: out of memory right now with the OOM killer disabled
CPU_THROTTLED = "CPU_THROTTLED"  # the CFS quota binds
PRESSURE_HIGH = "PRESSURE_HIGH"  # tasks stall on a resource a large share of the time
NO_PSI = "NO_PSI"  # no pressure stall information anywhere
DIAGNOSTICS_UNKNOWN = "DIAGNOSTICS_UNKNOWN"  # a diagnostics file is missing: that figure is unknown

# The codes that read the figures (the rest say a figure is unknown).
READINGS = frozenset({PAGE_CACHE, SHMEM, KERNEL_MEMORY, SOCKET_MEMORY, OOM_KILLS, ANCESTOR_OOM_KILLS, LIMIT_HIT,
                      HIGH_HIT, UNDER_OOM, CPU_THROTTLED, PRESSURE_HIGH})

# Thresholds of the interpretations (shares of usage, of periods, of time).
PAGE_CACHE_SHARE = 0.20
SHMEM_SHARE = 0.10
KERNEL_SHARE = 0.20
SOCK_SHARE = 0.10
THROTTLED_SHARE = 0.05
PRESSURE_PERCENT = 10.0  # some avg10 or avg60, in %

class Ancestor:
    """One visible level above the one read, and the OOM kills its counter shows."""

    __slots__ = ("dir", "oom_kill")

    def __init__(self, directory: str, oom_kill: Value) -> None:
        self.dir = directory
        self.oom_kill = oom_kill


class MemoryReport:
    """Usage, peak, breakdown, swap, events and ancestors' kills of one memory cgroup level."""

    __slots__ = (
        "ancestors",
        "dir",
        "events",
        "limit",
        "peak",
        "stat",
        "swap",
        "under_oom",
        "usage",
        "version",
    )

    def __init__(self, version: str, directory: str, limit: int | None = None) -> None:
        self.version = version
        self.dir = directory
        self.limit = limit
        self.usage = Value()
        self.peak = Value()
        self.stat: dict[str, Value] = {k: Value() for k in STAT_KEYS}
        self.swap = Value()
        self.events: dict[str, Value] = {k: Value() for k in EVENT_KEYS}
        self.under_oom = Value()
        self.ancestors: list[Ancestor] = []

    @property
    def reclaimable(self) -> int | None:
        """Page cache the kernel can drop before it OOM-kills: ``file`` less tmpfs/shmem."""
        file: int | None = self.stat["file"].value
        shmem: int | None = self.stat["shmem"].value
        if file is None:
            return None
        return max(0, file - (shmem or 0))


class CpuReport:
    """Throttling of one cpu cgroup level (``cpu.stat``)."""

    __slots__ = ("dir", "periods", "throttled", "throttled_usec", "version")

    def __init__(self, version: str, directory: str) -> None:
        self.version = version
        self.dir = directory
        self.periods = Value()
        self.throttled = Value()
        self.throttled_usec = Value()

    @property
    def share(self) -> float | None:
        """Share of enforcement periods in which the cgroup was throttled."""
        periods: int | None = self.periods.value
        throttled: int | None = self.throttled.value
        if periods and throttled is not None:
            return throttled / periods
        return None

    @property
    def seconds(self) -> float | None:
        """Time spent throttled since the cgroup was created, in seconds."""
        usec: int | None = self.throttled_usec.value
        return usec / 1e6 if usec is not None else None


class Pressure:
    """One PSI file: ``some``/``full`` -> ``{avg10, avg60, total}`` (% and microseconds)."""

    __slots__ = ("full", "scope", "some", "source")

    def __init__(self, some: dict[str, float], full: dict[str, float] | None, source: str, scope: str) -> None:
        self.some = some
        self.full = full
        self.source = source
        self.scope = scope  # "cgroup" or "system"

    def to_dict(self) -> dict[str, dict[str, float] | None]:
        return {"some": self.some, "full": self.full}


class Diagnostics:
    """Everything :func:`collect` found, and the notices that interpret it."""

    __slots__ = ("cpu", "memory", "notices", "pressure")

    def __init__(self) -> None:
        self.memory: MemoryReport | None = None
        self.cpu: CpuReport | None = None
        self.pressure: dict[str, Pressure | None] = {k: None for k in PRESSURE_KEYS}
        self.notices: list[Notice] = []

    def to_dict(self) -> dict[str, object]:
        """The ``--print --json`` keys (a public contract) and their sources.

        The notices that read the figures (and say which are unknown) are
        ``diagnostics.notices`` / ``diagnostics.notice_codes``: the top-level
        ``notices`` stay about detecting the limits.
        """
        mem, cpu = self.memory, self.cpu
        stat = mem.stat if mem else {k: Value() for k in STAT_KEYS}
        events = mem.events if mem else {k: Value() for k in EVENT_KEYS}
        sources: dict[str, str | None] = {}
        for prefix, table in (("memory.stat", stat), ("memory.events", events)):
            for key, v in table.items():
                sources[f"{prefix}.{key}"] = v.source
        for key, p in self.pressure.items():
            sources[f"pressure.{key}"] = p.source if p else None
        return {
            "memory.stat": {k: v.value for k, v in stat.items()},
            "memory.events": {k: v.value for k, v in events.items()},
            "pressure": {k: (p.to_dict() if p else None) for k, p in self.pressure.items()},
            "ancestors": [{"dir": a.dir, "oom_kill": a.oom_kill.value} for a in (mem.ancestors if mem else [])],
            "diagnostics": {
                "swap_used": mem.swap.value if mem else None,
                "under_oom": mem.under_oom.value if mem else None,
                "throttling": _throttling_dict(cpu),
                "pressure_scope": {k: (p.scope if p else None) for k, p in self.pressure.items()},
                "sources": sources,
                "notices": [n.message for n in self.notices],
                "notice_codes": [n.code for n in self.notices],
            },
        }


def _throttling_dict(cpu: CpuReport | None) -> dict[str, float | int | None]:
    """``diagnostics.throttling`` of ``--print --json``: all None without a cpu cgroup."""
    if cpu is None:
        return {"periods": None, "throttled": None, "share": None, "seconds": None}
    return {"periods": cpu.periods.value, "throttled": cpu.throttled.value, "share": cpu.share,
            "seconds": cpu.seconds}


# -- collecting ------------------------------------------------------------------


def collect(files: Files, memory: Where | None, cpu: Where | None, memory_where: str | None = None,
            cpu_where: str | None = None, limit: int | None = None) -> Diagnostics:
    """All diagnostics plus their interpretation; read problems land in ``files.notices``.

    ``memory_where`` / ``cpu_where``: the directory of the level that sets the
    memory limit / CPU quota (default: our own); ``limit``: the hard limit in
    bytes, for shares of the limit.
    """
    diag = Diagnostics()
    if memory is not None:
        diag.memory = read_memory(files, memory, memory_where, limit)
    if cpu is not None:
        diag.cpu = read_cpu(files, cpu, cpu_where)
    diag.pressure = read_pressure(files, memory, cpu)
    diag.notices.extend(interpret(diag))
    return diag


def set_at(limit: Value) -> str | None:
    """The directory whose cgroup file sets ``limit``; None (read our own level) when none does:
    no limit, one dropped as covering the machine, v1's hierarchical figure, a setting."""
    return limit.level if limit.value is not None and limit.origin == CGROUP_FILE else None


def for_limits(files: Files, limits: Limits, locations: Mapping[str, Where | None]) -> Diagnostics:
    """What ``--print`` adds to ``limits``: figures from the levels that set the limit and the quota.

    Each file is read once, here; the figures ``limits`` reports too (usage,
    peak, OOM kills, throttling, weight) are set on it. Read problems go to
    the result's notices, never to ``limits.notices``: an unreadable
    ``memory.events`` must not make ``--strict`` refuse to start a command.
    """
    scoped = files.scoped()
    hard, memory, cpu = limits.memory.limit, locations.get("memory"), locations.get("cpu")
    diag = collect(scoped, memory, cpu, set_at(hard), set_at(limits.cpu.quota), hard.value)
    if diag.memory is not None:
        m = diag.memory
        limits.memory.usage, limits.memory.peak, limits.memory.oom_kills = m.usage, m.peak, m.events["oom_kill"]
    if diag.cpu is not None:
        limits.cpu.throttled, limits.cpu.throttled_usec = diag.cpu.throttled, diag.cpu.throttled_usec
    if cpu is not None:  # our own level's: a share is relative to our siblings
        limits.cpu.weight = int_file(scoped, cpu.dir, reader(cpu.version).WEIGHT)
    diag.notices[:0] = scoped.notices
    return diag


def read_memory(files: Files, loc: Where, where: str | None = None, limit: int | None = None,
                ancestors: bool = True) -> MemoryReport:
    """Usage, peak, breakdown, swap and events at ``where`` (default our own level); kills counted above it."""
    d = where or loc.dir
    report = MemoryReport(loc.version, d, limit)
    read = reader(loc.version)
    report.usage = int_file(files, d, read.USAGE)
    report.peak = int_file(files, d, read.PEAK)
    if loc.version == "v2":
        _v2_stat(files, d, report)
        report.swap = int_file(files, d, "memory.swap.current")
        report.events = v2_events(files, d)
    else:
        _v1_stat(files, d, report)
        _v1_events(files, d, report)
    if ancestors:
        report.ancestors = read_ancestors(files, loc, d)
    return report


def _v2_stat(files: Files, d: str, report: MemoryReport) -> None:
    """The v2 breakdown; before 5.18 ``kernel`` is the sum of its parts (none if one is garbled)."""
    inside = posixpath.join(d, "memory.stat")
    fields = flat_keyed(files.read(inside))
    for key in ("anon", "file", "sock", "shmem"):
        report.stat[key] = keyed_number(files, inside, fields, key)
    if "kernel" in fields:
        report.stat["kernel"] = keyed_number(files, inside, fields, "kernel")
        return
    parts: list[str] = [k for k in ("kernel_stack", "pagetables", "percpu") if k in fields]
    if "slab" in fields:
        parts.append("slab")
    elif "slab_reclaimable" in fields and "slab_unreclaimable" in fields:
        parts += ["slab_reclaimable", "slab_unreclaimable"]
    numbers = [parse_uint(fields[k]) for k in parts]
    if parts and None not in numbers:
        report.stat["kernel"] = figure(sum(n or 0 for n in numbers), inside, "+".join(parts))


def _v1_stat(files: Files, d: str, report: MemoryReport) -> None:
    """The v1 breakdown and swap: ``total_*`` (child cgroups included, as usage is), else the local counters."""
    inside = posixpath.join(d, "memory.stat")
    fields = flat_keyed(files.read(inside))
    pre = "total_" if "total_rss" in fields or "total_cache" in fields else ""
    for key, name in (("anon", "rss"), ("file", "cache"), ("shmem", "shmem")):
        report.stat[key] = keyed_number(files, inside, fields, pre + name)
    report.swap = keyed_number(files, inside, fields, pre + "swap")
    report.stat["kernel"] = int_file(files, d, "memory.kmem.usage_in_bytes")
    report.stat["sock"] = int_file(files, d, "memory.kmem.tcp.usage_in_bytes")


def v2_events(files: Files, d: str) -> dict[str, Value]:
    """``memory.events`` at ``d``: ``{low, high, max, oom, oom_kill}``."""
    inside = posixpath.join(d, "memory.events")
    fields = flat_keyed(files.read(inside))
    return {k: keyed_number(files, inside, fields, k) for k in EVENT_KEYS}


def _v1_events(files: Files, d: str, report: MemoryReport) -> None:
    """v1's stand-ins: ``max`` from ``memory.failcnt``; ``oom_kill`` (4.13+) and ``under_oom``
    from ``memory.oom_control``."""
    report.events["max"] = int_file(files, d, "memory.failcnt")
    inside = posixpath.join(d, "memory.oom_control")
    fields = flat_keyed(files.read(inside))
    report.events["oom_kill"] = keyed_number(files, inside, fields, "oom_kill")
    report.under_oom = keyed_number(files, inside, fields, "under_oom")


def oom_kill_at(files: Files, version: str, d: str) -> Value:
    """The OOM-kill counter of one level: v2 ``memory.events``, v1 ``memory.oom_control``."""
    name, key = reader(version).OOM_KILLS
    return keyed_value(files, posixpath.join(d, name), key)


def read_ancestors(files: Files, loc: Where, below: str) -> list[Ancestor]:
    """Every visible level above ``below`` that has a kill counter (the v2 root has none)."""
    out = []
    for d in loc.chain():
        if d == below or not _is_above(d, below):
            continue
        v = oom_kill_at(files, loc.version, d)
        if v.source is not None:
            out.append(Ancestor(d, v))
    return out


def _is_above(d: str, below: str) -> bool:
    return below.startswith(d.rstrip("/") + "/")


def read_cpu(files: Files, loc: Where, where: str | None = None) -> CpuReport:
    """``cpu.stat`` throttling at ``where`` (the level that sets the quota; default ours).

    v2 has the counters only where the cpu controller is enabled; v1 counts
    throttled time in nanoseconds (``throttled_time``).
    """
    d = where or loc.dir
    report = CpuReport(loc.version, d)
    inside = posixpath.join(d, "cpu.stat")
    fields = flat_keyed(files.read(inside))
    report.periods = keyed_number(files, inside, fields, "nr_periods")
    report.throttled = keyed_number(files, inside, fields, "nr_throttled")
    if "throttled_usec" in fields:
        report.throttled_usec = keyed_number(files, inside, fields, "throttled_usec")
    else:
        ns = keyed_number(files, inside, fields, "throttled_time")
        if ns.value is not None:
            report.throttled_usec = figure(ns.value // 1000, inside, ns.raw)
    return report


def read_pressure(files: Files, memory: Where | None, cpu: Where | None) -> dict[str, Pressure | None]:
    """PSI for memory, cpu and io: the cgroup's own files (v2), else the machine's."""
    out: dict[str, Pressure | None] = {}
    for res in PRESSURE_KEYS:
        loc = cpu if res == "cpu" else memory
        out[res] = None
        if loc is not None and loc.version == "v2":
            out[res] = _psi_file(files, posixpath.join(loc.dir, f"{res}.pressure"), "cgroup")
        if out[res] is None:
            out[res] = _psi_file(files, posixpath.join(PROC_PRESSURE, res), "system")
    return out


def _psi_file(files: Files, inside: str, scope: str) -> Pressure | None:
    """One PSI file; None when it is absent, or (with a notice) when a line or the ``some`` line is garbled."""
    text = files.read(inside)
    if text is None:
        return None
    lines: dict[str, dict[str, float]] = {}
    for line in text.split("\n"):
        parts = line.split()
        if parts and parts[0] in ("some", "full"):
            values = _psi_line(parts[1:])
            if values is None:
                files.malformed(inside, line, "'some|full avg10=N avg60=N avg300=N total=N'")
                return None
            lines[parts[0]] = values
    if "some" not in lines:
        files.malformed(inside, text, "a PSI file with a 'some' line")
        return None
    return Pressure(lines["some"], lines.get("full"), inside, scope)


def _psi_line(fields: list[str]) -> dict[str, float] | None:
    """``avg10``/``avg60`` (%) and ``total`` (us) of one line, looked up by key; None if one is missing or odd."""
    pairs = dict(f.partition("=")[::2] for f in fields)
    avg10, avg60 = decimal(pairs.get("avg10")), decimal(pairs.get("avg60"))
    total = parse_uint(pairs.get("total"))
    if avg10 is None or avg60 is None or total is None:
        return None
    return {"avg10": avg10, "avg60": avg60, "total": total}


# -- small readers -----------------------------------------------------------------


def decimal(text: str | None) -> float | None:
    """``12.34`` as the kernel prints a percentage; not float(): no ``nan``, ``1e9``, ``1_0``."""
    if not text:
        return None
    whole, dot, frac = text.partition(".")
    w = parse_uint(whole, 6)
    f = parse_uint(frac, 6) if dot else 0
    if w is None or f is None:
        return None
    return float(f"{w}.{frac}") if dot else float(w)


def _size(n: int) -> str:
    return fmt_size(n, long=True)


# -- interpreting ------------------------------------------------------------------


def interpret(diag: Diagnostics) -> list[Notice]:
    """Short readings of the figures, each naming where it came from."""
    out: list[Notice] = []
    if diag.memory is not None:
        out += memory_notices(diag.memory)
        out += kill_notices(diag.memory)
    if diag.cpu is not None:
        out += cpu_notices(diag.cpu)
    out += pressure_notices(diag.pressure)
    return out


def _note(controller: str, code: str, message: str) -> Notice:
    return Notice(code, message, controller)


def oom_kills(n: int) -> str:
    """``1 OOM kill``, ``3 OOM kills``."""
    return f"{n} OOM kill{'s' if n != 1 else ''}"


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f} %"


def memory_notices(m: MemoryReport) -> list[Notice]:
    """What the breakdown says about usage; unknowns named."""
    out: list[Notice] = []
    if m.stat["file"].source is None and m.stat["anon"].source is None:
        out.append(_note("memory", DIAGNOSTICS_UNKNOWN, f"no memory.stat breakdown in {m.dir}: "
                          "where the memory goes is unknown"))
    usage = m.usage.value
    if not usage:
        return out
    cache = m.reclaimable
    if cache is not None and cache >= PAGE_CACHE_SHARE * usage:
        rest = max(0, usage - cache)
        of_limit = f" ({pct(rest, m.limit)} of the limit)" if m.limit else ""
        out.append(_note("memory", PAGE_CACHE, f"page cache is {pct(cache, usage)} of usage ({_size(cache)}): "
                          f"reclaimable, the kernel drops it before it OOM-kills; without it usage is "
                          f"{_size(rest)}{of_limit} ({m.stat['file'].source})"))
    checks = ((SHMEM, "shmem", SHMEM_SHARE, "tmpfs and shared memory (/dev/shm) hold",
               "it counts against the limit and only swap can move it out"),
              (KERNEL_MEMORY, "kernel", KERNEL_SHARE, "kernel memory (slab, stacks, page tables) is",
               "it counts against the limit"),
              (SOCKET_MEMORY, "sock", SOCK_SHARE, "network socket buffers hold", "it counts against the limit"))
    for code, key, share, what, why in checks:
        v = m.stat[key].value
        if v is not None and v >= share * usage:
            out.append(_note("memory", code, f"{what} {_size(v)}, {pct(v, usage)} of usage: {why} "
                              f"({m.stat[key].source})"))
    return out


def kill_notices(m: MemoryReport) -> list[Notice]:
    """OOM kills here and above, limit hits, memory.high throttling, a stuck v1 OOM."""
    out: list[Notice] = []
    kills = m.events["oom_kill"]
    if kills.value:
        out.append(_note("memory", OOM_KILLS, f"{oom_kills(kills.value)} in this cgroup since it was created "
                          f"({kills.source})"))
    elif kills.source is None:
        name = "memory.events" if m.version == "v2" else "memory.oom_control oom_kill (Linux 4.13+)"
        out.append(_note("memory", DIAGNOSTICS_UNKNOWN, f"no {name} in {m.dir}: OOM kills unknown"))
    out += _ancestor_notices(m)
    hits, oom = m.events["max"], m.events["oom"]
    if hits.value and not kills.value:
        what = "memory.max" if m.version == "v2" else "the limit"
        ran_out = f", and it ran out of memory {oom.value} times" if oom.value else ""
        out.append(_note("memory", LIMIT_HIT, f"usage reached {what} {hits.value} times; reclaim made room each "
                          f"time{ran_out} ({hits.source})"))
    high = m.events["high"]
    if high.value:
        out.append(_note("memory", HIGH_HIT, f"memory.high was exceeded {high.value} times: allocations were "
                          f"throttled into reclaim (slow, not killed) ({high.source})"))
    if m.under_oom.value:
        out.append(_note("memory", UNDER_OOM, "out of memory right now with the OOM killer disabled: its tasks "
                          f"are paused until memory is freed or the limit raised ({m.under_oom.source})"))
    return out


def _ancestor_notices(m: MemoryReport) -> list[Notice]:
    """v2 counts a kill in every level above it (5.2+), so an ancestor's excess is someone
    else's; v1 counts it only in the killed process's own cgroup (mm/memcontrol.c
    ``memcg_memory_event``), so an ancestor's count is of processes living in it."""
    own = m.events["oom_kill"].value or 0
    for a in m.ancestors:  # nearest level first, as chain() walks
        n = a.oom_kill.value
        extra = (n - own if m.version == "v2" else n) if n else 0
        if extra > 0:
            whose = ("outside this cgroup (a sibling, or an earlier container of the same pod)"
                     if m.version == "v2" else "of processes in that cgroup itself")
            return [_note("memory", ANCESTOR_OOM_KILLS, f"{a.dir} counted {oom_kills(extra)} {whose} "
                          f"({a.oom_kill.source})")]
    return []


def cpu_notices(c: CpuReport) -> list[Notice]:
    """Whether the quota binds: the share of periods throttled."""
    share = c.share
    if share is None:
        if c.periods.source is None:
            return [_note("cpu", DIAGNOSTICS_UNKNOWN, f"no throttling counters in {c.dir}/cpu.stat: "
                           "whether the CPU quota binds is unknown")]
        return []
    if share < THROTTLED_SHARE:
        return []
    secs = c.seconds or 0.0
    return [_note("cpu", CPU_THROTTLED, f"throttled in {share * 100:.0f} % of periods ({c.throttled.value} of "
                   f"{c.periods.value}, {secs:.1f} s in all): the quota binds ({c.periods.source})")]


_WAIT = {"memory": "waiting for memory (reclaim, swap-in, refaults)",
         "cpu": "waiting for a CPU (a quota or busy CPUs)",
         "io": "waiting for I/O"}


def pressure_notices(pressure: dict[str, Pressure | None]) -> list[Notice]:
    """High pressure per resource; one notice when there is no PSI at all."""
    if all(p is None for p in pressure.values()):
        return [Notice(NO_PSI, "no pressure stall information (the kernel is built without PSI or booted "
                       f"with psi=0, or {PROC_PRESSURE} is not visible): pressure unknown", None)]
    out: list[Notice] = []
    for res, p in pressure.items():
        if p is None:
            continue
        peak = max(p.some["avg10"], p.some["avg60"])
        if peak < PRESSURE_PERCENT:
            continue
        full = f"; all tasks at once {p.full['avg10']:.0f} %" if p.full and p.full["avg10"] >= 1 else ""
        where = "this cgroup's tasks" if p.scope == "cgroup" else "tasks on this machine (not only ours)"
        out.append(Notice(PRESSURE_HIGH, f"{res} pressure: {where} stalled {p.some['avg10']:.0f} % of the "
                          f"last 10 s and {p.some['avg60']:.0f} % of the last minute {_WAIT[res]}{full} "
                          f"({p.source})", res))
    return out


# -- rows for the --print report ------------------------------------------------------------

_STAT_NOTES = {"anon": "heap, stacks, anonymous mmap", "kernel": "slab, kernel stacks, page tables",
               "sock": "network buffers", "shmem": "tmpfs, /dev/shm; part of file"}


def memory_rows(m: MemoryReport) -> list[tuple[str, str, str | None]]:
    """``(label, value, source)`` rows: the breakdown, swap, events and the levels above."""
    rows: list[tuple[str, str, str | None]] = []
    for key in STAT_KEYS:
        v = m.stat[key]
        if v.value is None:
            continue
        note = _STAT_NOTES.get(key)
        if key == "file" and m.reclaimable is not None:
            note = f"page cache; {_size(m.reclaimable)} of it reclaimable"
        rows.append((key, f"{_size(v.value)} ({note})", v.source))
    if m.swap.value is not None:
        rows.append(("swap used", _size(m.swap.value), m.swap.source))
    known = [(k, v) for k, v in m.events.items() if v.value is not None]
    if known:
        sources = sorted({v.source for _, v in known if v.source})
        rows.append(("events", ", ".join(f"{k} {v.value}" for k, v in known), " + ".join(sources)))
    if m.under_oom.value:
        rows.append(("under OOM", "yes: tasks paused, the OOM killer is disabled", m.under_oom.source))
    for a in m.ancestors:
        if a.oom_kill.value:
            rows.append(("above", f"{oom_kills(a.oom_kill.value)} in {a.dir}", a.oom_kill.source))
    return rows


def cpu_rows(c: CpuReport) -> list[tuple[str, str, str | None]]:
    """The throttling row, when the counters are there."""
    share = c.share
    if share is None:
        return []
    secs = c.seconds or 0.0
    return [("throttled", f"{c.throttled.value} of {c.periods.value} periods ({share * 100:.0f} %), {secs:.1f} s",
             c.periods.source)]


def pressure_rows(pressure: dict[str, Pressure | None]) -> list[tuple[str, str, str | None]]:
    """One row per resource: some and full, last 10 s / last minute, in %.

    Which tasks the figures are about is in :func:`pressure_scope`; a row
    says "machine" only when the resources differ in that.
    """
    mixed = pressure_scope(pressure) == "mixed"
    rows: list[tuple[str, str, str | None]] = []
    for res, p in pressure.items():
        if p is None:
            rows.append((res, "unknown", None))
            continue
        text = f"some {p.some['avg10']:.1f} / {p.some['avg60']:.1f} %"
        if p.full is not None:
            text += f", full {p.full['avg10']:.1f} / {p.full['avg60']:.1f} %"
        rows.append((res, text + (" (machine)" if mixed and p.scope == "system" else ""), p.source))
    return rows


def pressure_scope(pressure: dict[str, Pressure | None]) -> str:
    """``this cgroup``, ``the whole machine``, ``mixed``, or ``unknown`` (no PSI)."""
    scopes = {p.scope for p in pressure.values() if p is not None}
    if not scopes:
        return "unknown"
    if len(scopes) > 1:
        return "mixed"
    return "this cgroup" if scopes == {"cgroup"} else "the whole machine"
