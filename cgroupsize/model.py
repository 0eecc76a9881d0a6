"""The data model: what detection found (:class:`Limits`) and what a plan decided (:class:`Plan`).

Every figure carries where it came from (:class:`Value`), and three answers
are kept apart everywhere:

- a limit: ``Value(<number>, source=<file>, raw=<text>, level=<cgroup dir>)``;
- no limit: ``Value(None, source=<file that said so>)`` with state ``"unlimited"``;
- could not tell: ``Value(None)`` with state ``"unknown"`` and a :class:`Notice`.

A plan is a list of :class:`Decision` records (knob, value, reason, source);
notes, ``--dry-run`` and ``-v`` are rendered from them, and tests assert them.

Plain classes with ``__slots__`` built on :class:`Record`, not dataclasses:
``dataclasses`` imports ``inspect`` (~10 ms), and this module is on the
entrypoint path, which must cost little more than the interpreter's own start.
"""
from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing imports re (~7 ms) on Python < 3.13
if TYPE_CHECKING:
    from typing import Any, ClassVar, Iterator

    from cgroupsize.cgroups.diagnostics import Diagnostics

LIMITED = "limited"
UNLIMITED = "unlimited"
UNKNOWN = "unknown"

# Where a Value came from.
CGROUP_FILE = "cgroup"  # a limit file in the cgroup directory ``level``
HIERARCHICAL = "hierarchical"  # v1 memory.stat hierarchical_*: the kernel's view above the mount
SETTING = "setting"  # a CGROUPSIZE_* variable, an option or a keyword argument
HOST = "host"  # /proc, /sys or a system call about the whole machine

# Stable notice codes (tests, --strict and tools depend on them).
APPROXIMATE_PATH = "APPROXIMATE_PATH"  # our cgroup is not visible under its mount
MEMORY_COVERS_MACHINE = "MEMORY_COVERS_MACHINE"  # a limit >= host memory, dropped
CPU_QUOTA_COVERS_MACHINE = "CPU_QUOTA_COVERS_MACHINE"  # quota >= host CPUs
NO_CGROUP = "NO_CGROUP"  # controller not mounted / no cgroupfs visible
UNREADABLE = "UNREADABLE"  # a file exists but cannot be read
MALFORMED = "MALFORMED"  # a file's content could not be parsed
HOST_UNKNOWN = "HOST_UNKNOWN"  # host memory or CPUs could not be read
OVERRIDE = "OVERRIDE"  # a figure was set by CGROUPSIZE_* / --memory-limit / --cpu-limit
MEMORY_HIGH_BINDS = "MEMORY_HIGH_BINDS"  # memory.high is below memory.max: plans use it

# Codes that --strict treats as detection problems.
PROBLEM_CODES = frozenset({NO_CGROUP, UNREADABLE, MALFORMED, HOST_UNKNOWN})


class Record:
    """A small record: fields are ``__slots__``, defaults in ``DEFAULTS``.

    Positional arguments fill the fields in order, keywords by name; a
    callable default (``list``, ``Value``) makes a fresh value per record.
    """

    __slots__: ClassVar[tuple[str, ...]] = ()
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, **kw: Any) -> None:
        if len(args) > len(self.__slots__):
            raise TypeError(f"{type(self).__name__} takes at most {len(self.__slots__)} arguments")
        for name, value in zip(self.__slots__, args, strict=False):
            kw[name] = value
        unknown = set(kw) - set(self.__slots__)
        if unknown:
            raise TypeError(f"unknown {type(self).__name__} fields: {sorted(unknown)}")
        for name in self.__slots__:
            if name in kw:
                setattr(self, name, kw[name])
            else:
                setattr(self, name, self._default(name))

    def fields(self) -> Iterator[tuple[str, Any]]:
        return ((name, getattr(self, name)) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and type(other) is type(self) and list(self.fields()) == list(other.fields())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.fields() if k == self.__slots__[0] or v != self._default(k))
        return f"{type(self).__name__}({shown})"

    def _default(self, name: str) -> Any:
        default = self.DEFAULTS.get(name)
        return default() if callable(default) else default


