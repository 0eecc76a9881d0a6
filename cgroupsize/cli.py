"""``cgroupsize``: parse the command line, run the recipe, print or exec.

Two doors, one recipe (:func:`cgroupsize.recipe.prepare`):

- ``cgroupsize [--] CMD…`` with no options of its own is the entrypoint path:
  settings come from ``CGROUPSIZE_*`` variables, and click, psutil, json and
  subprocess are never imported (they would cost more than the interpreter's
  own start).
- anything with options (``--dry-run``, ``-v``, ``--root``…) goes through
  click; the options are generated from the settings table. The one
  exception is a bare ``--print [--json]``, handled without click so that
  the diagnostic people run most (``kubectl exec … cgroupsize --print``)
  stays cheap.

This module is the one fail-open boundary: a bug of ours anywhere in the
recipe ends in a warning and the command exec'd unchanged.
"""
from __future__ import annotations

import os
import sys

from cgroupsize import launch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from cgroupsize.model import Limits, Plan

USAGE_HINT = "try 'cgroupsize --help'"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = None
    if args and (args[0] == "--" or not args[0].startswith("-")):
        command = args[1:] if args[0] == "--" else args
    try:
        if command is not None:
            code = run(command, dict(os.environ))
        elif args in (["--print"], ["--print", "--json"], ["--json", "--print"]):
            code = print_limits("/", dict(os.environ), {}, "--json" in args)
        else:
            code = _click_main(args)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # a bug of ours: never a traceback, never a blocked start
        launch.error(f"internal error: {type(exc).__name__}: {exc}")
        code = launch.exec_command(command) if command else launch.PROBLEM
    sys.exit(code)


def run(command: list[str], env: dict[str, str], options: dict[str, Any] | None = None, root: str = "/",
        dry_run: bool = False, as_json: bool = False) -> int:
    """The recipe, then exec (or the report, for ``--dry-run``)."""
    from cgroupsize.recipe import Refused, prepare
    from cgroupsize.settings import SettingError

    if not command:
        launch.error(f"missing command to run ({USAGE_HINT})")
        return launch.USAGE
    try:
        limits, plan = prepare(command, env, _given(options), root=root, diagnostics=dry_run,
                               where=lambda s: s.option or s.env)
    except SettingError as exc:
        launch.error(f"{exc} ({USAGE_HINT})")
        return launch.USAGE
    except Refused as exc:
        for problem in exc.problems:
            launch.error(f"{problem} (--strict)")
        return launch.PROBLEM
    except Exception as exc:  # a bug of ours must not keep the application from starting
        if _strict(env, options) or dry_run:
            launch.error(f"internal error: {type(exc).__name__}: {exc}")
            return launch.PROBLEM
        launch.error(f"warning: cannot plan ({type(exc).__name__}: {exc}); starting the command unchanged")
        return launch.exec_command(command)
    if dry_run:
        from cgroupsize import report

        _out(report.to_json(plan.to_dict(limits)) if as_json else report.plan_text(plan, limits))
        return 0
    _say(plan, limits)
    return launch.exec_command(plan.argv, plan.added)


def _given(options: dict[str, Any] | None) -> dict[str, Any]:
    """The options the user gave: click passes every one, and None, False or a count of 0 mean
    "not given" (the variable stays); an empty string was given and is refused like any bad value."""
    return {name: value for name, value in (options or {}).items() if value not in (None, False, 0)}


def _strict(env: dict[str, str], options: dict[str, Any] | None) -> bool:
    return bool((options or {}).get("strict")) or env.get("CGROUPSIZE_STRICT", "").strip().lower() in (
        "1", "true", "yes", "on")


def _say(plan: Plan, limits: Limits) -> None:
    """``-v`` lines and warnings on stderr; a reporting bug must not keep the command from starting."""
    try:
        from cgroupsize import report

        for line in report.verbose_lines(plan, limits, plan.settings.verbose):
            launch.error(line)
    except Exception as exc:
        launch.error(f"warning: cannot report ({type(exc).__name__}: {exc})")


def print_limits(root: str, env: dict[str, str], options: dict[str, Any], as_json: bool) -> int:
    """``--print``: the limits report. Exit 0 whatever was found."""
    from cgroupsize import report
    from cgroupsize.recipe import limits_for, settings_for
    from cgroupsize.settings import SettingError

    try:
        settings = settings_for(env, _given(options), where=lambda s: s.option or s.env)
    except SettingError as exc:
        launch.error(f"{exc} ({USAGE_HINT})")
        return launch.USAGE
    limits = limits_for(settings.with_values(strict=False), root, diagnostics=True)
    _out(report.to_json(limits.to_dict()) if as_json else report.limits_text(limits))
    return 0


def _out(text: str) -> None:
    """Write a report to stdout; paths that are not UTF-8 print escaped, never crash."""
    try:
        sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    except (AttributeError, ValueError):  # replaced or detached stdout
        pass
    sys.stdout.write(text)


# -- the click door --------------------------------------------------------------


def _click_main(args: list[str]) -> int:
    import click

    from cgroupsize.clickdoor import build

    command = build(run, print_limits)
    # click >= 8.2 raises this on a bare "cgroupsize"; 8.1 (Debian 12) has no such class.
    no_args = getattr(click.exceptions, "NoArgsIsHelpError", ())
    try:
        rv = command.main(args=args, prog_name="cgroupsize", standalone_mode=False)
    except no_args as exc:
        click.echo(exc.ctx.get_help(), err=True)
        return launch.USAGE
    except click.UsageError as exc:
        launch.error(f"{exc.format_message()} ({USAGE_HINT})")
        return launch.USAGE
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code)
    except click.Abort:
        return 130
    return rv if isinstance(rv, int) else 0
