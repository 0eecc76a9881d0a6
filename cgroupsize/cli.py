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

import errno
import os
import sys

from cgroupsize import launch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from cgroupsize.model import Limits, Plan

USAGE_HINT = "try 'cgroupsize --help'"
PIPE_CLOSED = 141  # 128 + SIGPIPE: what a shell shows for a writer whose reader went away


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
        code = launch.INTERRUPTED
    except OSError as exc:  # writing a report or --help: a closed pipe, a full disk
        code = _output_failed(exc)
    except Exception as exc:  # a bug of ours: never a traceback, never a blocked start
        launch.error(f"internal error: {where_failed(exc)}")
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
    inner = is_cgroupsize(command, env)  # the inner one must see the container as it is: add nothing
    if inner and not dry_run:
        return launch.exec_command(command)
    given = {**_given(options), "disable": True} if inner else _given(options)
    try:
        limits, plan = prepare(command, env, given, root=root, diagnostics=dry_run,
                               where=lambda s: s.option or s.env)
    except SettingError as exc:
        launch.error(f"{exc} ({USAGE_HINT})")
        return launch.USAGE
    except Refused as exc:
        for problem in exc.problems:
            launch.error(f"{problem} (--strict)")
        return launch.PROBLEM
    except Exception as exc:  # a bug of ours, or a value it could not use: never block the application
        if _strict(env, options):
            launch.error(f"internal error: cannot plan ({where_failed(exc)}) (--strict)")
            return launch.PROBLEM
        limits, plan = _generic_only(command, env, given, root, dry_run, exc)
        if plan is None:
            return launch.exec_command(command) if not dry_run else launch.PROBLEM
    if inner:
        plan.decisions.clear()
        plan.info("the command is cgroupsize itself: it runs unchanged, with nothing added, so that it sees "
                  "the container as it is")
    if dry_run:
        from cgroupsize import report

        _out(report.to_json(plan.to_dict(limits)) if as_json else report.plan_text(plan, limits))
        return 0
    _say(plan, limits)
    return launch.exec_command(plan.argv, plan.added)


def _generic_only(command: list[str], env: dict[str, str], given: dict[str, Any], root: str, dry_run: bool,
                  exc: Exception) -> tuple[Any, Any]:
    """After planning failed: the plan without the runtime's part (the CONTAINER_* variables still
    set), or ``(None, None)`` if even that fails. The warning names where it failed, never a value:
    exception texts quote what they could not parse (``int('¹²³')``), which may be a secret."""
    from cgroupsize.recipe import prepare

    try:
        limits, plan = prepare(command, env, {**given, "runtime": "none"}, root=root, diagnostics=dry_run)
    except Exception:
        launch.error(f"warning: cannot plan ({where_failed(exc)})" + ("" if dry_run else
                                                                     "; starting the command unchanged"))
        return None, None
    plan.warn(f"cannot plan for this runtime ({where_failed(exc)}): only the generic variables are set")
    return limits, plan


def where_failed(exc: BaseException) -> str:
    """``ValueError at python.py:123``: the exception's type and the line that raised it, no message."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return type(exc).__name__
    return f"{type(exc).__name__} at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"


def _given(options: dict[str, Any] | None) -> dict[str, Any]:
    """The options the user gave: click passes every one, and None, False or a count of 0 mean
    "not given" (the variable stays); an empty string was given and is refused like any bad value."""
    return {name: value for name, value in (options or {}).items() if value not in (None, False, 0)}


def _strict(env: dict[str, str], options: dict[str, Any] | None) -> bool:
    """Whether --strict is on, for the fail-open boundary (the settings themselves may be what failed)."""
    from cgroupsize.settings import parse_bool

    try:
        return bool((options or {}).get("strict")) or parse_bool(env.get("CGROUPSIZE_STRICT", ""))
    except ValueError:
        return False


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
    """Write a report to stdout and flush it; paths that are not UTF-8 print escaped.

    A closed pipe, a full disk or a closed stdout raise OSError here, inside
    :func:`main`, rather than at interpreter exit ("Exception ignored ...").
    """
    stream = sys.stdout
    if stream is None:  # started with stdout closed (cgroupsize --print >&-)
        raise OSError(errno.EBADF, "standard output is closed")
    try:
        stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    except (AttributeError, ValueError):  # replaced or detached stdout
        pass
    stream.write(text)
    stream.flush()


def _output_failed(exc: OSError) -> int:
    """The status for output that could not be written: 141 for a closed pipe (quietly, as
    ``head`` expects of a writer), 1 with one line on stderr for anything else (ENOSPC, EBADF)."""
    try:  # the interpreter flushes stdout at exit: give it somewhere harmless to write
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    if exc.errno == errno.EPIPE:
        return PIPE_CLOSED
    launch.error(f"cannot write to standard output: {exc.strerror or exc}")
    return launch.PROBLEM


def is_cgroupsize(command: list[str], env: dict[str, str]) -> bool:
    """Whether ``command`` starts cgroupsize itself: by name, as the same script, or ``python -m cgroupsize``.

    ``docker run IMAGE cgroupsize --print`` through ``ENTRYPOINT ["tini", "--",
    "cgroupsize", "--"]`` runs cgroupsize in front of cgroupsize: the outer one
    must add nothing, or the inner one reports our variables as the user's.
    """
    name = os.path.basename(command[0])
    if name == "cgroupsize":
        return True
    if name.startswith("python"):
        return _runs_module(command[1:]) == "cgroupsize"
    me = sys.argv[0] if sys.argv and os.path.isfile(sys.argv[0]) else None
    path = launch.resolve(command[0], env)
    try:
        return me is not None and path is not None and os.path.samefile(path, me)
    except (OSError, ValueError):
        return False


def _runs_module(args: list[str]) -> str | None:
    """The module of ``python [OPTIONS] -m MODULE``, or None (a script, ``-c``, no ``-m``)."""
    for i, arg in enumerate(args):
        if not arg.startswith("-") or arg == "-" or arg.startswith("--"):
            return None
        flags = arg[1:]
        for j, flag in enumerate(flags):
            if flag == "m":
                return flags[j + 1:] or (args[i + 1] if i + 1 < len(args) else None)
            if flag == "c":  # a program text: no module
                return None
            if flag in "WX":  # an option with a value, attached (-Werror) or next
                return _runs_module(args[i + (1 if flags[j + 1:] else 2):])
    return None


# -- the click door --------------------------------------------------------------


def _click_main(args: list[str]) -> int:
    import click

    from cgroupsize.clickdoor import build

    command = build(run, print_limits)
    # click >= 8.2 raises this on a bare "cgroupsize"; 8.1 (Debian 12) has no such class.
    no_args = getattr(click.exceptions, "NoArgsIsHelpError", ())
    if sys.stdout is None and {"-h", "--help", "--version"} & set(args):  # click would print nothing, exit 0
        return _output_failed(OSError(errno.EBADF, "standard output is closed"))
    # Shell completion (_CGROUPSIZE_COMPLETE=bash_source ...) only for a bare "cgroupsize": with
    # arguments, a leftover variable must not turn "cgroupsize -v -- CMD" into a completion script.
    # A name with "=" can never be set in the environment.
    complete_var = None if not args else "_CGROUPSIZE_COMPLETE=only-without-arguments"
    try:
        rv = command.main(args=args, prog_name="cgroupsize", standalone_mode=False, complete_var=complete_var)
    except SystemExit:  # click's own handling of a closed pipe (sys.exit(1))
        if type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):  # newer click: _PacifyFlushWrapper
            return _output_failed(OSError(errno.EPIPE, "broken pipe"))
        raise
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