class Value(Record):
    """A figure and where it came from.

    ``source`` is a path as seen inside the root (or a setting's name, or a
    system call); ``raw`` the text it was read from; ``level`` the cgroup
    directory whose file gave it; ``origin`` one of CGROUP_FILE, HIERARCHICAL,
    SETTING, HOST.
    """

    __slots__ = ("value", "source", "raw", "level", "origin")
    value: Any
    source: str | None
    raw: str | None
    level: str | None
    origin: str | None


def ceil_cpus(quota: float) -> int:
    """A fractional CPU quota rounded up (1.5 -> 2), forgiving float noise (2.0000000001 -> 2).

    Not ``math.ceil``: ``math`` is one more import on the entrypoint path for one call.
    """
    q = quota - 1e-9
    n = int(q)
    return n + 1 if n < q else n


def tighter(a: Value, b: Value) -> Value:
    """The smaller of two limits (a missing figure is no limit)."""
    if b.value is not None and (a.value is None or b.value < a.value):
        return b
    return a


class Notice(Record):
    """Something unusual the user should know. ``code`` is stable, ``message`` is for people.

    ``controller`` is the controller it concerns ("memory", "cpu", "cpuset"), when one.
    """

    __slots__ = ("code", "message", "controller")
    code: str
    message: str
    controller: str | None


class MemoryLimits(Record):
    """The memory controller's figures (the ``memory`` object of ``--print --json``).

    ``limit`` is the tightest hard limit (``memory.max`` / ``limit_in_bytes``)
    between our cgroup and the mount point; ``high`` the tightest
    ``memory.high`` (v2: throttling and reclaim, never the OOM killer);
    ``swap`` what may be swapped beyond ``limit`` (0: none); ``dir`` our
    directory; ``approximate`` when that directory was not visible and the
    mount point was read instead; ``usage``/``peak``/``oom_kills`` are for
    reports only.
    """

    __slots__ = ("version", "dir", "approximate", "limit", "state", "high", "swap", "host",
                 "usage", "peak", "oom_kills")
    DEFAULTS = {"limit": Value, "state": UNKNOWN, "high": Value, "swap": Value, "host": Value,
                "usage": Value, "peak": Value, "oom_kills": Value, "approximate": False}
    version: str | None
    dir: str | None
    approximate: bool
    limit: Value
    state: str
    high: Value
    swap: Value
    host: Value
    usage: Value
    peak: Value
    oom_kills: Value

    def set_limit(self, value: Value, notices: list[Notice]) -> None:
        """Take ``value`` as the hard limit, unless it covers the machine (then: no limit).

        A limit at or above host memory is no limit: Docker without
        ``--memory`` on some kernels writes the host's size, and the
        Kubernetes Downward API hands a pod without a limit the node's
        allocatable memory (JDK-8292083).
        """
        host = self.host.value
        if value.value is not None and host and value.value >= host:
            notices.append(Notice(MEMORY_COVERS_MACHINE, f"memory limit {value.value} in {value.source} is "
                                  f"at or above host memory ({host}): treated as no limit", "memory"))
            self.limit = Value(None, value.source, value.raw, value.level, value.origin)
            self.state = UNLIMITED
        else:
            self.limit = value
            if value.value is not None:
                self.state = LIMITED

    @property
    def effective(self) -> Value:
        """The budget plans size for: ``min(limit, high)``.

        Above ``memory.high`` the kernel throttles the cgroup and reclaims
        hard (cgroup-v2.rst, "memory.high"), so a runtime sized to
        ``memory.max`` spends its last part of the heap stalled.
        """
        return tighter(self.limit, self.high)

    @property
    def high_binds(self) -> bool:
        return self.effective is self.high and self.high.value is not None


