"""The click command line, generated from the settings table (imported only when options are given)."""
from __future__ import annotations

import os
import textwrap

import click

from cgroupsize import __version__
from cgroupsize.settings import SETTINGS, Setting

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

WIDTH = 80


def _default(s: Setting) -> str:
    if s.default is None:
        return "detected" if s.name.endswith("_limit") else "computed"
    if isinstance(s.default, bool):
        return "on" if s.default else "off"
    if isinstance(s.default, frozenset):
        return "none"
    return str(s.default)


def _help(s: Setting) -> str:
    return f"{s.help} [env: {s.env}; default: {_default(s)}]"


def _option(s: Setting) -> click.Option:
    assert s.option is not None
    if s.kind == "count":
        return click.Option([s.option, "-v", s.name], count=True, help=_help(s))
    if s.kind == "bool":
        return click.Option([s.option, s.name], is_flag=True, default=None, help=_help(s))
    metavar = "|".join(s.choices) if s.choices else s.kind.upper()
    return click.Option([s.option, s.name], default=None, metavar=metavar, help=_help(s))


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        click.echo(f"cgroupsize {__version__}")
        ctx.exit()


def _watch(root: str, seconds: float, other: bool) -> int:
    """``--watch [SECONDS]``: the live view (cgroupsize/watch.py) until Ctrl-C."""
    if other:
        raise click.UsageError("--watch takes no command, --print, --dry-run or --json")
    if not 0.1 <= seconds <= 86400:  # also refuses nan
        raise click.UsageError(f"--watch: {seconds:g} is not a number of seconds from 0.1 to 86400")
    from cgroupsize import watch

    return watch.watch(root, seconds)


def build(run: Callable[..., int], print_limits: Callable[..., int]) -> click.Command:
    """The ``cgroupsize`` click command; ``run`` and ``print_limits`` are the CLI's two actions."""

    def cli(print_: bool, as_json: bool, dry_run: bool, root: str, watch: float | None, command: tuple[str, ...],
            **options: Any) -> int:
        env = dict(os.environ)
        if watch is not None:
            return _watch(root, watch, bool(command or print_ or dry_run or as_json))
        if print_:
            if command:
                raise click.UsageError("--print takes no command (use --dry-run to see a plan)")
            return print_limits(root, env, options, as_json)
        if not command:
            raise click.UsageError("missing command to run")
        return run(list(command), env, options, root=root, dry_run=dry_run, as_json=as_json)

    return click.Command(
        "cgroupsize", callback=cli, params=_params(),
        help="Run CMD sized to this container's memory and CPU limits, or show those limits."
             "\n\n\b\n  cgroupsize [OPTIONS] [--] CMD [ARGS]...\n  cgroupsize --print [--json]"
             "\n  cgroupsize --watch [SECONDS]",
        epilog=_epilog(), options_metavar="[OPTIONS]",
        context_settings={"allow_interspersed_args": False, "help_option_names": ["-h", "--help"],
                          "max_content_width": WIDTH, "terminal_width": WIDTH},
    )


def _params() -> list[click.Parameter]:
    """The options: the CLI's own, one per general setting of the table, ``--version``, then CMD."""
    params: list[click.Parameter] = [
        click.Option(["--print", "print_"], is_flag=True,
                     help="Show the limits this container really has and where each figure came from."),
        click.Option(["--json", "as_json"], is_flag=True, help="With --print or --dry-run: one JSON object."),
        click.Option(["--dry-run", "dry_run"], is_flag=True,
                     help="Show what would be added to CMD, and why, instead of running it."),
        click.Option(["--root"], default="/", show_default=True, metavar="DIR", type=click.Path(file_okay=False),
                     help="Read /proc and /sys under DIR (a fixture tree) instead of this machine's."),
        click.Option(["--watch"], type=float, is_flag=False, flag_value=2.0, default=None, metavar="[SECONDS]",
                     help="Show usage, growth, breakdown, throttling and pressure live, every SECONDS "
                          "(default 2), until Ctrl-C."),
    ]
    params += [_option(s) for s in SETTINGS if s.option]
    params.append(click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True,
                               callback=_version, help="Show the version and exit."))
    params.append(click.Argument(["command"], nargs=-1, type=click.UNPROCESSED, metavar="[--] CMD [ARGS]..."))
    return params


def _epilog() -> str:
    """Every ``CGROUPSIZE_*`` variable with its default, and the exit statuses."""
    return "\b\nEnvironment (the entrypoint path reads only these):\n" + "\n".join(
        f"  {s.env}\n" + textwrap.fill(f"{s.help} [default: {_default(s)}]", WIDTH - 2, initial_indent=" " * 6,
                                       subsequent_indent=" " * 6) for s in SETTINGS) + (
        "\n\n\b\nExit status: the command's own once it runs; 2 usage error,\n"
        "126 not executable, 127 not found (the message says what), 1 refused by\n"
        "--strict or output not written, 141 output pipe closed, 130 interrupted.\n")
