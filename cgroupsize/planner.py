"""Limits + argv + env + settings -> Plan: the argv and environment to exec.

The recipe (DESIGN.md, step 3):

1. ``disable``: nothing at all, the command exactly as given;
2. identify the runtime (:mod:`cgroupsize.identify`: argv[0], a ``#!`` line,
   Go build info; ``--runtime`` overrides);
3. the runtime's own plan (:mod:`cgroupsize.runtimes`), unless its off switch
   (``CGROUPSIZE_JVM=0`` ...) says no; an unknown runtime gets nothing here;
4. the generic variables, for any command: ``CONTAINER_MEMORY_LIMIT`` (bytes,
   only when there is a memory limit), ``CONTAINER_CPU_LIMIT`` (the quota in
   CPUs, only when there is one) and ``CONTAINER_CPU_COUNT`` (always: the CPUs
   the process can keep busy); never over a value the user set, off with
   ``CGROUPSIZE_EXPORT=0``.

Pure except for identification's cheap reads (and java ``@argfiles``).

(Named ``planner``, not ``plan``: importing a submodule sets the package
attribute of its name, which would hide the public ``cgroupsize.plan()``.)
"""

GENERIC = ("CONTAINER_MEMORY_LIMIT", "CONTAINER_CPU_LIMIT", "CONTAINER_CPU_COUNT")

# settings row holding each runtime's off switch
SWITCH = {"jvm": "jvm", "node": "node", "python": "python", "ruby": "ruby", "go": "go", "dotnet": "dotnet"}


class Plan:
    """What cgroupsize will exec, and why.

    A plain class rather than a dataclass (``dataclasses`` costs ~10 ms on the
    entrypoint path). ``argv`` and ``env`` are complete; ``added`` and
    ``flags`` are only what the tool set (``added`` holds the new value of a
    variable, the user's part included when we prepended to it: ``prepended``
    holds only ours, for showing); ``notes`` explain every decision with its
    source and never quote the user's values; ``warnings`` go to stderr even
    without ``-v``; ``problems`` are what ``--strict`` refuses (also in
    ``warnings``); ``workers`` is the WEB_CONCURRENCY figure in effect for
    Python and Ruby servers (ours or the user's), for :func:`cgroupsize.apply`.
    """

    __slots__ = ("runtime", "argv", "env", "added", "flags", "notes", "warnings", "problems", "workers",
                 "prepended")

    def __init__(self, runtime=None, argv=None, env=None):
        self.runtime = runtime
        self.argv = list(argv or [])
        self.env = dict(env or {})
        self.added = {}
        self.flags = []
        self.notes = []
        self.warnings = []
        self.problems = []
        self.workers = None
        self.prepended = {}

    # -- building ----------------------------------------------------------------

    def set_env(self, name: str, value: str, why) -> None:
        """Set variable ``name`` (the caller checked the user has not); ``why`` None: no note."""
        self.env[name] = value
        self.added[name] = value
        if why is not None:
            self.notes.append(f"{name}={value}: {why}")

    def prepend_env(self, name: str, options: list, why: str) -> None:
        """Put ``options`` in front of what variable ``name`` holds, so the user's options win."""
        ours = " ".join(options)
        old = self.env.get(name, "").strip()
        new = f"{ours} {old}" if old else ours
        self.env[name] = new
        self.added[name] = new
        self.prepended[name] = ours
        kept = " (the user's options kept after ours, so they win)" if old else ""
        self.notes.append(f"{name}: prepended {ours}{kept}: {why}")

    def insert_flags(self, flags: list, why: str) -> None:
        """Put ``flags`` right after argv[0], before the user's, so the user's win."""
        self.argv[1:1] = flags
        self.flags.extend(flags)
        self.notes.append(f"added {' '.join(flags)} after {self.argv[0]}: {why}")

    def note(self, text: str) -> None:
        self.notes.append(text)

    def warn(self, text: str, problem: bool = False) -> None:
        """A warning (stderr even without -v); with ``problem``, also what --strict refuses."""
        self.warnings.append(text)
        if problem:
            self.problems.append(text)

    # -- showing (issue 6: never the user's arguments or values) -------------------

    USER_ARG = "<arg>"  # stands for one of the user's arguments in shown_argv()
    USER_OPTIONS = "<the user's options>"  # follows our part of a variable we prepended to

    def shown_argv(self) -> list:
        """argv as it may be shown: the command, our flags, one ``<arg>`` per user argument."""
        if not self.argv:
            return []
        rest = len(self.argv) - 1 - len(self.flags)
        return [self.argv[0], *self.flags] + [self.USER_ARG] * max(0, rest)

    def shown_env(self) -> dict:
        """``added`` as it may be shown: of a variable we prepended to, only our part."""
        shown = {}
        for name, value in self.added.items():
            ours = self.prepended.get(name)
            shown[name] = f"{ours} {self.USER_OPTIONS}" if ours is not None and ours != value else value
        return shown

    def to_dict(self, limits) -> dict:
        """The ``--dry-run --json`` object (keys are a public contract; argv and env as shown)."""
        return {
            "runtime": self.runtime,
            "argv": self.shown_argv(),
            "env": self.shown_env(),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "limits": limits.to_dict(),
        }

    def __repr__(self):
        return f"Plan(runtime={self.runtime!r}, flags={self.flags!r}, added={self.added!r})"


