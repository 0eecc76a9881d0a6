"""What detection found: every figure together with the file it came from.

Three answers are kept apart everywhere (DESIGN.md principle 3):

- a limit: ``Value(value=<number>, source=<file>, raw=<text>)``;
- no limit: ``Value(None, source=<file that said so>)`` with state ``"unlimited"``;
- could not tell: ``Value(None)`` with state ``"unknown"`` and a :class:`Notice`.
"""
from __future__ import annotations

import math

LIMITED = "limited"
UNLIMITED = "unlimited"
UNKNOWN = "unknown"


class Value:
    """A number and where it came from (a path as seen inside the root).

    A plain class rather than a dataclass: ``dataclasses`` imports ``inspect``
    (~10 ms), which the entrypoint path cannot afford (issue 5).
    """

    __slots__ = ("value", "source", "raw")

    def __init__(self, value=None, source=None, raw=None):
        self.value = value
        self.source = source
        self.raw = raw

    def __eq__(self, other):
        return isinstance(other, Value) and (self.value, self.source, self.raw) == (
            other.value, other.source, other.raw)

    def __repr__(self):
        return f"Value({self.value!r}, source={self.source!r}, raw={self.raw!r})"


NONE = Value()


class Notice:
    """Something unusual the user should know. ``code`` is stable, ``message`` is for people."""

    __slots__ = ("code", "message")

    def __init__(self, code, message):
        self.code = code
        self.message = message

    def __repr__(self):
        return f"Notice({self.code!r}, {self.message!r})"


# Stable notice codes (tests, --strict and tools depend on them).
APPROXIMATE_PATH = "APPROXIMATE_PATH"  # our cgroup is not visible under its mount
MEMORY_COVERS_MACHINE = "MEMORY_COVERS_MACHINE"  # a limit >= host memory, dropped
CPU_QUOTA_COVERS_MACHINE = "CPU_QUOTA_COVERS_MACHINE"  # quota >= host CPUs
NO_CGROUP = "NO_CGROUP"  # controller not mounted / no cgroupfs visible
UNREADABLE = "UNREADABLE"  # a file exists but cannot be read
MALFORMED = "MALFORMED"  # a file's content could not be parsed
HOST_UNKNOWN = "HOST_UNKNOWN"  # host memory or CPUs could not be read
OVERRIDE = "OVERRIDE"  # a figure was set by CGROUPSIZE_* / --memory-limit / --cpu-limit

# Codes that --strict treats as detection problems.
PROBLEM_CODES = frozenset({NO_CGROUP, UNREADABLE, MALFORMED, HOST_UNKNOWN})


