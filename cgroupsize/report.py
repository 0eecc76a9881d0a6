"""What ``--print``, ``--dry-run`` and ``-v`` show: text for people, JSON for tools.

Each figure is shown with the file it came from; "no limit" and "could not
tell" print differently (DESIGN.md principle 3). Nothing here prints the
user's arguments or the values of variables the user set (issue 6).
"""
from __future__ import annotations

from cgroupsize import __version__
from cgroupsize.limits import LIMITED, UNKNOWN

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
BAR_WIDTH = 24


def fmt_bytes(n) -> str:
    """``536870912`` -> ``512 MiB``; ``1610612736`` -> ``1.5 GiB``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            text = f"{value:.1f}".rstrip("0").rstrip(".") if unit != "B" else str(int(value))
            return f"{text} {unit}"
        value /= 1024
    return str(n)  # pragma: no cover


def _bar(used, total) -> str:
    if not used or not total:
        return ""
    frac = min(1.0, used / total)
    filled = round(frac * BAR_WIDTH)
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + f"] {frac * 100:.0f}%"


def limits_text(limits) -> str:
    """The one-screen ``--print`` report."""
    rows = [f"cgroupsize {__version__}: limits of this process's cgroup", ""]

    def row(label, value, source=None):
        rows.append(f"  {label:<10} {value:<48} {source or ''}".rstrip())

    # -- memory
    mem_kind = f"cgroup {limits.memory_version}" if limits.memory_version else "no memory cgroup"
    rows.append(f"memory ({mem_kind})")
    if limits.memory_state == LIMITED:
        row("limit", fmt_bytes(limits.memory.value) + " (hard; the OOM killer acts here)", limits.memory.source)
    elif limits.memory_state == UNKNOWN:
        row("limit", "unknown (could not tell; see notices)")
    else:
        row("limit", "no limit (host memory applies)")
    if limits.usage.value is not None:
        total = limits.memory.value or limits.host_memory.value
        row("usage", f"{fmt_bytes(limits.usage.value)} {_bar(limits.usage.value, total)}", limits.usage.source)
    if limits.peak.value is not None:
        row("peak", fmt_bytes(limits.peak.value), limits.peak.source)
    if limits.memory_high.value is not None:
        row("high", fmt_bytes(limits.memory_high.value) + " (throttles, never kills)", limits.memory_high.source)
    if limits.swap.value is not None:
        row("swap", fmt_bytes(limits.swap.value) + " beyond the limit", limits.swap.source)
    if limits.oom_kills.value:
        row("OOM kills", str(limits.oom_kills.value) + " so far in this cgroup", limits.oom_kills.source)
    row("host", fmt_bytes(limits.host_memory.value), limits.host_memory.source)
    rows.append("")

    # -- CPU
    cpu_kind = f"cgroup {limits.cpu_version}" if limits.cpu_version else "no cpu cgroup"
    rows.append(f"cpu ({cpu_kind})")
    q = limits.cpu_quota
    if q.value is not None:
        row("quota", f"{q.value:g} CPUs", q.source)
    elif limits.cpu_state == UNKNOWN:
        row("quota", "unknown (could not tell; see notices)")
    else:
        row("quota", "no quota")
    if limits.cpuset.value is not None:
        row("cpuset", f"{limits.cpuset.value} CPUs ({limits.cpuset.raw})", limits.cpuset.source)
    if limits.affinity.value is not None:
        row("affinity", f"{limits.affinity.value} CPUs", limits.affinity.source)
    row("online", f"{limits.host_cpus.value if limits.host_cpus.value is not None else '-'} CPUs",
        limits.host_cpus.source)
    row("count", f"{limits.cpu_count} (what runtimes will be told)", limits.cpu_source)
    if limits.cpu_weight.value is not None:
        row("weight", f"{limits.cpu_weight.value} (a relative share; requests are not limits)",
            limits.cpu_weight.source)
    if limits.throttled.value:
        secs = (limits.throttled_usec.value or 0) / 1e6
        row("throttled", f"{limits.throttled.value} periods, {secs:.1f} s", limits.throttled.source)

    if limits.notices:
        rows.append("")
        rows.append("notices")
        for n in limits.notices:
            rows.append(f"  - {n.message}")
    return "\n".join(rows) + "\n"


def plan_text(plan, limits) -> str:
    """``--dry-run``: what would be added and why (not the user's own arguments)."""
    rows = [f"runtime: {plan.runtime or 'unknown (generic variables only)'}"]
    if plan.flags:
        rows.append("flags added: " + " ".join(plan.flags))
    for name, value in plan.shown_env().items():
        rows.append(f"env: {name}={value}")
    if not plan.flags and not plan.added:
        rows.append("nothing to add")
    for note in plan.notes:
        rows.append(f"  - {note}")
    for warning in plan.warnings:
        rows.append(f"warning: {warning}")
    rows.append("")
    rows.append(limits_summary(limits))
    return "\n".join(rows) + "\n"


def limits_summary(limits) -> str:
    """One line for ``-v`` (the line people paste into issues)."""
    if limits.memory_state == LIMITED:
        mem = f"memory {fmt_bytes(limits.memory.value)} ({limits.memory.source})"
    else:
        mem = f"memory {limits.memory_state}"
    if limits.cpu_quota.value is not None:
        cpu = f"cpu quota {limits.cpu_quota.value:g} ({limits.cpu_quota.source})"
    else:
        cpu = f"cpu quota {limits.cpu_state}"
    return f"{mem}; {cpu}; {limits.cpu_count} CPUs usable"


def verbose_lines(plan, limits, level: int) -> list:
    """Lines for stderr under ``-v``; warnings always."""
    lines = [f"warning: {w}" for w in plan.warnings]
    if level >= 1:
        lines.insert(0, limits_summary(limits))
        runtime = plan.runtime or "unknown runtime: generic variables only"
        lines.append(f"runtime: {runtime}")
        for flag in plan.flags:
            lines.append(f"added flag {flag}")
        for name, value in plan.shown_env().items():
            lines.append(f"set {name}={value}")
        lines.extend(plan.notes)
    if level >= 2:
        lines.extend(f"notice: {n.message}" for n in limits.notices)
    return lines


def to_json(obj) -> str:
    import json

    return json.dumps(obj, indent=2, sort_keys=False) + "\n"