def make_plan(argv: list, env: dict, limits, settings: dict) -> Plan:
    """The argv and environment to exec ``argv`` with, for ``limits`` and ``settings``.

    ``settings`` is the full dict of :func:`cgroupsize.settings.from_env`
    (possibly updated by options). Raises nothing for odd files or limits
    (they become notes); a bug of ours is the caller's to catch (the CLI
    then execs the command unchanged).
    """
    from cgroupsize.settings import SETTINGS

    settings = {**{s.name: s.default for s in SETTINGS}, **settings}
    if settings.get("disable"):
        plan = Plan(None, argv, env)
        plan.note("CGROUPSIZE_DISABLE: the command runs exactly as given")
        return plan
    if not argv:
        return Plan(None, argv, env)

    from cgroupsize import identify

    target = identify.identify(argv, env, settings.get("runtime") or "auto")
    runtime = target.runtime
    if runtime is None:
        plan = Plan(None, argv, env)
        plan.notes.extend(target.notes)
        plan.note("unknown runtime: only the generic CONTAINER_* variables are set")
    elif not _switched_on(settings, runtime):
        plan = Plan(runtime, argv, env)
        plan.notes.extend(target.notes)
        plan.note(f"CGROUPSIZE_{SWITCH[runtime].upper()} is off: nothing added for {runtime}")
    else:
        from cgroupsize.runtimes import load

        plan = load(runtime).plan(target, argv, env, limits, settings, identify.read_text)
        plan.notes[0:0] = target.notes
    _generic(plan, limits, settings)
    return plan


def _switched_on(settings, runtime) -> bool:
    value = settings.get(SWITCH[runtime], True)
    return value not in (False, "off")


def _generic(plan: Plan, limits, settings) -> None:
    """CONTAINER_MEMORY_LIMIT, CONTAINER_CPU_LIMIT, CONTAINER_CPU_COUNT for the application."""
    if not settings.get("export", True):
        return
    from cgroupsize.runtimes.common import fmt_size, skipped, user_set

    values = []
    mem = limits.memory_limit
    if mem is not None:
        values.append(("CONTAINER_MEMORY_LIMIT", str(mem), f"{fmt_size(mem)} ({limits.memory.source})"))
    quota = limits.cpu_quota.value
    if quota is not None:
        values.append(("CONTAINER_CPU_LIMIT", f"{round(quota, 3):g}", f"CPU quota ({limits.cpu_quota.source})"))
    values.append(("CONTAINER_CPU_COUNT", str(limits.cpu_count),
                   f"CPUs usable ({limits.cpu_source or 'no limit below the host: online CPUs'})"))
    for name, value, why in values:
        if skipped(settings, name):
            plan.note(f"left {name} alone: listed in CGROUPSIZE_SKIP")
        elif user_set(plan.env, name):
            plan.note(f"left {name} alone: set by the user")
        else:
            plan.set_env(name, value, why)