class CpuLimits(Record):
    """The cpu and cpuset controllers' figures (the ``cpu`` object of ``--print --json``).

    ``quota`` is the tightest CFS quota in CPUs (may be fractional) between
    our cgroup and the mount point, with the ``period`` of that level;
    ``cpuset`` CPUs in our effective cpuset, ``affinity`` those this process
    may run on, ``host`` online CPUs; ``weight`` (shares) is relative and
    never a count; ``throttled``/``throttled_usec`` are for reports only.
    """

    __slots__ = ("version", "dir", "approximate", "quota", "state", "period", "cpuset", "affinity", "host",
                 "weight", "throttled", "throttled_usec")
    DEFAULTS = {"quota": Value, "state": UNKNOWN, "period": Value, "cpuset": Value, "affinity": Value,
                "host": Value, "weight": Value, "throttled": Value, "throttled_usec": Value,
                "approximate": False}
    version: str | None
    dir: str | None
    approximate: bool
    quota: Value
    state: str
    period: Value
    cpuset: Value
    affinity: Value
    host: Value
    weight: Value
    throttled: Value
    throttled_usec: Value

    @property
    def count(self) -> int:
        """``max(1, min(ceil(quota), cpuset, affinity, online CPUs))``.

        Rounds a fractional quota up, as HotSpot, .NET and loky do: 1.5 CPUs
        of quota is 2 runnable threads, throttled to 1.5 on average. Shares and
        weights never enter (JDK-8281181, libuv#4740).
        """
        bounds = [v.value for v in (self.cpuset, self.affinity, self.host) if v.value]
        if self.quota.value:
            bounds.append(ceil_cpus(self.quota.value))
        return max(1, min(bounds)) if bounds else 1

    @property
    def count_source(self) -> str | None:
        """The file of whatever bounds :attr:`count` below the host's CPUs (None: nothing does)."""
        count = self.count
        if self.host.value is not None and count >= self.host.value:
            return None
        if self.quota.value and ceil_cpus(self.quota.value) == count:
            return self.quota.source
        for v in (self.cpuset, self.affinity):
            if v.value == count:
                return v.source
        return None

    @property
    def quota_binds(self) -> bool:
        """Whether the quota (rather than a cpuset or affinity) is what bounds :attr:`count`."""
        return self.quota.value is not None and self.count_source == self.quota.source


_LEAF_FILES = {"memory": ("memory.max", "memory.limit_in_bytes"), "cpu": ("cpu.max", "cpu.cfs_quota_us")}


