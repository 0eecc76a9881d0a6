"""The recipe, once: settings -> limits -> plan. The CLI and the library both call :func:`prepare`.

Errors are typed: a user's mistake in a setting raises
:class:`~cgroupsize.settings.SettingError`; ``--strict`` refusing what it
found raises :class:`Refused`. Nothing found in /proc or /sys raises; a bug
of ours propagates, for the one fail-open boundary in the CLI (which then
execs the command unchanged) or the library's caller.
"""
from __future__ import annotations

from cgroupsize.model import Limits, Plan
from cgroupsize.settings import Settings, load

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    from cgroupsize.settings import Setting


class Refused(Exception):
    """``--strict`` refused to go on; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def settings_for(env: Mapping[str, str], overrides: Mapping[str, Any] | None = None,
                 where: Callable[[Setting], str] | None = None) -> Settings:
    """The settings: ``CGROUPSIZE_*`` variables, then ``overrides`` (options, keywords) on top."""
    return load(env, overrides, where)


def limits_for(settings: Settings, root: str = "/", diagnostics: bool = False) -> Limits:
    """The limits through ``root``, with the ``memory_limit``/``cpu_limit`` overrides applied."""
    from cgroupsize.cgroups.detect import read_limits

    limits = read_limits(root, diagnostics)
    limits.override_from(settings)
    if settings.strict and limits.problems():
        raise Refused([n.message for n in limits.problems()])
    return limits


def prepare(argv: list[str], env: Mapping[str, str], overrides: Mapping[str, Any] | None = None, *,
            root: str = "/", diagnostics: bool = False, where: Callable[[Setting], str] | None = None,
            limits: Limits | None = None) -> tuple[Limits, Plan]:
    """``(limits, plan)`` for running ``argv`` with environment ``env``.

    ``diagnostics`` reads the report-only files too (``--dry-run``); with
    ``CGROUPSIZE_DISABLE`` and no diagnostics nothing is read at all.
    ``limits`` given (a library caller's) are used instead of detection.
    """
    from cgroupsize.planner import make_plan

    settings = settings_for(env, overrides, where)
    if limits is None:
        limits = Limits() if settings.disable and not diagnostics else limits_for(settings, root, diagnostics)
    plan = make_plan(list(argv), dict(env), limits, settings)
    if settings.strict and plan.problems:
        raise Refused(plan.problems)
    return limits, plan
