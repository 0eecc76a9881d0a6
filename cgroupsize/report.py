"""What ``--print``, ``--dry-run`` and ``-v`` show: text for people, JSON for tools.

Each figure is shown with the file it came from; "no limit" and "could not
tell" print differently. Nothing here prints the user's arguments or the
values of variables the user set: plans store only what the tool added.
"""
from __future__ import annotations

from cgroupsize import __version__
from cgroupsize.model import LIMITED, UNKNOWN, Limits, Plan, Value
from cgroupsize.units import fmt_size

BAR_WIDTH = 24


def fmt_bytes(n: int | None) -> str:
    """``536870912`` -> ``512 MiB``; ``1610612736`` -> ``1.5 GiB``; None -> ``-``."""
    return fmt_size(n, long=True)


def bar(used: int | None, total: int | None) -> str:
    """``[#####...] 40%``: ``used`` of ``total`` (empty when either is unknown)."""
    if not used or not total:
        return ""
    frac = min(1.0, used / total)
    filled = round(frac * BAR_WIDTH)
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + f"] {frac * 100:.0f}%"


class _Rows:
    """The report's lines: a heading per section, then ``label  value  source`` rows in columns."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def row(self, label: str, value: str, source: str | None = None) -> None:
        self.lines.append(f"  {label:<10} {value:<48} {source or ''}".rstrip())

    def rows(self, rows: list[tuple[str, str, str | None]]) -> None:
        """``(label, value, source)`` rows, as the diagnostics module gives them."""
        for label, value, source in rows:
            self.row(label, value, source)

    def value(self, label: str, v: Value, text: str) -> None:
        """A row for ``v`` only when it is known."""
        if v.value is not None:
            self.row(label, text, v.source)


def _memory_rows(r: _Rows, limits: Limits) -> None:
    """The memory section: the limit (or why there is none), usage against the budget, peak,
    memory.high, swap, the diagnostics' breakdown, events and kills, host memory."""
    m = limits.memory
    r.lines.append(f"memory ({'cgroup ' + m.version if m.version else 'no memory cgroup'})")
    if m.state == LIMITED:
        r.row("limit", fmt_bytes(m.limit.value) + " (hard; the OOM killer acts here)", m.limit.source)
    elif m.state == UNKNOWN:
        r.row("limit", "unknown (could not tell; see notices)")
    else:
        r.row("limit", "no limit (host memory applies)")
    total = m.effective.value or m.host.value
    r.value("usage", m.usage, f"{fmt_bytes(m.usage.value)} {bar(m.usage.value, total)}")
    r.value("peak", m.peak, fmt_bytes(m.peak.value))
    r.value("high", m.high, fmt_bytes(m.high.value) + " (throttles, never kills)")
    if m.high_binds:
        r.row("budget", fmt_bytes(m.effective.value) + " (memory.high: what plans size for)", m.high.source)
    r.value("swap", m.swap, f"{fmt_bytes(m.swap.value)} beyond the limit")
    diag = limits.diagnostics  # OOM kills and the rest: only diagnostics read them
    if diag is not None and diag.memory is not None:
        from cgroupsize.cgroups.diagnostics import memory_rows

        r.rows(memory_rows(diag.memory))
    r.row("host", fmt_bytes(m.host.value), m.host.source)


def _cpu_rows(r: _Rows, limits: Limits) -> None:
    """The cpu section: quota, cpuset, affinity, online CPUs, the count runtimes are told, weight,
    and the diagnostics' throttling."""
    c = limits.cpu
    r.lines.append(f"cpu ({'cgroup ' + c.version if c.version else 'no cpu cgroup'})")
    if c.quota.value is not None:
        r.row("quota", f"{c.quota.value:g} CPUs", c.quota.source)
    else:
        r.row("quota", "unknown (could not tell; see notices)" if c.state == UNKNOWN else "no quota")
    r.value("cpuset", c.cpuset, f"{cpus(c.cpuset.value)} ({c.cpuset.raw})")
    r.value("affinity", c.affinity, cpus(c.affinity.value))
    r.row("online", cpus(c.host.value) if c.host.value is not None else "- CPUs", c.host.source)
    r.row("count", f"{c.count} (what runtimes will be told)", c.count_source)
    r.value("weight", c.weight, f"{c.weight.value} (a relative share; requests are not limits)")
    diag = limits.diagnostics  # throttling: only diagnostics read it
    if diag is not None and diag.cpu is not None:
        from cgroupsize.cgroups.diagnostics import cpu_rows

        r.rows(cpu_rows(diag.cpu))


def cpus(n: int | None) -> str:
    """``1 CPU``, ``2 CPUs``."""
    return f"{n} CPU" if n == 1 else f"{n} CPUs"