class Limits(Record):
    """The limits of one process's cgroup, as read through one root directory."""

    __slots__ = ("memory", "cpu", "notices", "diagnostics")
    DEFAULTS = {"memory": MemoryLimits, "cpu": CpuLimits, "notices": list}
    memory: MemoryLimits
    cpu: CpuLimits
    notices: list[Notice]
    diagnostics: Diagnostics | None  # --print only: breakdown, events, pressure (cgroups/diagnostics.py)

    # -- what plans use ------------------------------------------------------

    @property
    def memory_limit(self) -> int | None:
        """The memory budget in bytes (``min(memory.max, memory.high)``), or None."""
        value: int | None = self.memory.effective.value
        return value

    @property
    def cpu_count(self) -> int:
        return self.cpu.count

    def seen_at_leaf(self, controller: str) -> bool:
        """Whether the limit is in our own cgroup's limit file, where a leaf-only reader finds it.

        A runtime that reads only its own cgroup (Go 1.25: golang/go#81180;
        .NET before 8: dotnet/runtime#93611; libuv) misses a limit set on an
        ancestor, v1 ``hierarchical_memory_limit``, a ``memory.high`` below
        the hard limit, an override, and one read at the mount point because
        our own directory was not visible.
        """
        part: MemoryLimits | CpuLimits = self.memory if controller == "memory" else self.cpu
        value = self.memory.effective if controller == "memory" else self.cpu.quota
        if value.origin != CGROUP_FILE or value.level != part.dir or part.approximate:
            return False
        return (value.source or "").rsplit("/", 1)[-1] in _LEAF_FILES[controller]

    # -- overrides ----------------------------------------------------------------

    def override(self, memory: int | None = None, cpu: float | None = None,
                 memory_from: str = "override", cpu_from: str = "override") -> None:
        """Replace detected figures with ones the orchestrator gave (bytes, CPUs).

        ``*_from`` names where they came from (``CGROUPSIZE_MEMORY_LIMIT``,
        ``--cpu-limit``) and becomes the source. The host rule of
        :meth:`MemoryLimits.set_limit` applies to an override too.
        """
        if memory is not None:
            self.memory.high = Value()  # the orchestrator's figure is the budget
            self.memory.set_limit(Value(memory, memory_from, str(memory), None, SETTING), self.notices)
            self.add(OVERRIDE, f"memory limit taken from {memory_from}", "memory")
        if cpu is not None:
            self.cpu.quota = Value(float(cpu), cpu_from, str(cpu), None, SETTING)
            self.cpu.period = Value()
            self.cpu.state = LIMITED
            self.add(OVERRIDE, f"CPU limit taken from {cpu_from}", "cpu")

    def override_from(self, settings: Any) -> None:
        """Apply the ``memory_limit``/``cpu_limit`` settings, named by where each came from."""
        self.override(memory=settings.memory_limit, cpu=settings.cpu_limit,
                      memory_from=settings.origin("memory_limit"), cpu_from=settings.origin("cpu_limit"))

    # -- notices -------------------------------------------------------------------

    def add(self, code: str, message: str, controller: str | None = None) -> None:
        self.notices.append(Notice(code, message, controller))

    def notice_codes(self) -> list[str]:
        return [n.code for n in self.notices]

    def problems(self) -> list[Notice]:
        """Notices that --strict turns into an error."""
        return [n for n in self.notices if n.code in PROBLEM_CODES]

    def to_dict(self) -> dict[str, Any]:
        """The ``--print --json`` object (keys are a public contract)."""
        m, c = self.memory, self.cpu
        quota = c.quota.value
        effective = m.effective
        out: dict[str, Any] = {
            "cgroup": {"memory": m.version, "cpu": c.version},
            "memory": {
                "limit": m.limit.value,
                "state": m.state,
                "high": m.high.value,
                "effective": effective.value,
                "swap": m.swap.value,
                "host": m.host.value,
                "source": m.limit.source if m.limit.value is not None else None,
                "usage": m.usage.value,
                "peak": m.peak.value,
                "oom_kills": m.oom_kills.value,
                "dir": m.dir,
            },
            "cpu": {
                "quota": float(quota) if quota is not None else None,
                "state": c.state,
                "count": c.count,
                "host": c.host.value,
                "source": c.count_source,
                "period": c.period.value,
                "cpuset": c.cpuset.value,
                "affinity": c.affinity.value,
                "weight": c.weight.value,
                "throttled": c.throttled.value,
                "throttled_usec": c.throttled_usec.value,
                "dir": c.dir,
            },
            "notices": [n.message for n in self.notices],
            "notice_codes": [n.code for n in self.notices],
        }
        if self.diagnostics is not None:  # memory.stat, memory.events, pressure, ancestors, diagnostics
            out.update(self.diagnostics.to_dict())
        return out


# -- plans ---------------------------------------------------------------------------

# What a decision did with its knob.
FLAG = "flag"  # a command-line flag (``value`` is the flag as added)
SET = "set"  # an environment variable set
PREPEND = "prepend"  # options put in front of the user's in a variable
LEFT = "left"  # left alone: the user set it (source "user") or listed it in CGROUPSIZE_SKIP ("skip")
NONE = "none"  # deliberately not set (no limit, runtime sees it itself...)
INFO = "info"  # context: what the runtime is, where flags went

# Where a decision's value came from (for --dry-run's budget table and tests).
USER = "user"
SKIP = "skip"


class Decision(Record):
    """One thing a plan decided: ``knob`` (a flag or variable name), ``value``, ``reason``, ``source``.

    ``label`` names the knob in prose when that differs from ``knob`` (``the heap`` for ``Xmx``).
    """

    __slots__ = ("knob", "action", "value", "reason", "source", "label")
    knob: str | None
    action: str
    value: str | None
    reason: str
    source: str | None
    label: str | None

    def text(self) -> str:
        """The decision as a note (never the user's values: only ours are stored)."""
        name = self.label or self.knob
        if self.action == FLAG:
            return f"{self.value}: {self.reason}"
        if self.action == SET:
            return f"{self.knob}={self.value}: {self.reason}"
        if self.action == PREPEND:
            return f"{self.knob}: prepended {self.value}: {self.reason}"
        if self.action == LEFT:
            return f"left {name} alone: {self.reason}"
        if self.action == NONE:
            return f"no {name}: {self.reason}"
        return self.reason


