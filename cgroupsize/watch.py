"""``cgroupsize --watch [SECONDS]``: usage, growth, breakdown, throttling and pressure, live.

On a terminal the view is redrawn in place (ANSI cursor movement, no
curses); otherwise (a pipe, a log) each sample is one ``key=value`` line.
Ctrl-C ends it with status 0. It runs for hours: nothing grows with time --
the growth rate comes from a bounded ring of recent samples, and notices a
sample's reads add are dropped with the sample.

Each sample reads, through the same root seam as ``--print``: usage and
peak, ``memory.stat``, the kill counter, ``cpu.stat`` and the three PSI
files (about eight small files); detection runs once, at the start.
"""
from __future__ import annotations

import os
import sys
import time
from collections import deque

from cgroupsize.cgroups import diagnostics as dg
from cgroupsize.files import Files
from cgroupsize.model import Value
from cgroupsize.units import fmt_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from cgroupsize.cgroups.diagnostics import Where

DEFAULT_INTERVAL = 2.0
MIN_INTERVAL = 0.1
RATE_WINDOW = 60.0  # seconds the growth rate is measured over
MAX_RING = 600  # samples kept for the rate, whatever the interval
BAR_WIDTH = 24

_HIDE, _SHOW, _CLEAR_LINE, _CLEAR_BELOW = "\x1b[?25l", "\x1b[?25h", "\x1b[K", "\x1b[J"


class Target:
    """What to watch: where the cgroups are, the hard limit and the quota found once at the start,
    and the levels that set them (read there, as ``--print`` does)."""

    __slots__ = ("cpu", "cpu_where", "limit", "memory", "memory_where", "quota", "root")

    def __init__(self, root: str, memory: Where | None, cpu: Where | None, limit: Value | None = None,
                 quota: Value | None = None) -> None:
        limit, quota = limit or Value(), quota or Value()
        self.root = root
        self.memory = memory
        self.cpu = cpu
        self.limit: int | None = limit.value
        self.quota: float | None = quota.value
        self.memory_where = dg.set_at(limit)
        self.cpu_where = dg.set_at(quota)


def find_target(root: str = "/") -> Target:
    """Detection, once: locations, the hard limit and the quota, with their files."""
    from cgroupsize.cgroups import detect

    limits = detect.read_limits(root, diagnostics=False)
    where = detect.locate(Files(root))
    return Target(root, where.get("memory"), where.get("cpu"), limits.memory.limit, limits.cpu.quota)


class Frame:
    """One sample and what is derived from it and the ones before."""

    __slots__ = ("cpu", "memory", "peak", "pressure", "rate", "recent_seconds", "recent_share", "when", "window")

    def __init__(self, when: float, memory: dg.MemoryReport | None, cpu: dg.CpuReport | None,
                 pressure: dict[str, dg.Pressure | None]) -> None:
        self.when = when
        self.memory = memory
        self.cpu = cpu
        self.pressure = pressure
        self.peak: int | None = None
        self.rate: float | None = None  # bytes per second over ``window`` seconds
        self.window = 0.0
        self.recent_share: float | None = None  # throttled share since the previous sample
        self.recent_seconds: float | None = None


