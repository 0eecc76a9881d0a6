"""Which runtime a command starts, from cheap reads only.

In order, the first that answers wins:

1. ``--runtime NAME`` / ``CGROUPSIZE_RUNTIME`` (the only way to say what a
   wrapper shell script starts);
2. argv[0]'s basename: the runtime itself (``java``, ``node``/``nodejs``,
   ``python3.12``, ``pypy3``, ``ruby``, ``dotnet``) or a launcher named after
   what it runs (``npm``/``npx``/``yarn``/``pnpm``, ``gunicorn``/``uvicorn``,
   ``puma``/``unicorn``/``bundle``/``rails``), with a look at its first
   arguments (``python -m gunicorn``, ``bundle exec puma``, ``rails server``);
3. the file argv[0] resolves to through PATH *from the new environment* (what
   exec will run): a ``#!`` line names the interpreter (``#!/usr/bin/env -S
   node --flags``, ``#!/usr/bin/python3``); an ELF binary is Go if it carries
   Go build info (the toolchain version, e.g. ``go1.24.3``, and the
   DefaultGODEBUG the module's go line implies), .NET if it is an apphost
   (``app`` next to ``app.runtimeconfig.json`` or ``app.dll``).

Reads are bounded: 512 bytes for the first line, the ELF section headers and
at most 1 MiB of ``.go.buildinfo`` (never a whole binary). Anything unreadable
or odd means "runtime unknown" plus a note, never an exception (fail
open). Only ``os`` is imported (not even ``re``, ~7 ms):
this runs on every container start.
"""
from __future__ import annotations

import os

from cgroupsize.files import open_regular, read_text
from cgroupsize.launch import resolve  # the file exec will run: PATH from the new env
from cgroupsize.model import Record
from cgroupsize.units import leading_numbers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Mapping

HEAD_BYTES = 512  # a #! line longer than this is not run by the kernel either (BINPRM_BUF_SIZE 256)

# Names of the runtimes' own executables: flags can go on their command line.
_DIRECT = {"java": "jvm", "node": "node", "nodejs": "node", "dotnet": "dotnet"}
# ... and those followed by a version: python3, python3.12, pypy3, ruby3.3
_VERSIONED = (("python", "python"), ("pypy", "python"), ("ruby", "ruby"))

# Launchers whose name says what they run (their own interpreter is the runtime).
LAUNCHERS = {
    "npm": "node", "npx": "node", "yarn": "node", "yarnpkg": "node", "pnpm": "node", "pnpx": "node",
    "corepack": "node", "pm2": "node", "pm2-runtime": "node", "pm2-docker": "node",
    "gunicorn": "python", "uvicorn": "python",
    "puma": "ruby", "unicorn": "ruby", "unicorn_rails": "ruby", "bundle": "ruby", "bundler": "ruby",
    "rails": "ruby", "rake": "ruby", "rackup": "ruby",
}

# Multi-process servers that take their worker count from WEB_CONCURRENCY.
SERVERS = {"gunicorn": "python", "uvicorn": "python", "puma": "ruby", "unicorn": "ruby",
           "unicorn_rails": "ruby"}

# python options that take the next argument as their value (python --help)
_PY_VALUE_OPTS = {"-W", "-X", "--check-hash-based-pycs"}
_RUBY_VALUE_OPTS = {"-I", "-r", "-C", "-E", "-e", "-x"}


class Target(Record):
    """What identification found out about the command.

    ``how`` is ``"direct"`` when argv[0] is the runtime's own executable (so
    flags can go right after it), ``"script"`` when it is a script or
    launcher the runtime interprets (settings must travel in the
    environment), ``"binary"`` for a native program (Go, .NET apphost).
    ``interp_args`` are the options a ``#!`` line passes to the interpreter
    (user settings too); ``server`` names a WEB_CONCURRENCY server;
    ``go_version`` is ``(major, minor)`` of the toolchain a Go binary was
    built with (``(1, 17)`` means "1.17 or older": the pre-1.18 format);
    ``go_godebug`` the DefaultGODEBUG recorded in it; ``java_version`` is
    ``(feature, update)`` from the JDK's ``release`` file (``(8, 181)``,
    ``(17, 15)``) when it can be found.
    """

    __slots__ = ("runtime", "how", "name", "path", "interp_args", "server", "go_version", "go_godebug",
                 "java_version", "notes")
    DEFAULTS = {"name": "", "interp_args": list, "go_godebug": "", "notes": list}
    runtime: str | None
    how: str | None
    name: str
    path: str | None
    interp_args: list[str]
    server: str | None
    go_version: tuple[int, int] | None
    go_godebug: str
    java_version: tuple[int, int] | None
    notes: list[str]