def knob_key(name: str) -> str:
    """``-XX:ActiveProcessorCount=2``, ``ActiveProcessorCount`` -> ``activeprocessorcount``.

    The one spelling every flag and variable the tool adds is compared in,
    for ``CGROUPSIZE_SKIP``: case, leading dashes, ``-XX:``, ``+``/``-`` and
    any ``=value`` are dropped; underscores and dashes are the same.
    """
    key = name.strip().lower().split("=", 1)[0]
    key = key.lstrip("-")
    if key.startswith("xx:"):
        key = key[3:].lstrip("+-")
    return key.replace("_", "-")


class BudgetLine(Record):
    """One region of a runtime's memory budget: ``size`` bytes, ``source`` (count, assumption,
    user, default, limit) and a short ``note``."""

    __slots__ = ("region", "size", "source", "note")
    DEFAULTS = {"note": ""}
    region: str
    size: int
    source: str
    note: str


class Plan:
    """What cgroupsize will exec, and why.

    ``argv`` and ``env`` are complete; ``added`` holds the variables the tool
    set (the full new value; ``prepended`` only our part of a variable the
    user also set), ``flags`` the flags it added; ``decisions`` explain every
    choice; ``warnings`` go to stderr even without ``-v``; ``problems`` are what
    ``--strict`` refuses; ``workers`` is the WEB_CONCURRENCY figure in effect
    for Python and Ruby servers (ours or the user's); ``budget`` the regions
    of the runtime's memory budget (they add up to at most the limit).
    """

    __slots__ = ("runtime", "argv", "env", "settings", "added", "flags", "decisions", "warnings",
                 "problems", "workers", "prepended", "budget", "_pending")

    USER_ARG = "<arg>"  # stands for one of the user's arguments in shown_argv()
    USER_OPTIONS = "<the user's options>"  # follows our part of a variable we prepended to

    def __init__(self, runtime: str | None = None, argv: list[str] | None = None,
                 env: dict[str, str] | None = None, settings: Any = None) -> None:
        self.runtime = runtime
        self.argv = list(argv or [])
        self.env = dict(env or {})
        self.settings = settings
        self.added: dict[str, str] = {}
        self.flags: list[str] = []
        self.decisions: list[Decision] = []
        self.warnings: list[str] = []
        self.problems: list[str] = []
        self.workers: int | None = None
        self.prepended: dict[str, str] = {}
        self.budget: list[BudgetLine] = []
        self._pending: list[str] = []

    # -- recording -------------------------------------------------------------------

    def decide(self, knob: str | None, action: str, value: str | None, reason: str,
               source: str | None = None, label: str | None = None) -> Decision:
        d = Decision(knob, action, value, reason, source, label)
        self.decisions.append(d)
        return d

    def info(self, text: str) -> None:
        self.decide(None, INFO, None, text)

    def none(self, knob: str, reason: str, label: str | None = None) -> None:
        """``knob`` is deliberately not set, for ``reason``."""
        self.decide(knob, NONE, None, reason, None, label)

    def mine(self, knob: str, where: str | bool | None, label: str | None = None) -> bool:
        """Whether the plan may set ``knob``; if not, records why (CGROUPSIZE_SKIP, or the user's).

        ``where`` is where the user set it (``"JAVA_TOOL_OPTIONS"``; True for
        "set"; None or False when not).
        """
        if self.settings is not None and self.settings.skipped(knob):
            self.decide(knob, LEFT, None, "listed in CGROUPSIZE_SKIP", SKIP, label)
            return False
        if where:
            self.decide(knob, LEFT, None, "set by the user" + ("" if where is True else f" in {where}"),
                        USER, label)
            return False
        return True

    def user_set(self, name: str) -> bool:
        """Whether the user set variable ``name`` (present and not blank)."""
        value = self.env.get(name)
        return value is not None and value.strip() != ""

    def set_env(self, name: str, value: str, reason: str | None, source: str | None = None) -> None:
        """Set variable ``name`` (the caller checked :meth:`mine`); ``reason`` None: no note."""
        self.env[name] = value
        self.added[name] = value
        if reason is not None:
            self.decide(name, SET, value, reason, source)

    def set_unless_user(self, name: str, value: str, reason: str | None, source: str | None = None) -> bool:
        """:meth:`set_env` unless skipped or already the user's; whether it was set."""
        if not self.mine(name, self.user_set(name)):
            return False
        self.set_env(name, value, reason, source)
        return True

    def flag(self, knob: str, flag: str, reason: str, source: str | None = None) -> None:
        """Add ``flag`` (placed by :meth:`place_flags`), recording why."""
        self._pending.append(flag)
        self.decide(knob, FLAG, flag, reason, source)

    def place_flags(self, direct: bool, variable: str, starter: str) -> None:
        """Put the pending flags before the user's, so theirs win.

        ``direct``: right after argv[0] (the runtime's own executable);
        otherwise in front of ``variable`` (``JAVA_TOOL_OPTIONS``,
        ``NODE_OPTIONS``), which the runtime reads before its command line;
        ``starter`` says why (``"npm starts node itself"``).
        """
        flags, self._pending = self._pending, []
        if not flags:
            return
        why = "before the user's flags, so theirs win"
        if direct:
            self.argv[1:1] = flags
            self.flags.extend(flags)
            self.info(f"added {' '.join(flags)} after {self.argv[0]}: {why}")
        else:
            self.prepend_env(variable, flags, f"{starter}; {why}")

    def prepend_env(self, name: str, options: list[str], reason: str) -> None:
        """Put ``options`` in front of what variable ``name`` holds, so the user's options win."""
        ours = " ".join(options)
        old = self.env.get(name, "").strip()
        new = f"{ours} {old}" if old else ours
        self.env[name] = new
        self.added[name] = new
        self.prepended[name] = ours
        kept = " (the user's options kept after ours, so they win)" if old else ""
        self.decide(name, PREPEND, ours, reason + kept)

    def warn(self, text: str, problem: bool = False) -> None:
        """A warning (stderr even without -v); with ``problem``, also what --strict refuses."""
        self.warnings.append(text)
        if problem:
            self.problems.append(text)

    # -- reading -------------------------------------------------------------------------

    @property
    def notes(self) -> list[str]:
        return [d.text() for d in self.decisions]

    def decision(self, knob: str) -> Decision | None:
        """The last decision about ``knob`` (compared as CGROUPSIZE_SKIP compares names)."""
        key = knob_key(knob)
        for d in reversed(self.decisions):
            if d.knob is not None and knob_key(d.knob) == key:
                return d
        return None

    # -- showing (never the user's arguments or values) ---------------------------------

    def shown_argv(self) -> list[str]:
        """argv as it may be shown: the command, our flags, one ``<arg>`` per user argument."""
        if not self.argv:
            return []
        rest = len(self.argv) - 1 - len(self.flags)
        return [self.argv[0], *self.flags] + [self.USER_ARG] * max(0, rest)

    def shown_env(self) -> dict[str, str]:
        """``added`` as it may be shown: of a variable we prepended to, only our part."""
        shown = {}
        for name, value in self.added.items():
            ours = self.prepended.get(name)
            shown[name] = f"{ours} {self.USER_OPTIONS}" if ours is not None and ours != value else value
        return shown

    def to_dict(self, limits: Limits) -> dict[str, Any]:
        """The ``--dry-run --json`` object (keys are a public contract; argv and env as shown)."""
        return {
            "runtime": self.runtime,
            "argv": self.shown_argv(),
            "env": self.shown_env(),
            "decisions": [dict(d.fields()) for d in self.decisions],
            "budget": [dict(line.fields()) for line in self.budget],
            "notes": self.notes,
            "warnings": list(self.warnings),
            "limits": limits.to_dict(),
        }

    def __repr__(self) -> str:
        return f"Plan(runtime={self.runtime!r}, flags={self.flags!r}, added={self.added!r})"

