"""``cgroupsize``: read limits, plan, exec.

Two doors, one recipe (DESIGN.md, "What a run looks like"):

- ``cgroupsize [--] CMD…`` with no options of its own is the entrypoint path:
  settings come from ``CGROUPSIZE_*`` variables, and click, psutil, json and
  subprocess are never imported (they would cost more than the interpreter's
  own start).
- anything with options (``--dry-run``, ``-v``, ``--root``…) goes through
  click; the options are generated from the settings table. The one
  exception is a bare ``--print [--json]``, handled without click so that
  the diagnostic stays cheap (issue 5's 4x target).
"""
from __future__ import annotations

import os
import sys

from cgroupsize import launch

USAGE_HINT = "try 'cgroupsize --help'"


def main(argv=None) -> None:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = None
    if args and (args[0] == "--" or not args[0].startswith("-")):
        command = args[1:] if args[0] == "--" else args
    try:
        if command is not None:
            code = run(command, dict(os.environ))
        elif args in (["--print"], ["--print", "--json"], ["--json", "--print"]):
            # The diagnostic people run most (kubectl exec ... cgroupsize --print)
            # skips click's ~35 ms import: same function as the click door.
            code = print_limits("/", dict(os.environ), {}, "--json" in args)
        else:
            code = _click_main(args)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # a bug of ours: never a traceback, never a blocked start
        launch.error(f"internal error: {type(exc).__name__}: {exc}")
        code = launch.exec_command(command, dict(os.environ)) if command else launch.PROBLEM
    sys.exit(code)


def run(command, env, options=None, root="/", dry_run=False, as_json=False) -> int:
    """The recipe: settings -> limits -> plan -> exec (or report, for --dry-run)."""
    if not command:
        launch.error(f"missing command to run ({USAGE_HINT})")
        return launch.USAGE
    settings = _settings(env, options)
    if settings is None:
        return launch.USAGE
    if settings["disable"] and not dry_run:
        return launch.exec_command(command, env)
    limits = detect(root, settings, diagnostics=dry_run)  # the exec path needs only the limits
    if limits is None:  # --strict and detection failed
        return launch.PROBLEM
    plan = make_plan(command, env, limits, settings)
    if plan is None:
        return launch.PROBLEM
    if dry_run:
        from cgroupsize import report

        _out(report.to_json(plan.to_dict(limits)) if as_json else report.plan_text(plan, limits))
        return 0
    try:
        _say(plan, limits, settings["verbose"])
    except Exception as exc:  # a reporting bug must not keep the command from starting
        launch.error(f"warning: cannot report ({type(exc).__name__}: {exc})")
    return launch.exec_command(plan.argv, plan.env)


def _settings(env, options):
    """Settings from the environment, then command-line options on top; None on a user error."""
    from cgroupsize import settings as table

    # click passes every option; None, False and a count of 0 mean "not given" (the variable
    # stays), while an empty string was given and must be refused like any bad value.
    given = {name: value for name, value in (options or {}).items() if value not in (None, False)}
    try:
        values = table.resolve(env, given, where=lambda setting: setting.option)
    except table.SettingError as exc:
        launch.error(f"{exc} ({USAGE_HINT})")
        return None
    return values


def detect(root, settings, diagnostics=True):
    """Limits with overrides applied; fails open unless --strict."""
    from cgroupsize.cgroups.detect import read_limits

    try:
        limits = read_limits(root, diagnostics)
    except Exception as exc:  # a bug of ours must not keep the application from starting
        if settings["strict"]:
            launch.error(f"cannot detect limits: {type(exc).__name__}: {exc}")
            return None
        launch.error(f"warning: cannot detect limits ({type(exc).__name__}: {exc}); carrying on without them")
        from cgroupsize.limits import Limits

        limits = Limits()
    limits.override_from(settings)
    if settings["strict"] and limits.problems():
        for n in limits.problems():
            launch.error(f"{n.message} (--strict)")
        return None
    return limits