def identify(argv: list[str], env: Mapping[str, str], forced: str = "auto") -> Target:
    """The runtime ``argv`` starts; ``forced`` is the ``runtime`` setting (``auto``, a name, ``none``)."""
    name = os.path.basename(argv[0]) if argv else ""
    target = Target(name=name)
    if forced == "none":
        target.notes.append("runtime: none (CGROUPSIZE_RUNTIME/--runtime): generic variables only")
        return target
    try:
        _by_name(target, argv) or _by_file(target, argv, env)
    except Exception as exc:  # a bug or an odd file must never block the start (principle 1)
        target.runtime = target.how = None
        target.notes.append(f"could not identify the runtime of {name!r} ({type(exc).__name__}); "
                            "treated as unknown")
    if forced not in (None, "", "auto"):
        if target.runtime != forced:
            target.how = "direct" if direct_runtime(name) == forced else "script"
            target.runtime = forced
            target.notes = [n for n in target.notes if not n.startswith("runtime unknown")]
            target.notes.append(f"runtime: {forced} (set by CGROUPSIZE_RUNTIME/--runtime)")
        else:
            target.notes.append(f"runtime: {forced} (set by CGROUPSIZE_RUNTIME/--runtime; "
                                "identification agrees)")
    if target.runtime == "jvm":
        try:
            target.java_version = java_version(argv, env, target.how)
        except Exception:  # the version only refines the plan; never block on it
            target.java_version = None
    return target


def direct_runtime(name: str) -> str | None:
    """The runtime whose own executable is called ``name``, or None.

    ``java``, ``node``/``nodejs``, ``dotnet``; ``python``/``pypy``/``ruby``
    with an optional version (``python3.12``; Python also with an ABI letter,
    ``python3.7m``).
    """
    if name in _DIRECT:
        return _DIRECT[name]
    for prefix, runtime in _VERSIONED:
        if name.startswith(prefix):
            rest = name[len(prefix):]
            if runtime == "python" and rest[-1:] in ("d", "m", "u"):
                rest = rest[:-1]
            if not rest or all(part.isdigit() and part.isascii() for part in rest.split(".")):
                return runtime
    return None


def _by_name(target: Target, argv: list[str]) -> bool:
    name = target.name
    runtime = direct_runtime(name)
    if runtime is not None:
        target.runtime, target.how = runtime, "direct"
        target.notes.append(f"runtime: {runtime} ({name} is its executable)")
        if runtime == "python":
            target.server = _python_server(argv[1:])
        elif runtime == "ruby":
            target.server = _ruby_server(argv[1:])
        return True
    runtime = LAUNCHERS.get(name)
    if runtime is not None:
        target.runtime, target.how = runtime, "script"
        target.server = _server_from(name, argv[1:])
        target.notes.append(f"runtime: {runtime} ({name} is a {runtime} launcher)")
        return True
    return False


def _server_from(name: str, args: list[str]) -> str | None:
    """The WEB_CONCURRENCY server a launcher named ``name`` starts with ``args``, or None."""
    if name in SERVERS:
        return name
    if name in ("bundle", "bundler") and args[:1] == ["exec"]:
        return _server_from(os.path.basename(args[1]), args[2:]) if len(args) > 1 else None
    if name == "rails":
        # `rails server` / `rails s` runs puma, the default Rails server since 5.0
        return "puma" if args[:1] in (["server"], ["s"]) else None
    return None


def _python_server(args: list[str]) -> str | None:
    """``python [opts] -m gunicorn`` or ``python [opts] /path/gunicorn`` -> its name."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-m" and i + 1 < len(args):
            mod = args[i + 1]
            return mod if mod in SERVERS and SERVERS[mod] == "python" else None
        if a.startswith("-m") and len(a) > 2:
            mod = a[2:]
            return mod if SERVERS.get(mod) == "python" else None
        if a in ("-c", "-") or a.startswith("-c"):
            return None
        if a in _PY_VALUE_OPTS:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        base = os.path.basename(a)
        return base if SERVERS.get(base) == "python" else None
    return None


def _ruby_server(args: list[str]) -> str | None:
    """``ruby [opts] [-S] puma|bin/rails server|/path/bundle exec puma`` -> the server."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-S":
            i += 1
            continue
        if a in ("-e",):
            return None
        if a in _RUBY_VALUE_OPTS:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        return _server_from(os.path.basename(a), args[i + 1:])
    return None