def limits_text(limits: Limits) -> str:
    """The one-screen ``--print`` report."""
    r = _Rows()
    r.lines += [f"cgroupsize {__version__}: limits of this process's cgroup", ""]
    _memory_rows(r, limits)
    r.lines.append("")
    _cpu_rows(r, limits)
    notices = list(limits.notices)
    if limits.diagnostics is not None:
        from cgroupsize.cgroups.diagnostics import READINGS, pressure_rows, pressure_scope

        scope = pressure_scope(limits.diagnostics.pressure)
        r.lines += ["", f"pressure ({scope}: % of time some / all tasks stalled, last 10 s / last minute)"]
        r.rows(pressure_rows(limits.diagnostics.pressure))
        readings = [n for n in limits.diagnostics.notices if n.code in READINGS]
        notices += [n for n in limits.diagnostics.notices if n.code not in READINGS]
        if readings:
            r.lines += ["", "diagnosis"] + [f"  - {n.message}" for n in readings]
    if notices:
        r.lines += ["", "notices"] + [f"  - {n.message}" for n in notices]
    return "\n".join(r.lines) + "\n"


def budget_lines(plan: Plan) -> list[str]:
    """The plan's memory budget as a table: region, size, where the figure came from."""
    if not plan.budget:
        return []
    rows = ["budget:"]
    for line in plan.budget:
        rows.append(f"  {line.region:<22} {fmt_size(line.size):>8}  {line.source}"
                    + (f": {line.note}" if line.note else ""))
    total = sum(line.size for line in plan.budget)
    rows.append(f"  {'total':<22} {fmt_size(total):>8}")
    return rows


def plan_text(plan: Plan, limits: Limits) -> str:
    """``--dry-run``: what would be added and why (not the user's own arguments)."""
    rows = [f"runtime: {plan.runtime or 'unknown (generic variables only)'}"]
    if plan.flags:
        rows.append("flags added: " + " ".join(plan.flags))
    for name, value in plan.shown_env().items():
        rows.append(f"env: {name}={value}")
    if not plan.flags and not plan.added:
        rows.append("nothing to add")
    rows += budget_lines(plan)
    rows += [f"  - {note}" for note in plan.notes]
    rows += [f"warning: {warning}" for warning in plan.warnings]
    rows += ["", limits_summary(limits)]
    return "\n".join(rows) + "\n"


def limits_summary(limits: Limits) -> str:
    """One line for ``-v`` (the line people paste into issues)."""
    m, c = limits.memory, limits.cpu
    mem = f"memory {fmt_bytes(m.limit.value)} ({m.limit.source})" if m.state == LIMITED else f"memory {m.state}"
    if m.high_binds:
        mem += f", memory.high {fmt_bytes(m.high.value)}"
    cpu = f"cpu quota {c.quota.value:g} ({c.quota.source})" if c.quota.value is not None else f"cpu quota {c.state}"
    return f"{mem}; {cpu}; {cpus(c.count)} usable"


def verbose_lines(plan: Plan, limits: Limits, level: int) -> list[str]:
    """Lines for stderr under ``-v``; warnings always."""
    lines = [f"warning: {w}" for w in plan.warnings]
    if level >= 1:
        lines.insert(0, limits_summary(limits))
        lines.append(f"runtime: {plan.runtime or 'unknown runtime: generic variables only'}")
        lines += [f"added flag {flag}" for flag in plan.flags]
        lines += [f"set {name}={value}" for name, value in plan.shown_env().items()]
        lines += plan.notes
    if level >= 2:
        lines += [f"notice: {n.message}" for n in limits.notices]
    return lines


def to_json(obj: object) -> str:
    """``json.dumps(obj, indent=2) + "\\n"``, character for character, without importing json.

    ``json`` imports ``re`` (json.decoder; about 7 ms on Python < 3.13), which
    alone would put ``--print --json`` past twice a bare interpreter's start.
    Handles what reports hold: dicts with string keys, lists, tuples, str,
    int, float, bool and None; anything else goes to json.
    """
    try:
        return "".join(_json(obj, "")) + "\n"
    except TypeError:
        import json

        return json.dumps(obj, indent=2, sort_keys=False) + "\n"


def _json(obj: object, indent: str) -> list[str]:
    """The pieces of ``obj`` in json.dumps(indent=2)'s layout; TypeError for what it does not write."""
    if obj is None or obj is True or obj is False:
        return ["null" if obj is None else "true" if obj else "false"]
    if isinstance(obj, str):
        return [_json_str(obj)]
    if isinstance(obj, int):
        return [int.__repr__(obj)]
    if isinstance(obj, float):
        if obj != obj or obj in (float("inf"), float("-inf")):
            return ["NaN" if obj != obj else "Infinity" if obj > 0 else "-Infinity"]
        return [float.__repr__(obj)]
    inner = indent + "  "
    if isinstance(obj, dict):
        if not obj:
            return ["{}"]
        out = ["{"]
        for i, (key, value) in enumerate(obj.items()):
            if not isinstance(key, str):
                raise TypeError("non-string key")
            out += [",\n" if i else "\n", inner, _json_str(key), ": "] + _json(value, inner)
        return out + ["\n", indent, "}"]
    if isinstance(obj, (list, tuple)):
        if not obj:
            return ["[]"]
        out = ["["]
        for i, value in enumerate(obj):
            out += [",\n" if i else "\n", inner] + _json(value, inner)
        return out + ["\n", indent, "]"]
    raise TypeError(f"not JSON: {type(obj).__name__}")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _json_str(s: str) -> str:
    """A JSON string as ``json.dumps`` writes it (ensure_ascii: everything past ASCII as ``\\uXXXX``)."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:  # a surrogate pair, as json does
            code -= 0x10000
            out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
    out.append('"')
    return "".join(out)
