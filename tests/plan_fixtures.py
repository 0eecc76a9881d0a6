"""Fixture limits and a one-call planner for the table-driven plan tests.

Every fixture reads as a cgroup v2 container whose limits sit in its own
cgroup directory (what every runtime sees too); ``nested`` and ``override``
variants put the limit where a leaf-only reader would miss it. The
environment has a PATH that exists nowhere, so identification works from
argv[0]'s name alone and nothing on this machine leaks into a plan.
"""
from __future__ import annotations

from cgroupsize.limits import LIMITED, UNLIMITED, Limits, Notice, Value
from cgroupsize.plan import make_plan
from cgroupsize.settings import BY_NAME, from_env

MiB = 1 << 20
GiB = 1 << 30
LEAF = "/sys/fs/cgroup/kubepods/pod1/ctr"
PARENT = "/sys/fs/cgroup/kubepods/pod1"
ENV = {"PATH": "/nonexistent-cgroupsize-test"}
HOST_CPUS = 16
HOST_MEMORY = 64 * GiB


def limits(mem=None, cpus=None, where="leaf", cpuset=None) -> Limits:
    """Limits with ``mem`` bytes and ``cpus`` CPUs of quota (None: no limit).

    ``where``: ``leaf`` (the limit files are in our own cgroup), ``parent``
    (an ancestor's: Go 1.25 and .NET < 8 miss it), ``override``
    (CGROUPSIZE_MEMORY_LIMIT / CGROUPSIZE_CPU_LIMIT).
    """
    d = {"leaf": LEAF, "parent": PARENT}.get(where)
    mem_src = f"{d}/memory.max" if d else "CGROUPSIZE_MEMORY_LIMIT"
    cpu_src = f"{d}/cpu.max" if d else "CGROUPSIZE_CPU_LIMIT"
    lim = Limits(
        memory_version="v2", cpu_version="v2",
        host_memory=Value(HOST_MEMORY, "/proc/meminfo", "MemTotal"),
        host_cpus=Value(HOST_CPUS, "/sys/devices/system/cpu/online", f"0-{HOST_CPUS - 1}"),
        cgroup_dirs={"memory": LEAF, "cpu": LEAF, "cpuset": LEAF},
    )
    if mem is not None:
        lim.memory = Value(mem, mem_src, str(mem))
        lim.memory_state = LIMITED
    else:
        lim.memory = Value(None, f"{LEAF}/memory.max", "max")
        lim.memory_state = UNLIMITED
    if cpus is not None:
        lim.cpu_quota = Value(float(cpus), cpu_src, f"{int(cpus * 100000)} 100000")
        lim.cpu_period = Value(100000, cpu_src)
        lim.cpu_state = LIMITED
    else:
        lim.cpu_state = UNLIMITED
    if cpuset is not None:
        lim.cpuset = Value(cpuset, f"{LEAF}/cpuset.cpus.effective", f"0-{cpuset - 1}")
    if where == "override":
        lim.notices.append(Notice("OVERRIDE", "memory limit taken from CGROUPSIZE_MEMORY_LIMIT"))
    return lim


SMALL = {"mem": 256 * MiB, "cpus": 0.5}
MEDIUM = {"mem": 1 * GiB, "cpus": 2}
LARGE = {"mem": 8 * GiB, "cpus": 8}
NO_LIMIT = {"mem": None, "cpus": None}
FIXTURES = {"small": SMALL, "medium": MEDIUM, "large": LARGE, "none": NO_LIMIT}


def plan(argv, env=None, lim=None, **settings):
    """make_plan over ``ENV`` + ``env``; settings as strings (parsed like variables) or values."""
    full_env = {**ENV, **(env or {})}
    values = from_env(full_env)
    for name, value in settings.items():
        values[name] = BY_NAME[name].parse(value) if isinstance(value, str) else value
    return make_plan(list(argv), full_env, lim if lim is not None else limits(**MEDIUM), values)


def text(p) -> str:
    """Everything a plan says about itself (for "never quotes the user" checks)."""
    return "\n".join(p.notes + p.warnings + p.problems)