def make_plan(command, env, limits, settings):
    """The runtime's plan; on a bug of ours, the command unchanged (fail open)."""
    try:
        from cgroupsize.planner import make_plan as plan_for

        plan = plan_for(list(command), dict(env), limits, settings)
    except Exception as exc:
        if settings["strict"]:
            launch.error(f"cannot plan: {type(exc).__name__}: {exc}")
            return None
        launch.error(f"warning: cannot plan ({type(exc).__name__}: {exc}); starting the command unchanged")
        from cgroupsize.planner import Plan

        return Plan(runtime=None, argv=list(command), env=dict(env))
    if settings["strict"] and plan.problems:
        for p in plan.problems:
            launch.error(f"{p} (--strict)")
        return None
    return plan


def _say(plan, limits, level) -> None:
    from cgroupsize import report

    for line in report.verbose_lines(plan, limits, level):
        launch.error(line)


# -- the click door --------------------------------------------------------------


def _click_main(args) -> int:
    import click

    command = _build_click()
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
        return exc.exit_code
    except click.Abort:
        return 130
    return rv if isinstance(rv, int) else 0


def _build_click():
    import click

    from cgroupsize import settings as table

    def cli(print_, as_json, dry_run, root, command, **options):
        env = dict(os.environ)
        if print_:
            if command:
                raise click.UsageError("--print takes no command (use --dry-run to see a plan)")
            return print_limits(root, env, options, as_json)
        if not command:
            raise click.UsageError("missing command to run")
        return run(list(command), env, options, root=root, dry_run=dry_run, as_json=as_json)

    params = [
        click.Option(["--print", "print_"], is_flag=True,
                     help="Show the limits this container really has and where each figure came from."),
        click.Option(["--json", "as_json"], is_flag=True, help="With --print or --dry-run: one JSON object."),
        click.Option(["--dry-run", "dry_run"], is_flag=True,
                     help="Show what would be added to CMD instead of running it."),
        click.Option(["--root"], default="/", show_default=True, metavar="DIR",
                     type=click.Path(file_okay=False),
                     help="Read /proc and /sys under DIR (a fixture tree) instead of this machine's."),
    ]
    for s in table.SETTINGS:
        if not s.option:
            continue
        if s.kind == "count":
            params.append(click.Option([s.option, "-v", s.name], count=True, help=s.help + f" [env: {s.env}]"))
        elif s.kind == "bool":
            params.append(click.Option([s.option, s.name], is_flag=True, default=None,
                                       help=s.help + f" [env: {s.env}]"))
        else:
            metavar = "|".join(s.choices) if s.choices else s.kind.upper()
            params.append(click.Option([s.option, s.name], default=None, metavar=metavar,
                                       help=s.help + f" [env: {s.env}]"))

    params.append(click.Option(
        ["--version"], is_flag=True, expose_value=False, is_eager=True,
        callback=lambda ctx, _param, value: _version(ctx) if value else None,
        help="Show the version and exit."))
    params.append(click.Argument(["command"], nargs=-1, type=click.UNPROCESSED))

    epilog = "\b\nEnvironment (the entrypoint path reads only these):\n" + "\n".join(
        f"  {s.env:<28} {s.help}" for s in table.SETTINGS) + (
        "\n\n\b\nExit status: the command's own once it runs; 2 usage error, "
        "126 not executable, 127 not found, 1 refused by --strict.\n")
    return click.Command(
        "cgroupsize",
        callback=cli,
        params=params,
        help="Run CMD sized to this container's memory and CPU limits, or show those limits."
             "\n\n\b\n  cgroupsize [OPTIONS] [--] CMD [ARGS]...\n  cgroupsize --print [--json]",
        epilog=epilog,
        context_settings={"allow_interspersed_args": False, "help_option_names": ["-h", "--help"],
                          "max_content_width": 100},
    )


def _version(ctx):
    import click

    from cgroupsize import __version__

    click.echo(f"cgroupsize {__version__}")
    ctx.exit()


def print_limits(root, env, options, as_json) -> int:
    """``--print``: the limits report. Exit 0 whatever was found."""
    from cgroupsize import report

    settings = _settings(env, options)
    if settings is None:
        return launch.USAGE
    settings["strict"] = False
    limits = detect(root, settings)
    _out(report.to_json(limits.to_dict()) if as_json else report.limits_text(limits))
    return 0


def _out(text: str) -> None:
    """Write a report to stdout; paths that are not UTF-8 print escaped, never crash."""
    try:
        sys.stdout.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError):  # replaced or detached stdout
        pass
    sys.stdout.write(text)
