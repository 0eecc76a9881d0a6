"""Limits + argv + env + settings -> Plan: the argv and environment to exec.

1. ``disable``: nothing at all, the command exactly as given;
2. identify the runtime (:mod:`cgroupsize.identify`: argv[0], a ``#!`` line,
   Go build info; ``--runtime`` overrides);
3. the runtime's own plan (:mod:`cgroupsize.runtimes`), unless its off switch
   (``CGROUPSIZE_JVM=0`` ...) says no; an unknown runtime gets nothing here;
4. the generic variables, for any command: ``CONTAINER_MEMORY_LIMIT`` (the
   memory budget in bytes, only when there is one), ``CONTAINER_CPU_LIMIT``
   (the quota in CPUs, only when there is one) and ``CONTAINER_CPU_COUNT``
   (always: the CPUs the process can keep busy); never over a value the user
   set, off with ``CGROUPSIZE_EXPORT=0``.

Pure except for identification's cheap reads (and java ``@argfiles``).
(Named ``planner``, not ``plan``: importing a submodule sets the package
attribute of its name, which would hide the public ``cgroupsize.plan()``.)
"""
from __future__ import annotations

from cgroupsize import identify
from cgroupsize.model import Limits, Plan
from cgroupsize.runtimes import GENERIC, REGISTRY, load
from cgroupsize.units import fmt_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cgroupsize.settings import Settings

__all__ = ["GENERIC", "Plan", "make_plan"]


def make_plan(argv: list[str], env: dict[str, str], limits: Limits, settings: Settings) -> Plan:
    """The argv and environment to exec ``argv`` with, for ``limits`` and ``settings``.

    Raises nothing for odd files or limits (they become decisions and
    warnings); a bug of ours is the caller's to catch (the CLI then execs the
    command unchanged).
    """
    if settings.disable or not argv:
        plan = Plan(None, argv, env, settings)
        if settings.disable:
            plan.info("CGROUPSIZE_DISABLE: the command runs exactly as given")
        return plan
    target = identify.identify(argv, env, settings.runtime)
    plan = Plan(target.runtime, argv, env, settings)
    for note in target.notes:
        plan.info(note)
    if target.runtime is None:
        plan.info("unknown runtime: only the generic CONTAINER_* variables are set")
    elif not settings.switched_on(REGISTRY[target.runtime].switch):
        plan.info(f"CGROUPSIZE_{REGISTRY[target.runtime].switch.upper()} is off: "
                  f"nothing added for {target.runtime}")
    else:
        load(target.runtime).plan(plan, target, limits)
    _generic(plan, limits)
    return plan


def _generic(plan: Plan, limits: Limits) -> None:
    """CONTAINER_MEMORY_LIMIT, CONTAINER_CPU_LIMIT, CONTAINER_CPU_COUNT for the application."""
    if not plan.settings.export:
        return
    values = []
    budget = limits.memory.effective
    if budget.value is not None:
        values.append((GENERIC[0], str(budget.value), f"{fmt_size(budget.value)} ({budget.source})"))
    quota = limits.cpu.quota
    if quota.value is not None:
        values.append((GENERIC[1], f"{round(quota.value, 3):g}", f"CPU quota ({quota.source})"))
    values.append((GENERIC[2], str(limits.cpu_count), "CPUs usable (" + (
        limits.cpu.count_source or "no limit below the host: online CPUs") + ")"))
    for name, value, why in values:
        plan.set_unless_user(name, value, why, "limit")