def java_version(argv: list[str], env: Mapping[str, str], how: str | None) -> tuple[int, int] | None:
    """``(feature, update)`` of the JDK that will run, from its ``release`` file, or None.

    ``java`` run directly: the ``release`` file two levels above the real
    path of the launcher (``$JDK/bin/java``); a script: ``$JAVA_HOME/release``.
    """
    home = None
    if how == "direct":
        path = resolve(argv[0], env)
        if path:
            home = os.path.dirname(os.path.dirname(os.path.realpath(path)))
    if home is None and env.get("JAVA_HOME"):
        home = env["JAVA_HOME"]
    if not home:
        return None
    text = read_text(os.path.join(home, "release"), 64 << 10)
    for line in (text or "").splitlines():
        if line.startswith("JAVA_VERSION="):
            value = line[13:].strip().strip('"')
            parts = leading_numbers(value.replace("_", "."), ".")
            if not parts:
                return None
            if parts[0] == 1 and len(parts) >= 2:  # 1.8.0_181
                return parts[1], parts[3] if len(parts) > 3 else 0
            return parts[0], parts[2] if len(parts) > 2 else 0
    return None


# -- the file argv[0] runs -------------------------------------------------------


def _by_file(target: Target, argv: list[str], env: Mapping[str, str]) -> bool:
    name = target.name
    if not name:
        target.notes.append("runtime unknown: empty command")
        return False
    path = resolve(argv[0], env)
    if path is None:
        target.notes.append(f"runtime unknown: {name} is not on PATH")
        return False
    target.path = path
    try:
        f = open_regular(path)
        if f is None:
            target.notes.append(f"runtime unknown: {path} is not a regular file")
            return False
        with f:
            head = f.read(HEAD_BYTES)
            if head.startswith(b"#!"):
                return _by_shebang(target, head, argv)
            if head.startswith(b"\x7fELF"):
                return _by_elf(target, f, path)
    except OSError as exc:
        target.notes.append(f"runtime unknown: cannot read {path} ({exc.strerror or type(exc).__name__})")
        return False
    target.notes.append(f"runtime unknown: {path} is neither a #! script nor an ELF binary")
    return False


def parse_shebang(head: bytes) -> tuple[str, list[str]] | None:
    """``(interpreter name, [its arguments])`` from a ``#!`` line, ``env`` resolved; None if odd.

    ``#!/usr/bin/env -S node --max-old-space-size=100`` -> ``("node",
    ["--max-old-space-size=100"])``; ``#!/usr/bin/env python3`` ->
    ``("python3", [])``; ``#!/usr/bin/ruby -w`` -> ``("ruby", ["-w"])``.
    Without ``-S`` the kernel hands the rest of the line to the interpreter
    as one argument; it is split here all the same, to see what it names.
    """
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    words = line.split()
    if not words:
        return None
    interp, args = os.path.basename(words[0]), words[1:]
    if interp == "env":
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("-S", "--split-string"):
                i += 1
            elif a.startswith("-S") and len(a) > 2:  # -Snode --flags
                args[i] = a[2:]
            elif a in ("-u", "--unset", "-C", "--chdir"):
                i += 2
            elif a.startswith("-") or ("=" in a and not a.startswith("/")):
                i += 1  # env options (-i, --ignore-environment) and VAR=value assignments
            else:
                break
        if i >= len(args):
            return None
        interp, args = os.path.basename(args[i]), args[i + 1:]
    return interp, args


def _by_shebang(target: Target, head: bytes, argv: list[str]) -> bool:
    parsed = parse_shebang(head)
    if parsed is None:
        target.notes.append(f"runtime unknown: {target.path} has an empty #! line")
        return False
    interp, args = parsed
    runtime = direct_runtime(interp)
    if runtime is None:
        target.notes.append(f"runtime unknown: {target.name} is a {interp} script; say what it starts "
                            "with CGROUPSIZE_RUNTIME or --runtime")
        return False
    target.runtime, target.how = runtime, "script"
    target.interp_args = args
    target.server = _server_from(target.name, argv[1:])
    target.notes.append(f"runtime: {runtime} ({target.name} is a {interp} script)")
    return True


def _by_elf(target: Target, f: BinaryIO, path: str) -> bool:
    from cgroupsize import binaries  # only for native programs

    native = binaries.inspect_elf(f, path, target.name)
    target.notes.append(native.note)
    if native.runtime is None:
        return False
    target.runtime, target.how = native.runtime, "binary"
    target.go_version, target.go_godebug = native.go_version, native.go_godebug
    return True
