"""The host's own figures: memory, online CPUs, and this process's affinity.

Read from ``/proc`` and ``/sys`` through the root seam. Only on the real
machine (root ``/``) and only where those files cannot be read does it fall
back to ``os`` and, last, to psutil (imported only then: it costs ~20 ms).
"""
from __future__ import annotations

import os

from cgroupsize.files import Files, parse_cpu_list, parse_uint
from cgroupsize.model import HOST_UNKNOWN, Value

MEMINFO = "/proc/meminfo"
STATUS = "/proc/self/status"
ONLINE = "/sys/devices/system/cpu/online"


def memory(files: Files) -> Value:
    """Physical memory (``MemTotal``), the ceiling any real limit sits below."""
    text = files.read(MEMINFO)
    if text is not None:
        for line in text.split("\n"):
            if line.startswith("MemTotal:"):
                fields = line.split()
                kib = parse_uint(fields[1]) if len(fields) >= 2 else None  # not isdigit(): "²"
                if kib:
                    unit = 1024 if len(fields) < 3 or fields[2].lower() == "kb" else 1
                    return Value(kib * unit, MEMINFO, line.strip())
                files.malformed(MEMINFO, line, "a MemTotal line in kB")
                break
    if files.is_host:
        try:
            return Value(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "sysconf(SC_PHYS_PAGES)")
        except (ValueError, OSError):
            pass
        try:
            import psutil

            return Value(int(psutil.virtual_memory().total), "psutil.virtual_memory()")
        except Exception:  # psutil missing or failing: fail open
            pass
    files.notice(HOST_UNKNOWN, f"host memory unknown: no MemTotal in {MEMINFO}")
    return Value()


def online_cpus(files: Files) -> Value:
    """CPUs the kernel has online (``/sys/devices/system/cpu/online``)."""
    value = _cpu_list_file(files, ONLINE)
    if value.value is None and files.is_host:
        count = os.cpu_count()
        if count:
            return Value(count, "os.cpu_count()")
    if value.value is None:
        files.notice(HOST_UNKNOWN, f"host CPUs unknown: cannot read {ONLINE}")
    return value


def affinity(files: Files) -> Value:
    """CPUs this process may run on (``Cpus_allowed_list``; what ``taskset`` and cpusets set)."""
    text = files.read(STATUS)
    if text is not None:
        for line in text.split("\n"):
            if line.startswith("Cpus_allowed_list:"):
                raw = line.split(":", 1)[1].strip()
                cpus = parse_cpu_list(raw)
                if cpus:
                    return Value(len(cpus), STATUS, raw)
                files.malformed(STATUS, raw, "a CPU list like 0-3,8")
                break
    if files.is_host:
        try:
            return Value(len(os.sched_getaffinity(0)), "sched_getaffinity()")
        except (AttributeError, OSError):
            pass
        try:
            import psutil

            return Value(len(psutil.Process().cpu_affinity()), "psutil.Process().cpu_affinity()")
        except Exception:  # fail open
            pass
    return Value()


def _cpu_list_file(files: Files, inside: str) -> Value:
    raw = files.read_line(inside)
    if raw is None:
        return Value()
    cpus = parse_cpu_list(raw)
    if not cpus:
        files.malformed(inside, raw, "a non-empty CPU list like 0-3,8")
        return Value()
    return Value(len(cpus), inside, raw)