class Sampler:
    """Reads one frame per call; keeps only a bounded ring of (time, usage) and the last CPU counters."""

    def __init__(self, target: Target, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self.files = Files(target.root)
        self.clock = clock
        self.interval = interval
        self.ring: deque[tuple[float, int]] = deque(maxlen=min(MAX_RING, max(2, int(RATE_WINDOW / interval) + 1)))
        self.max_seen: int | None = None
        self.last_cpu: tuple[int, int, int] | None = None

    def sample(self) -> Frame:
        """One frame: memory, cpu.stat and PSI read again; only this sample's read notices are kept."""
        t = self.target
        del self.files.notices[:]  # a file that stays unreadable must not grow a list for hours
        mem = dg.read_memory(self.files, t.memory, t.memory_where, t.limit, ancestors=False) if t.memory else None
        cpu = dg.read_cpu(self.files, t.cpu, t.cpu_where) if t.cpu else None
        frame = Frame(self.clock(), mem, cpu, dg.read_pressure(self.files, t.memory, t.cpu))
        self._memory(frame)
        self._cpu(frame)
        return frame

    def _memory(self, frame: Frame) -> None:
        """Peak (the kernel's, else the largest usage seen) and growth over the ring's window."""
        usage = frame.memory.usage.value if frame.memory else None
        if usage is None:
            return
        self.max_seen = usage if self.max_seen is None else max(self.max_seen, usage)
        kernel_peak = frame.memory.peak.value if frame.memory else None
        frame.peak = kernel_peak if kernel_peak is not None else self.max_seen
        self.ring.append((frame.when, usage))
        (t0, u0), (t1, u1) = self.ring[0], self.ring[-1]
        if t1 - t0 >= self.interval / 2:  # two samples at least
            frame.rate, frame.window = (u1 - u0) / (t1 - t0), t1 - t0

    def _cpu(self, frame: Frame) -> None:
        """Throttled share and seconds since the previous sample (the counters only grow)."""
        c = frame.cpu
        if c is None or c.periods.value is None or c.throttled.value is None:
            return
        now = (c.periods.value, c.throttled.value, c.throttled_usec.value or 0)
        if self.last_cpu is not None:
            periods, throttled, usec = (a - b for a, b in zip(now, self.last_cpu, strict=True))
            if periods > 0:
                frame.recent_share = throttled / periods
                frame.recent_seconds = usec / 1e6
        self.last_cpu = now


# -- rendering -------------------------------------------------------------------------


def _size(n: int | None) -> str:
    return fmt_size(n, long=True)


def _bar(used: int | None, total: int | None) -> str:
    """``[####....]  94%`` (fixed width: the view is redrawn in place); empty when either is unknown."""
    if used is None or not total:
        return ""
    frac = min(1.0, max(0.0, used / total))
    filled = round(frac * BAR_WIDTH)
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + f"] {frac * 100:3.0f}%"


def _rate(frame: Frame) -> str:
    """Growth per second over the ring's window, ``-`` before two samples."""
    if frame.rate is None:
        return "growth -"
    sign = "+" if frame.rate >= 0 else "-"
    return f"growth {sign}{_size(int(abs(frame.rate)))}/s over {frame.window:.0f} s"


def _breakdown(m: dg.MemoryReport) -> list[str]:
    """Two lines: anon, file (reclaimable part), shmem; kernel, sock, swap."""
    def part(key: str) -> str:
        return f"{key} {_size(m.stat[key].value)}"

    cache = f" ({_size(m.reclaimable)} reclaimable)" if m.reclaimable is not None else ""
    return [f"{part('anon')}   {part('file')}{cache}   {part('shmem')}",
            f"{part('kernel')}   {part('sock')}   swap {_size(m.swap.value)}"]


def screen(frame: Frame, target: Target, interval: float) -> list[str]:
    """The terminal view: a few lines, redrawn in place."""
    lines = [f"cgroupsize --watch: every {interval:g} s, Ctrl-C to stop   {time.strftime('%H:%M:%S')}"]
    m = frame.memory
    if m is not None:
        usage, limit = m.usage.value, target.limit
        total = f" of {_size(limit)}" if limit else " (no limit)"
        bar = _bar(usage, limit)
        lines.append(f"memory   {bar + ' ' if bar else ''}{_size(usage)}{total}")
        lines.append(f"         peak {_size(frame.peak)}   {_rate(frame)}")
        lines += [f"         {text}" for text in _breakdown(m)]
        lines.append(f"         OOM kills {_num(m.events['oom_kill'].value)}   limit hits {_num(m.events['max'].value)}"
                     + (f"   high {_num(m.events['high'].value)}" if m.version == "v2" else ""))
    c = frame.cpu
    if c is not None:
        quota = f"quota {target.quota:g} CPUs" if target.quota else "no quota"
        recent = (f"throttled in {frame.recent_share * 100:.0f} % of periods in the last {interval:g} s "
                  f"({frame.recent_seconds:.1f} s)") if frame.recent_share is not None else "throttled -"
        lines.append(f"cpu      {quota}   {recent}")
        if c.share is not None:
            lines.append(f"         since the cgroup was created: {c.share * 100:.0f} % of periods "
                         f"({c.seconds or 0.0:.1f} s)")
    lines += [f"{'pressure' if i == 0 else '':<9}{text}" for i, text in enumerate(_pressure(frame.pressure))]
    return lines


def _num(n: int | None) -> str:
    return "-" if n is None else str(n)


def _pressure(pressure: dict[str, dg.Pressure | None]) -> list[str]:
    """Heading and one line of some/full avg10 per resource, or unknown without PSI."""
    if all(p is None for p in pressure.values()):
        return ["unknown (no PSI)"]
    scope = next(p.scope for p in pressure.values() if p is not None)
    parts = []
    for res, p in pressure.items():
        full = "" if p is None or p.full is None else f"/{p.full['avg10']:.1f}"
        parts.append(f"{res} " + ("-" if p is None else f"{p.some['avg10']:.1f}{full}"))
    where = "this cgroup" if scope == "cgroup" else "the whole machine"
    return [f"% of the last 10 s stalled, some/full ({where})", "   ".join(parts)]


def line(frame: Frame, target: Target) -> str:
    """One ``key=value`` line per sample, for logs."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = [stamp]
    m = frame.memory
    if m is not None:
        usage = _compact(m.usage.value)
        share = f"({m.usage.value * 100 / target.limit:.0f}%)" if m.usage.value is not None and target.limit else ""
        out.append(f"usage={usage}/{_compact(target.limit) if target.limit else 'max'}{share}")
        out.append(f"peak={_compact(frame.peak)}")
        out.append("growth=" + (f"{frame.rate / (1 << 20):+.2f}MiB/s" if frame.rate is not None else "-"))
        out += [f"{k}={_compact(m.stat[k].value)}" for k in dg.STAT_KEYS]
        out.append(f"swap={_compact(m.swap.value)}")
        out.append(f"oom_kill={_num(m.events['oom_kill'].value)}")
    if frame.cpu is not None:
        out.append("throttled=" + (f"{frame.recent_share * 100:.0f}%" if frame.recent_share is not None else "-"))
    for res, p in frame.pressure.items():
        if p is not None:
            out.append(f"psi.{res}={p.some['avg10']:.2f}" + (f"/{p.full['avg10']:.2f}" if p.full else ""))
    return " ".join(out)


def _compact(n: int | None) -> str:
    return fmt_size(n)


# -- the loop ------------------------------------------------------------------------------


def _width(out: TextIO) -> int:
    """Columns to cut lines to, so that a redraw never wraps."""
    try:
        columns = os.get_terminal_size(out.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    return max(20, columns - 1) if columns > 0 else 79  # a pty nobody sized says 0


def run(target: Target, interval: float = DEFAULT_INTERVAL, out: TextIO | None = None, tty: bool | None = None,
        samples: int | None = None, sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic) -> int:
    """Sample every ``interval`` seconds until Ctrl-C (or ``samples`` frames); exit status 0."""
    out = out if out is not None else sys.stdout
    tty = out.isatty() if tty is None else tty
    interval = max(MIN_INTERVAL, interval)
    sampler = Sampler(target, interval, clock)
    drawn = 0
    count = 0
    start = clock()
    try:
        if tty:
            out.write(_HIDE)
        while samples is None or count < samples:
            frame = sampler.sample()
            if tty:
                drawn = _redraw(out, screen(frame, target, interval), drawn)
            else:
                out.write(line(frame, target) + "\n")
            out.flush()
            count += 1
            if samples is not None and count >= samples:
                break
            sleep(max(0.0, start + count * interval - clock()))  # no drift over hours
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `cgroupsize --watch | head`: the reader left
        _silence(out)
        return 0
    finally:
        if tty:
            _restore(out)
    return 0


def _redraw(out: TextIO, lines: list[str], drawn: int) -> int:
    """Draw ``lines`` over the ``drawn`` lines of the last frame; returns how many are drawn now."""
    width = _width(out)
    head = f"\x1b[{drawn}F" if drawn else ""  # back to the first line drawn last time
    out.write(head + "".join(text[:width] + _CLEAR_LINE + "\n" for text in lines) + _CLEAR_BELOW)
    return len(lines)


def _restore(out: TextIO) -> None:
    try:
        out.write(_SHOW)
        out.flush()
    except (OSError, ValueError):
        pass


def _silence(out: TextIO) -> None:
    """Point the dead pipe's descriptor at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def watch(root: str = "/", interval: float = DEFAULT_INTERVAL) -> int:
    """``--watch``: find the cgroups once, then :func:`run` on stdout until Ctrl-C (status 0)."""
    _interruptible()
    return run(find_target(root), interval)


def _interruptible() -> None:
    """Ctrl-C ends the view with status 0: the entry scripts make SIGINT kill the process (what the
    exec'd command would get), so raise KeyboardInterrupt again -- unless SIGINT is ignored (nohup)."""
    try:
        import _signal  # not "signal": it imports enum for nothing needed here

        if _signal.getsignal(_signal.SIGINT) != _signal.SIG_IGN:
            _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    except (ImportError, OSError, ValueError):  # another interpreter, or not the main thread
        pass