class Limits:
    """The limits of one process's cgroup, as read through one root directory.

    ``memory`` is the tightest hard limit (bytes) between the process's cgroup
    and its mount point; ``cpu_quota`` the tightest CFS quota in CPUs (may be
    fractional). ``cpu_count`` is derived: see :meth:`cpu_count`.

    Other fields: ``memory_high`` (v2 ``memory.high``, throttling only, never
    the OOM killer), ``swap`` (swap allowed beyond ``memory``; 0 = none),
    ``host_memory``, ``usage``/``peak``/``oom_kills`` (diagnostics),
    ``cpu_period`` (of the level that set the quota), ``cpuset`` (CPUs in the
    cgroup's effective cpuset), ``affinity`` (CPUs this process may run on),
    ``host_cpus`` (online CPUs), ``cpu_weight`` (shares/weight: relative, never
    a count), ``throttled``/``throttled_usec`` (``cpu.stat``), ``cgroup_dirs``
    (controller -> directory inside the root) and ``notices``. States are
    ``"limited"``, ``"unlimited"`` or ``"unknown"``.
    """

    __slots__ = ('memory_version', 'cpu_version', 'memory', 'memory_state', 'memory_high', 'swap', 'host_memory', 'usage', 'peak', 'oom_kills', 'cpu_quota', 'cpu_state', 'cpu_period', 'cpuset', 'affinity', 'host_cpus', 'cpu_weight', 'throttled', 'throttled_usec', 'cgroup_dirs', 'notices')

    def __init__(self, **kw):
        self.memory_version = kw.pop('memory_version', None)
        self.cpu_version = kw.pop('cpu_version', None)
        self.memory = kw.pop('memory', NONE)
        self.memory_state = kw.pop('memory_state', UNKNOWN)
        self.memory_high = kw.pop('memory_high', NONE)
        self.swap = kw.pop('swap', NONE)
        self.host_memory = kw.pop('host_memory', NONE)
        self.usage = kw.pop('usage', NONE)
        self.peak = kw.pop('peak', NONE)
        self.oom_kills = kw.pop('oom_kills', NONE)
        self.cpu_quota = kw.pop('cpu_quota', NONE)
        self.cpu_state = kw.pop('cpu_state', UNKNOWN)
        self.cpu_period = kw.pop('cpu_period', NONE)
        self.cpuset = kw.pop('cpuset', NONE)
        self.affinity = kw.pop('affinity', NONE)
        self.host_cpus = kw.pop('host_cpus', NONE)
        self.cpu_weight = kw.pop('cpu_weight', NONE)
        self.throttled = kw.pop('throttled', NONE)
        self.throttled_usec = kw.pop('throttled_usec', NONE)
        self.cgroup_dirs = kw.pop('cgroup_dirs', {})
        self.notices = kw.pop('notices', [])
        if kw:
            raise TypeError(f"unknown Limits fields: {sorted(kw)}")

    # -- derived figures -------------------------------------------------

    @property
    def memory_limit(self) -> int | None:
        """Hard memory limit in bytes, or None (no limit or unknown)."""
        return self.memory.value

    @property
    def cpu_count(self) -> int:
        """max(1, min(ceil(quota), cpuset, affinity, online CPUs)).

        Rounds a fractional quota up, as HotSpot, .NET and loky do: 1.5 CPUs
        of quota is 2 runnable threads, throttled to 1.5 on average. Shares and
        weights never enter (JDK-8281181, libuv#4740).
        """
        bounds = [v.value for v in (self.cpuset, self.affinity, self.host_cpus) if v.value]
        if self.cpu_quota.value:
            bounds.append(math.ceil(self.cpu_quota.value - 1e-9))
        return max(1, min(bounds)) if bounds else 1

    @property
    def cpu_source(self) -> str | None:
        """The file of whatever bounds :attr:`cpu_count` below the host's CPUs."""
        count = self.cpu_count
        host = self.host_cpus.value
        if host is not None and count >= host:
            return None
        if self.cpu_quota.value and math.ceil(self.cpu_quota.value - 1e-9) == count:
            return self.cpu_quota.source
        for v in (self.cpuset, self.affinity):
            if v.value == count:
                return v.source
        return None

    def override(self, memory=None, cpu=None, memory_from="override", cpu_from="override"):
        """Replace detected figures with ones the orchestrator gave (bytes, CPUs).

        ``*_from`` names where they came from (``CGROUPSIZE_MEMORY_LIMIT``,
        ``--cpu-limit``) and becomes the source. A memory figure at or above
        host memory still means no limit: the Downward API hands a pod without
        a limit the node's allocatable memory.
        """
        host_mem = self.host_memory.value
        if memory is not None:
            if host_mem and memory >= host_mem:
                self.add(MEMORY_COVERS_MACHINE, f"{memory_from}={memory} is at or above host memory "
                         f"({host_mem}): treated as no limit")
                self.memory = Value(None, memory_from, str(memory))
                self.memory_state = UNLIMITED
            else:
                self.memory = Value(memory, memory_from, str(memory))
                self.memory_state = LIMITED
            self.add(OVERRIDE, f"memory limit taken from {memory_from}")
        if cpu is not None:
            self.cpu_quota = Value(float(cpu), cpu_from, str(cpu))
            self.cpu_period = Value()
            self.cpu_state = LIMITED
            self.add(OVERRIDE, f"CPU limit taken from {cpu_from}")

    def override_from(self, settings) -> None:
        """Apply the ``memory_limit``/``cpu_limit`` settings, named by where they came from."""
        self.override(
            memory=settings.get("memory_limit"),
            cpu=settings.get("cpu_limit"),
            memory_from=settings.get("_origin_memory_limit") or "CGROUPSIZE_MEMORY_LIMIT",
            cpu_from=settings.get("_origin_cpu_limit") or "CGROUPSIZE_CPU_LIMIT",
        )

    def add(self, code: str, message: str) -> None:
        self.notices.append(Notice(code, message))

    def notice_codes(self) -> list:
        return [n.code for n in self.notices]

    def problems(self) -> list:
        """Notices that --strict turns into an error."""
        return [n for n in self.notices if n.code in PROBLEM_CODES]

    def to_dict(self) -> dict:
        """The ``--print --json`` object (keys are a public contract)."""

        def num(v):
            return v.value

        quota = self.cpu_quota.value
        return {
            "cgroup": {"memory": self.memory_version, "cpu": self.cpu_version},
            "memory": {
                "limit": self.memory.value,
                "state": self.memory_state,
                "high": num(self.memory_high),
                "swap": num(self.swap),
                "host": num(self.host_memory),
                "source": self.memory.source if self.memory.value is not None else None,
                "usage": num(self.usage),
                "peak": num(self.peak),
                "oom_kills": num(self.oom_kills),
                "dir": self.cgroup_dirs.get("memory"),
            },
            "cpu": {
                "quota": float(quota) if quota is not None else None,
                "state": self.cpu_state,
                "count": self.cpu_count,
                "host": num(self.host_cpus),
                "source": self.cpu_source,
                "period": num(self.cpu_period),
                "cpuset": num(self.cpuset),
                "affinity": num(self.affinity),
                "weight": num(self.cpu_weight),
                "throttled": num(self.throttled),
                "throttled_usec": num(self.throttled_usec),
                "dir": self.cgroup_dirs.get("cpu"),
            },
            "notices": [n.message for n in self.notices],
            "notice_codes": [n.code for n in self.notices],
        }
